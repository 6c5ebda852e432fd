package dev.switchboard.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.switchboard.SwitchboardNode;
import dev.switchboard.testing.TestNodes;
import dev.switchboard.testing.WsClient;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(VertxExtension.class)
class ClusterRoutingTest {

  static List<SwitchboardNode> nodes;

  @BeforeAll
  static void start() {
    nodes = TestNodes.cluster(3);
  }

  @AfterAll
  static void stop() {
    TestNodes.closeAll(nodes);
  }

  @Test
  void clientBroadcastOnOneNodeReachesSubscribersOnTheOthers(Vertx vertx) {
    WsClient a = WsClient.authed(vertx, nodes.get(0).port(), TestNodes.token("alice", "lobby")).await();
    WsClient b = WsClient.authed(vertx, nodes.get(1).port(), TestNodes.token("bob", "lobby")).await();
    WsClient c = WsClient.authed(vertx, nodes.get(2).port(), TestNodes.token("carol", "lobby")).await();
    for (WsClient w : List.of(a, b, c)) {
      JsonObject ack = w.request(1, new JsonObject().put("type", "subscribe").put("channel", "room:lobby"), 10_000).await();
      assertEquals("ack", ack.getString("type"));
    }
    JsonObject ack = a.request(2, new JsonObject().put("type", "broadcast").put("channel", "room:lobby")
        .put("message", new JsonObject().put("n", 1)), 10_000).await();
    assertEquals("ack", ack.getString("type"));
    for (WsClient w : List.of(a, b, c)) {
      JsonObject m = w.next("message", 10_000).await();
      assertEquals(1, m.getJsonObject("message").getInteger("n"));
      assertEquals("alice", m.getString("from_user"));
    }
    JsonObject presence = b.request(3, new JsonObject().put("type", "presence").put("channel", "room:lobby"), 10_000).await();
    assertEquals(3, presence.getInteger("count"));
  }
}
