package dev.switchboard.hardening;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.switchboard.SwitchboardNode;
import dev.switchboard.bus.Addresses;
import dev.switchboard.hardening.SlowConsumerTest.SlowSocket;
import dev.switchboard.testing.TestNodes;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.Timeout;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * SPEC §5: a publish to a {@code user:} channel that reaches no session is reported on
 * {@code switchboard.undelivered}. Once a client has sent its close frame, nothing written to it arrives
 * any more (the node's answering close frame goes first). Its session used to stay the user's session until
 * the socket closed, so deliveries skipped it silently and the router, seeing a session, reported nothing.
 * This client stops reading and leaves megabytes queued, so the node's answer cannot leave and the socket
 * stays open: the window that is normally milliseconds long is held open for the test.
 */
@ExtendWith(VertxExtension.class)
class PeerCloseTest {

  private static final String PAD = "x".repeat(60_000);

  private SwitchboardNode node;
  private SlowSocket carol;

  @AfterEach
  void tearDown() {
    if (carol != null) {
      carol.close();
    }
    if (node != null) {
      node.close().await();
    }
  }

  @Test
  @Timeout(value = 30, timeUnit = TimeUnit.SECONDS)
  void aUserWhoseOnlySessionSentItsCloseFrameIsReportedAsHavingNone(Vertx vertx, VertxTestContext ctx)
      throws Exception {
    // A queue far over what the kernel buffers hold (4 MiB on loopback here), so no 4009 ends it first.
    node = TestNodes.standalone(new JsonObject().put("session", new JsonObject()
        .put("outbound_queue_bytes", 64 * 1024 * 1024).put("heartbeat", "10s").put("idle_timeout", "60s")));
    carol = SlowSocket.connect(node.port(), TestNodes.token("carol", "x"), "room:x");
    for (int i = 0; i < 200; i++) { // 12 MB
      node.vertx().eventBus().request(Addresses.PUBLISH, new JsonObject().put("channel", "user:carol")
          .put("message", new JsonObject().put("seq", i).put("pad", PAD))).await();
    }
    carol.sendClose(1000);

    long giveUp = System.currentTimeMillis() + 5_000;
    while (!node.context().sessions().usersIn("user:carol").isEmpty()) {
      if (System.currentTimeMillis() > giveUp) {
        ctx.failNow(new AssertionError("5 s after her close frame, carol's session still counts as her session"));
        return;
      }
      vertx.timer(20).await();
    }
    JsonObject last = new JsonObject().put("text", "after the close frame");
    node.vertx().eventBus().<JsonObject>consumer(Addresses.UNDELIVERED, m -> ctx.verify(() -> {
      if (last.equals(m.body().getJsonObject("message"))) {
        assertEquals("no_session", m.body().getString("reason"));
        ctx.completeNow();
      }
    })).completion().await();
    node.vertx().eventBus().request(Addresses.PUBLISH, new JsonObject().put("channel", "user:carol")
        .put("message", last)).await();
  }
}
