package dev.switchboard.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Map;
import org.junit.jupiter.api.Test;

/** The progress line shows node CPU only for intervals that measured it. */
class ProgressTest {

  private static CpuSampler.Usage nodeUsed(long nodeNanosInOneSecond) {
    CpuSampler.Sample a = new CpuSampler.Sample(0, 0, 0, new long[5], 0, Map.of(), 0, 0, 0);
    CpuSampler.Sample b = new CpuSampler.Sample(1_000_000_000L, nodeNanosInOneSecond, 0, new long[5], 0, Map.of(), 0, 0, 0);
    return CpuSampler.between(a, b);
  }

  @Test
  void theIntervalInWhichTheServersAppearedShowsNoNodeCpu() {
    // the servers' whole start-up, counted as one second
    assertEquals("-", Progress.nodeCores(nodeUsed(22_020_000_000L), false));
  }

  @Test
  void laterIntervalsShowIt() {
    assertEquals("0.75", Progress.nodeCores(nodeUsed(750_000_000L), true));
    assertEquals("-", Progress.nodeCores(nodeUsed(-1_000_000_000L), true), "a node that exited");
  }
}
