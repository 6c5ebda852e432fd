package dev.switchboard.hardening;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.SwitchboardNode;
import dev.switchboard.bus.Addresses;
import dev.switchboard.gateway.Session;
import dev.switchboard.hardening.SlowConsumerTest.SlowSocket;
import dev.switchboard.testing.LogCapture;
import dev.switchboard.testing.TestNodes;
import io.micrometer.core.instrument.Counter;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.Timeout;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * SPEC §6: a slow consumer is closed with 4009 and counted. A client that never reads again cannot take the
 * close frame, queued behind the full outbound queue (1 MiB), and Vert.x starts its closing timeout only once
 * that frame is written: without the gateway's close grace the connection, and with it the client's per-IP
 * and per-user slots, stayed open until the HTTP idle timeout (65 s by default), or on a node without one for
 * good. With it the socket is cut one heartbeat interval (at most 10 s) after the close, on either transport;
 * the disconnect counter with code 4009 proves the socket closed.
 */
@ExtendWith(VertxExtension.class)
class StuckConsumerDisconnectTest {

  private static final String CHANNEL = "room:feed";
  private static final String PAD = "x".repeat(10_000);
  /** Far more than the queue bound and the kernel buffers together; the loop stops at the 4009. */
  private static final int MAX_MESSAGES = 2_000;

  private SwitchboardNode node;
  private SlowSocket stuck;
  /** Detached here too, so a failed run does not leave it on the logger for the rest of the JVM. */
  private LogCapture lines;

  @AfterEach
  void tearDown() {
    if (lines != null) {
      lines.close();
    }
    if (stuck != null) {
      stuck.close();
    }
    if (node != null) {
      node.close().await();
    }
  }

  @Test
  @Timeout(value = 30, timeUnit = TimeUnit.SECONDS)
  void aConsumerThatNeverReadsAgainIsDisconnectedAndCounted(Vertx vertx, VertxTestContext ctx) throws Exception {
    // Default queue and idle timeout; the grace is the heartbeat interval, 1 s here.
    node = TestNodes.standalone(new JsonObject().put("session", new JsonObject()
        .put("heartbeat", "1s").put("idle_timeout", "60s")));
    stuck = SlowSocket.connect(node.port(), TestNodes.token("stuck", "feed"), CHANNEL);

    AtomicBoolean closedWith4009 = new AtomicBoolean();
    node.vertx().eventBus().<JsonObject>consumer(Addresses.UNDELIVERED, m -> {
      if ("slow_consumer".equals(m.body().getString("reason"))) {
        closedWith4009.set(true);
      }
    }).completion().await();

    // The cut is logged with the code the node sent. Working that code out once threw on the still-open
    // socket (Vert.x's closeStatusCode()), which also skipped the rest of that tick's sessions.
    lines = LogCapture.of(Session.class);

    publishUntil(closedWith4009, 0, ctx);
    vertx.setPeriodic(50, t -> {
      Counter cut = node.context().registry().find("switchboard.disconnects").tag("code", "4009").counter();
      if (cut != null && cut.count() == 1) {
        vertx.cancelTimer(t);
        lines.close();
        ctx.verify(() -> {
          List<String> forced = lines.messages().stream().filter(m -> m.startsWith("event=close_forced")).toList();
          assertEquals(1, forced.size(), "one close_forced line: " + forced);
          assertTrue(forced.get(0).contains(" code=4009 "), forced.get(0));
        });
        ctx.completeNow();
      }
    });
  }

  /** One publish at a time, so none is outstanding once the session has been closed. */
  private void publishUntil(AtomicBoolean closed, int seq, VertxTestContext ctx) {
    if (closed.get()) {
      return;
    }
    if (seq == MAX_MESSAGES) {
      ctx.failNow("no 4009 after " + MAX_MESSAGES + " messages of 10 kB to a client that reads nothing");
      return;
    }
    node.vertx().eventBus().request(Addresses.PUBLISH, new JsonObject().put("channel", CHANNEL)
            .put("message", new JsonObject().put("seq", seq).put("pad", PAD)))
        .onComplete(ctx.succeeding(r -> publishUntil(closed, seq + 1, ctx)));
  }
}
