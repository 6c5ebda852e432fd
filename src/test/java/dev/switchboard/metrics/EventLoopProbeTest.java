package dev.switchboard.metrics;

import dev.switchboard.SwitchboardNode;
import dev.switchboard.testing.TestNodes;
import io.vertx.core.Vertx;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The lag probe's promise (README, metrics): a loop stalled for half a second or more shows in
 * {@code switchboard_event_loop_lag_seconds} within a second. The probe interval was raised from 100 to 500 ms
 * to spare idle loops the wake-ups; this keeps it from being raised so far that such a stall goes unseen.
 */
@ExtendWith(VertxExtension.class)
class EventLoopProbeTest {

  private SwitchboardNode node;

  @AfterEach
  void stop() {
    TestNodes.closeAll(List.of(node));
  }

  @Test
  void aStalledLoopShowsInItsLagGauge(Vertx vertx, VertxTestContext ctx) {
    node = TestNodes.standalone();
    // With probes 500 ms apart one falls due in the stall's first 500 ms, whatever the phase, and runs at
    // least 400 ms late; with probes a second apart, four runs in ten would see less than 300 ms.
    long stallMs = 900;
    node.vertx().getOrCreateContext().runOnContext(v -> {
      long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(stallMs);
      while (System.nanoTime() < end) {
        Thread.onSpinWait(); // the stall under test: this loop runs nothing else meanwhile
      }
    });
    long deadline = System.currentTimeMillis() + 5_000;
    vertx.setPeriodic(50, id -> {
      double worst = TestNodes.worstLoopLagSeconds(node);
      if (worst >= 0.3) {
        vertx.cancelTimer(id);
        ctx.completeNow();
      } else if (System.currentTimeMillis() > deadline) {
        vertx.cancelTimer(id);
        ctx.failNow("a " + stallMs + " ms stall never showed in the lag gauge (worst " + worst + " s)");
      }
    });
  }
}
