package dev.switchboard.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A heartbeat of N seconds pings at every N-th tick of the gateway's once-a-second timer, however late each tick
 * runs. Measured to the millisecond, a tick 1 ms late followed by one on time made the ping wait a whole tick more:
 * with {@code "heartbeat":1} announced, pings came at 1 or 2 s (11 or 12 in 15 s on a quiet machine).
 */
class HeartbeatDueTest {

  @Test
  void aPingGoesOutAtEveryNthTickWhateverEachTicksLateness() {
    // The tick times as seen by the timer: due every 1000 ms, each run 0 to 3 ms late.
    long[] late = {0, 3, 1, 0, 2, 2, 0, 3, 0, 1, 1, 0};
    for (long heartbeatSeconds : new long[] {1, 2, 3}) {
      long lastPing = 0;
      List<Long> pings = new ArrayList<>();
      for (int k = 1; k < late.length; k++) {
        long now = k * GatewayVerticle.TICK_MS + late[k];
        if (Session.heartbeatDue(now, lastPing, heartbeatSeconds * 1000)) {
          lastPing = now;
          pings.add((long) k);
        }
      }
      List<Long> expected = new ArrayList<>();
      for (long k = heartbeatSeconds; k < late.length; k += heartbeatSeconds) {
        expected.add(k);
      }
      assertEquals(expected, pings, "ticks that ping with a heartbeat of " + heartbeatSeconds + " s");
    }
  }
}
