package dev.switchboard.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.switchboard.SwitchboardNode;
import dev.switchboard.bus.Addresses;
import dev.switchboard.gateway.ChannelFeeds;
import dev.switchboard.testing.LogCapture;
import dev.switchboard.testing.TestNodes;
import dev.switchboard.testing.WsClient;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.junit5.Timeout;
import io.vertx.junit5.VertxExtension;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A subscription is acked once every member has proven it routes the channel here (a probe it publishes
 * arrives). When the channel's last subscriber leaves before that, its consumer is gone and no probe can
 * arrive: the proof used to go on retrying until its 3 s deadline and then log {@code WARN
 * subscribe_unproven} for a subscription nobody was waiting for any more, which a churn of short
 * connections turned into a stream of false warnings (found by the two-node soak). Here the probes are held
 * back, so the proof is still running when the session leaves.
 */
@ExtendWith(VertxExtension.class)
class AbandonedProofTest {

  private List<SwitchboardNode> nodes;

  @AfterEach
  void tearDown() {
    if (nodes != null) {
      TestNodes.closeAll(nodes);
    }
  }

  @Test
  @Timeout(value = 60, timeUnit = TimeUnit.SECONDS)
  void aProofWhoseChannelWasDroppedEndsWithoutAWarning(Vertx vertx) {
    nodes = TestNodes.cluster(1);
    SwitchboardNode node = nodes.get(0);
    String address = Addresses.channel("user:dora");
    Promise<Void> probeHeld = Promise.promise();
    node.vertx().eventBus().addOutboundInterceptor(ctx -> {
      if (address.equals(ctx.message().address()) && ctx.message().headers().contains(ProbeResponder.HEADER)) {
        probeHeld.tryComplete();
        return; // never delivered: the proof cannot complete while dora is connected
      }
      ctx.next();
    });
    try (LogCapture warnings = LogCapture.of(ChannelFeeds.class)) {
      WsClient dora = WsClient.connect(vertx, node.port(), "token=" + TestNodes.token("dora")).await();
      probeHeld.future().await();
      dora.close().await();
      // Past the proof's 3 s deadline: the warning, if any, has been logged by then.
      vertx.timer(3_500).await();
      assertEquals(List.of(), warnings.containing("subscribe_unproven"), "logged: " + warnings.messages());
    }
  }
}
