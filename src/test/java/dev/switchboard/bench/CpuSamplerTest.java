package dev.switchboard.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;

/** How a phase's CPU is split between the node, the bench, other processes and the hypervisor. */
class CpuSamplerTest {

  /**
   * One second in which the node used 0.5 cores and the bench 0.2, and the machine was busy {@code busy} and
   * lost {@code steal} jiffies, at 100 jiffies a second on every core.
   */
  private static CpuSampler.Usage oneSecond(long busy, long steal) {
    long total = 100L * CpuSampler.cores();
    CpuSampler.Sample start = new CpuSampler.Sample(0, 0, 0, new long[5], 0, Map.of(), 0, 0, 0);
    CpuSampler.Sample end = new CpuSampler.Sample(1_000_000_000L, 500_000_000L, 0, new long[5], 200_000_000L, Map.of(),
        busy, total, steal);
    return CpuSampler.between(start, end);
  }

  @Test
  void stealIsReportedApartFromOtherLoad() {
    CpuSampler.Usage u = oneSecond(110, 30);
    assertEquals(0.5, u.nodeCores(), 1e-9);
    assertEquals(0.2, u.benchCores(), 1e-9);
    assertEquals(1.1, u.machineCores(), 1e-9);
    assertEquals(0.3, u.stealCores(), 1e-9);
    assertEquals(0.1, u.otherCores(), 1e-9);
    assertTrue(u.lostCoresToHost());
  }

  @Test
  void aMachineNobodyStoleFromSaysNothing() {
    CpuSampler.Usage u = oneSecond(70, 0);
    assertEquals(0.0, u.stealCores(), 1e-9);
    assertEquals(0.0, u.otherCores(), 1e-9);
    assertFalse(u.lostCoresToHost());
  }
}
