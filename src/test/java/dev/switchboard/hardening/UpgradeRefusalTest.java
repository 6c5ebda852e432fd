package dev.switchboard.hardening;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.SwitchboardNode;
import dev.switchboard.testing.TestNodes;
import dev.switchboard.testing.WsClient;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Every upgrade the node refuses with an HTTP status, not only a forbidden Origin ({@link TlsAndOriginTest}),
 * answers {@code Connection: close} and then closes the connection: the wrong path (404), a node at
 * {@code server.max_connections} (503) and a draining node (503). A client has nothing more to send on it, and
 * one that waits for the server to end the connection must not wait for the HTTP idle timeout. A 503 says when to
 * try again ({@code Retry-After: 1}); the 404 does not.
 */
class UpgradeRefusalTest {

  static final long END_WITHIN_MS = 3_000;

  Vertx vertx;
  SwitchboardNode node;

  @BeforeEach
  void start() {
    vertx = Vertx.vertx();
    node = TestNodes.standalone(new JsonObject().put("server", new JsonObject().put("max_connections", 1)));
  }

  @AfterEach
  void stop() {
    node.close().await();
    vertx.close().await();
  }

  @Test
  void anUpgradeToAnotherPathGets404AndTheConnectionEnds() throws Exception {
    RefusedUpgrade r = RefusedUpgrade.plain(node.port(), "/not-the-ws-path", Map.of(), END_WITHIN_MS);
    assertEquals(404, r.status(), r.toString());
    assertNull(r.header("Retry-After"), "no use trying that path again: " + r);
    assertRefusedAndClosed(r);
  }

  @Test
  void anUpgradeOverMaxConnectionsGets503AndTheConnectionEnds() throws Exception {
    WsClient held = WsClient.authed(vertx, node.port(), TestNodes.token("holder")).await();
    try {
      RefusedUpgrade r = RefusedUpgrade.plain(node.port(), "/ws?token=" + TestNodes.token("late"), Map.of(),
          END_WITHIN_MS);
      assertEquals(503, r.status(), r.toString());
      assertEquals("1", r.header("Retry-After"), r.toString());
      assertRefusedAndClosed(r);
    } finally {
      held.close().await();
    }
  }

  @Test
  void anUpgradeToADrainingNodeGets503AndTheConnectionEnds() throws Exception {
    assertTrue(node.context().startDraining());
    RefusedUpgrade r = RefusedUpgrade.plain(node.port(), "/ws?token=" + TestNodes.token("late"), Map.of(),
        END_WITHIN_MS);
    assertEquals(503, r.status(), r.toString());
    assertEquals("1", r.header("Retry-After"), r.toString());
    assertRefusedAndClosed(r);
  }

  private static void assertRefusedAndClosed(RefusedUpgrade r) {
    assertEquals("close", r.header("Connection"), r.toString());
    assertTrue(r.closed(), "the server must close the connection after refusing the upgrade: " + r);
  }
}
