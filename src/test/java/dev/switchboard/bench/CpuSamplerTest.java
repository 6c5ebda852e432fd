package dev.switchboard.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;

/** How a phase's CPU is split between the node, the bench, other processes and the hypervisor. */
class CpuSamplerTest {

  private static CpuSampler.Sample sample(long wallNanos, long nodeNanos, long benchNanos, long busy, long total,
                                          long steal) {
    return new CpuSampler.Sample(wallNanos, nodeNanos, 0, new long[5], benchNanos, Map.of(), busy, total, steal);
  }

  @Test
  void stealIsReportedApartFromOtherLoad() {
    // One second on every core at 100 jiffies a second: the machine was busy 1.1 cores, 0.3 of them stolen.
    long total = 100L * CpuSampler.cores();
    CpuSampler.Usage u = CpuSampler.between(sample(0, 0, 0, 0, 0, 0),
        sample(1_000_000_000L, 500_000_000L, 200_000_000L, 110, total, 30));
    assertEquals(0.5, u.nodeCores(), 1e-9);
    assertEquals(0.2, u.benchCores(), 1e-9);
    assertEquals(1.1, u.machineCores(), 1e-9);
    assertEquals(0.3, u.stealCores(), 1e-9);
    assertEquals(0.1, u.otherCores(), 1e-9);
    assertTrue(u.lostCoresToHost());
  }

  @Test
  void aMachineNobodyStoleFromSaysNothing() {
    long total = 100L * CpuSampler.cores();
    CpuSampler.Usage u = CpuSampler.between(sample(0, 0, 0, 0, 0, 0),
        sample(1_000_000_000L, 500_000_000L, 200_000_000L, 70, total, 0));
    assertEquals(0.0, u.stealCores(), 1e-9);
    assertEquals(0.0, u.otherCores(), 1e-9);
    assertFalse(u.lostCoresToHost());
  }
}
