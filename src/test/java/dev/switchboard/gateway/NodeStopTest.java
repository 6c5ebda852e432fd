package dev.switchboard.gateway;

import static dev.switchboard.gateway.Frames.WAIT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.SwitchboardNode;
import dev.switchboard.testing.LogCapture;
import dev.switchboard.testing.RawWsClient;
import dev.switchboard.testing.TestNodes;
import dev.switchboard.testing.WsClient;
import io.vertx.core.Vertx;
import io.vertx.junit5.VertxExtension;
import java.io.IOException;
import java.net.SocketTimeoutException;
import java.util.List;
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
