package dev.switchboard.bench;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** "steady: deliveries out of order" counts the steady phase, the one the report labels it with. */
class LoadClientOrderTest {

  @Test
  void anOvertakingInTheSteadyPhaseCounts() {
    assertTrue(LoadClient.countsAsOutOfOrder(LoadClient.PHASE_RATE, 41, 46));
    assertTrue(LoadClient.countsAsOutOfOrder(LoadClient.PHASE_RATE, 46, 46), "a duplicate");
    assertFalse(LoadClient.countsAsOutOfOrder(LoadClient.PHASE_RATE, 47, 46));
  }

  @Test
  void warmUpAndSaturationWithSeveralPublishesInFlightDoNot() {
    assertFalse(LoadClient.countsAsOutOfOrder(LoadClient.PHASE_WARMUP, 41, 46));
    assertFalse(LoadClient.countsAsOutOfOrder(LoadClient.PHASE_SATURATION, 41, 46));
  }
}
