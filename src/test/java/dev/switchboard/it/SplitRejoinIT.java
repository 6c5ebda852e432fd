package dev.switchboard.it;

import static dev.switchboard.cluster.Tally.waitFor;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.testing.TestNodes;
import dev.switchboard.testing.WsClient;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A node frozen past the heartbeat timeout (SIGSTOP, as a long GC or VM pause) wakes up as a cluster of its
 * own while the others publish on. Hazelcast merges it back within seconds (merge checks every 10 s), and its
 * sessions are then told to reconnect (1001), so a client recovers with {@code since} what it missed instead
 * of never learning there was a gap.
 */
@ExtendWith(VertxExtension.class)
class SplitRejoinIT {

  static final String CHANNEL = "room:split";

  @Test
  void aNodeThatWasCutOffSendsItsSessionsToRecoverOnceItRejoins(Vertx vertx) throws Exception {
    Path conf = Files.createTempFile("switchboard-split-", ".json");
    Files.writeString(conf, new JsonObject().put("channels", new JsonObject().put("namespaces", new JsonObject()
        .put("room", new JsonObject().put("subscribe", "claim").put("publish", "members").put("presence", true)
            .put("history_size", 1000).put("history_ttl", "10m")))).encode());
    List<JarNode> nodes = JarNode.cluster(3, Map.of("SWITCHBOARD_CONF", conf.toString(), "SWITCHBOARD_DRAIN_PERIOD", "1s"));
    JarNode publisher = nodes.get(0);
    JarNode frozen = nodes.get(2);
    try {
      WsClient c = WsClient.authed(vertx, frozen.port, TestNodes.token("sam", "split")).await();
      assertEquals("ack", c.request("s", new JsonObject().put("type", "subscribe").put("channel", CHANNEL), 10_000)
          .await().getString("type"));
      publish(publisher, "before");
      c.next("message", 10_000).await();

      frozen.signal("STOP");
      waitFor(() -> members(publisher) == 2, 40_000, () -> "Hazelcast on the others drops the frozen node");
      for (int i = 0; i < 3; i++) {
        publish(publisher, "during-" + i);
      }
      frozen.signal("CONT");

      // Merged back: the session is sent to reconnect (close grace and merge checks included).
      assertEquals((short) 1001, c.closed(90_000).await(), () -> "never told to reconnect:\n" + frozen.tail());
      assertTrue(c.closeReason().contains("rejoined the cluster"), c.closeReason());
      waitFor(() -> members(publisher) == 3 && FailoverIT.nodeCount(publisher) == 3, 60_000, () -> "one cluster of three again");

      // The client resumes from the last position it saw (what was in flight to the frozen node may have come).
      List<JsonObject> seen = c.received().stream().filter(f -> "message".equals(f.getString("type"))).toList();
      JsonObject last = seen.get(seen.size() - 1);
      WsClient back = WsClient.authed(vertx, publisher.port, TestNodes.token("sam", "split")).await();
      JsonObject ack = back.request("r", new JsonObject().put("type", "subscribe").put("channel", CHANNEL)
          .put("since", new JsonObject().put("offset", last.getLong("offset")).put("epoch", last.getString("epoch"))),
          10_000).await();
      assertEquals(true, ack.getBoolean("recovered"), ack::encode);
      List<Object> all = new java.util.ArrayList<>(seen.stream().map(f -> f.getValue("message")).toList());
      back.received().stream().filter(f -> "message".equals(f.getString("type"))).forEach(f -> all.add(f.getValue("message")));
      assertEquals(List.of("before", "during-0", "during-1", "during-2"), all, "every message once, in order");
      back.close().await();
    } finally {
      nodes.forEach(JarNode::close);
    }
  }

  /** Cluster members as the node's Hazelcast sees them (its readiness answer). */
  static int members(JarNode n) {
    JarNode.Answer a = n.get("/health/ready");
    return a.body() == null || !a.body().startsWith("{") ? -1 : new JsonObject(a.body()).getInteger("members", -1);
  }

  static void publish(JarNode via, String message) {
    JarNode.Answer a = via.post("/api/publish", new JsonObject().put("channel", CHANNEL).put("message", message).encode());
    assertEquals(200, a.status(), a::toString);
  }
}
