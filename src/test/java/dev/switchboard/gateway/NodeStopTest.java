package dev.switchboard.gateway;

import static dev.switchboard.gateway.Frames.WAIT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.SwitchboardNode;
import dev.switchboard.bus.Addresses;
import dev.switchboard.protocol.CloseCode;
import dev.switchboard.testing.LogCapture;
import dev.switchboard.testing.RawWsClient;
import dev.switchboard.testing.TestNodes;
import dev.switchboard.testing.WsClient;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.io.IOException;
import java.net.SocketTimeoutException;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A node that stops without a drain (its Vert.x closed) tells every session 1001, go elsewhere (SPEC §4), and
 * its stop completes only once every socket is closed: a client that answers the close frame gets the
 * handshake, one that never does is reset. Nothing is left to Vert.x's own server close, which now and then
 * stops the event loop with a WebSocket still open.
 */
@ExtendWith(VertxExtension.class)
class NodeStopTest {

  /**
   * SPEC §2: a drain closes the sessions, then the node leaves. It ends once every socket has closed, the one
   * whose peer never answers its close frame too (cut after the close grace), so each socket's cleanup (its
   * limiter release, its disconnect line) runs while the node is still whole.
   */
  @Test
  void aDrainEndsOnlyOnceEverySocketHasClosedAnsweredOrNot(Vertx vertx) throws IOException {
    SwitchboardNode node = TestNodes.standalone(new JsonObject()
        .put("drain", new JsonObject().put("period", "500ms"))
        .put("session", new JsonObject().put("heartbeat", "1s")));
    WsClient answering = WsClient.authed(vertx, node.port(), TestNodes.token("dan")).await();
    try (RawWsClient silent = RawWsClient.connect(node.port(), "/ws?token=" + TestNodes.token("dot"));
        LogCapture logs = LogCapture.of("dev.switchboard")) {
      silent.next("auth_success", WAIT);

      node.drain().await();

      assertEquals((short) 1001, answering.closed(WAIT).await());
      List<String> lines = logs.messages();
      int done = indexOf(lines, "event=drain_done");
      assertTrue(done >= 0, "no drain_done line: " + lines);
      assertTrue(lines.get(done).contains("remaining=0 closing=0"), lines.get(done));
      for (String user : List.of("dan", "dot")) {
        int gone = indexOf(lines, "event=disconnect session=", "user=" + user + " ");
        assertTrue(gone >= 0 && gone < done, user + "'s socket had not closed when the drain ended: " + lines);
      }
    }
  }

  /**
   * A drain closes the sessions it finds; an upgrade already let through (past the draining checks of the
   * handshake and the limiter) completes after that, and must be sent away too rather than left on a node that
   * is leaving. The drain is started from an event-bus interceptor as the limiter's answer goes back.
   */
  @Test
  void anUpgradeThatCompletesAfterTheDrainStartedIsSentAwayToo(Vertx vertx) throws IOException {
    SwitchboardNode node = TestNodes.standalone(new JsonObject().put("drain", new JsonObject().put("period", "30s")));
    AtomicReference<String> admitReply = new AtomicReference<>();
    node.vertx().eventBus().addOutboundInterceptor(ctx -> {
      String address = ctx.message().address();
      if (Addresses.LIMITER_ADMIT.equals(address)) {
        admitReply.set(ctx.message().replyAddress());
      } else if (address.equals(admitReply.get()) && node.context().startDraining()) {
        // The limiter has admitted the upgrade (it refuses once draining); the drain starts as its yes goes back.
        node.context().closeSessions(CloseCode.GOING_AWAY.reason());
      }
      ctx.next();
    });
    try (RawWsClient late = RawWsClient.connect(node.port(), "/ws?token=" + TestNodes.token("lou"))) {
      assertEquals(101, late.status(), "the upgrade was let through before the drain began");
      RawWsClient.Frame close = late.awaitClose(WAIT);
      assertEquals(1001, close.closeCode(), "a session that arrived as the drain began was left open");
      assertEquals(CloseCode.GOING_AWAY.reason(), close.closeReason());
    }
  }

  private static int indexOf(List<String> lines, String... parts) {
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i);
      if (java.util.Arrays.stream(parts).allMatch(line::contains)) {
        return i;
      }
    }
    return -1;
  }

  @Test
  void aStoppingNodeSays1001AndClosesEverySocketAnsweredOrNot(Vertx vertx) throws IOException {
    SwitchboardNode node = TestNodes.standalone();
    WsClient answering = WsClient.authed(vertx, node.port(), TestNodes.token("ann")).await();
    try (RawWsClient silent = RawWsClient.connect(node.port(), "/ws?token=" + TestNodes.token("sid"));
        LogCapture sessions = LogCapture.of(Session.class)) {
      silent.next("auth_success", WAIT);

      node.close().await();

      assertEquals((short) 1001, answering.closed(WAIT).await());
      RawWsClient.Frame close = silent.awaitClose(WAIT);
      assertEquals(1001, close.closeCode(), close.toString());
      assertEquals("node stopping", close.closeReason());
      // The silent client never answered: its socket was reset before the stop completed, not kept open.
      IOException end = assertThrows(IOException.class, () -> silent.read(WAIT));
      assertFalse(end instanceof SocketTimeoutException, "the socket is still open after the stop: " + end);
      List<String> cut = sessions.containing("event=close_forced");
      assertEquals(1, cut.size(), "only the client that did not answer is cut: " + cut);
      assertTrue(cut.get(0).contains("user=sid") && cut.get(0).contains("node stopping"), cut.get(0));
    }
  }
}
