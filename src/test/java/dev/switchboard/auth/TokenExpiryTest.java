package dev.switchboard.auth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.SwitchboardNode;
import dev.switchboard.testing.TestNodes;
import dev.switchboard.testing.WsClient;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * SPEC §4: a session whose token expires while connected is closed with 4010 once {@code auth.expiry_grace}
 * has passed, unless it renewed with a new {@code auth} frame for the same user. Four sessions start
 * together with tokens expiring in 2 s (grace 1 s): one never renews, one renews properly, one tries to
 * renew as somebody else, one renews with a forged token. Only the properly renewed one survives.
 */
class TokenExpiryTest {

  @Test
  void onlyAProperlyRenewedSessionOutlivesItsFirstToken() {
    Vertx vertx = Vertx.vertx();
    SwitchboardNode node = TestNodes.standalone(new JsonObject().put("auth", new JsonObject().put("expiry_grace", "1s")));
    try {
      long exp = TestKeys.now() + 2;
      WsClient idle = connect(vertx, node, "ivy", exp);
      WsClient renewed = connect(vertx, node, "rita", exp);
      WsClient impostor = connect(vertx, node, "ian", exp);
      WsClient forger = connect(vertx, node, "fred", exp);

      JsonObject ok = renewed.request("r", auth(TestNodes.token("rita")), 5_000).await();
      assertEquals("auth_success", ok.getString("type"), ok.encode());
      assertTrue(ok.getLong("expires_in") > 3000, "the renewal carries the new expiry: " + ok);
      JsonObject other = impostor.request("r", auth(TestNodes.token("somebody-else")), 5_000).await();
      assertEquals("forbidden", other.getString("code"), other.encode());
      JsonObject forged = forger.request("r", auth(TestKeys.hs256(vertx, "wrong-secret-0123456789-0123456789", new JsonObject().put("sub", "fred"))), 5_000).await();
      assertEquals("unauthorized", forged.getString("code"), forged.encode());
      assertFalse(forger.socket().isClosed(), "a failed renewal does not end an authenticated session by itself");

      // exp + grace is 3 s away; the gateway checks once a second.
      for (WsClient c : List.of(idle, impostor, forger)) {
        assertEquals((short) 4010, c.closed(8_000).await());
      }
      long closedAt = System.currentTimeMillis();
      assertTrue(closedAt >= (exp + 1) * 1000, "closed before exp + grace");

      // Well past the old expiry and its grace: the renewed session still serves.
      vertx.timer(Math.max(0, (exp + 3) * 1000 - System.currentTimeMillis())).await();
      assertFalse(renewed.socket().isClosed(), "the renewed session was closed at its old expiry");
      assertEquals("pong", renewed.request("p", new JsonObject().put("type", "ping"), 5_000).await().getString("type"));
      renewed.close().await();
    } finally {
      node.close().await();
      vertx.close().await();
    }
  }

  private static WsClient connect(Vertx vertx, SwitchboardNode node, String user, long exp) {
    String token = TestKeys.hs256(vertx, TestNodes.SECRET, new JsonObject().put("sub", user).put("exp", exp));
    WsClient c = WsClient.connect(vertx, node.port(), "token=" + token).await();
    JsonObject ok = c.next("auth_success", 5_000).await();
    assertTrue(ok.getLong("expires_in") <= 2, ok.encode());
    return c;
  }

  private static JsonObject auth(String token) {
    return new JsonObject().put("type", "auth").put("token", token);
  }
}
