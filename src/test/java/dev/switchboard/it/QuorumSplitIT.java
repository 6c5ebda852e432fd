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
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * {@link SplitRejoinIT}'s split with {@code cluster.min_nodes} 2 of 3: the frozen node wakes up as a cluster of
 * one, sees 1 of min 2 nodes and, instead of serving its side until the merge, sends its session away at once
 * with "cut off from the cluster"; the two others hold the quorum and serve throughout. The client, resumed
 * on one of them with {@code since}, has every message once, and after the merge all three are ready again.
 */
@ExtendWith(VertxExtension.class)
class QuorumSplitIT {

  static final String CHANNEL = "room:quorum";

  @Test
  void aNodeThatWakesUpAloneSendsItsSessionsToTheNodesThatHoldTheQuorum(Vertx vertx) throws Exception {
    Path conf = Files.createTempFile("switchboard-quorum-", ".json");
    Files.writeString(conf, new JsonObject().put("channels", new JsonObject().put("namespaces", new JsonObject()
        .put("room", new JsonObject().put("subscribe", "claim").put("publish", "members")
            .put("history_size", 1000).put("history_ttl", "10m")))).encode());
    List<JarNode> nodes = JarNode.cluster(3, Map.of("SWITCHBOARD_CONF", conf.toString(),
        "SWITCHBOARD_DRAIN_PERIOD", "1s", "SWITCHBOARD_CLUSTER_MIN_NODES", "2"));
    JarNode publisher = nodes.get(0);
    JarNode frozen = nodes.get(2);
    try {
      WsClient c = WsClient.authed(vertx, frozen.port, TestNodes.token("quinn", "quorum")).await();
      assertEquals("ack", c.request("s", new JsonObject().put("type", "subscribe").put("channel", CHANNEL), 10_000)
          .await().getString("type"));
      publish(publisher, "before");
      c.next("message", 10_000).await();

      frozen.signal("STOP");
      waitFor(() -> SplitRejoinIT.members(publisher) == 2, 40_000, () -> "Hazelcast on the others drops the frozen node");
      JarNode.Answer ready = publisher.get("/health/ready");
      assertEquals(200, ready.status(), () -> "2 of min 2 nodes still serve: " + ready);
      for (int i = 0; i < 3; i++) {
        publish(publisher, "during-" + i);
      }
      frozen.signal("CONT");

      // Alone, it sends the session away on its own, before any merge.
      assertEquals((short) 1001, c.closed(60_000).await(), () -> "never sent away:\n" + frozen.tail());
      assertEquals("cut off from the cluster: reconnect elsewhere", c.closeReason());
      String log = Files.readString(frozen.log);
      assertTrue(log.contains("event=quorum_lost node=n3 nodes=1 min_nodes=2"), frozen::tail);

      List<JsonObject> seen = c.received().stream().filter(f -> "message".equals(f.getString("type"))).toList();
      JsonObject last = seen.get(seen.size() - 1);
      WsClient back = WsClient.authed(vertx, publisher.port, TestNodes.token("quinn", "quorum")).await();
      JsonObject ack = back.request("r", new JsonObject().put("type", "subscribe").put("channel", CHANNEL)
          .put("since", new JsonObject().put("offset", last.getLong("offset")).put("epoch", last.getString("epoch"))),
          10_000).await();
      assertEquals(true, ack.getBoolean("recovered"), ack::encode);
      List<Object> all = new ArrayList<>(seen.stream().map(f -> f.getValue("message")).toList());
      back.received().stream().filter(f -> "message".equals(f.getString("type"))).forEach(f -> all.add(f.getValue("message")));
      assertEquals(List.of("before", "during-0", "during-1", "during-2"), all, "every message once, in order");
      back.close().await();

      // Merged back: one cluster of three, every node ready.
      waitFor(() -> frozen.get("/health/ready").status() == 200 && SplitRejoinIT.members(frozen) == 3, 60_000,
          () -> "the frozen node merged back and ready: " + frozen.get("/health/ready") + "\n" + frozen.tail());
      assertTrue(Files.readString(frozen.log).contains("event=quorum_regained node=n3"), frozen::tail);
      for (JarNode n : nodes) {
        assertEquals(200, n.get("/health/ready").status(), n.name);
      }
    } finally {
      nodes.forEach(JarNode::close);
    }
  }

  static void publish(JarNode via, String message) {
    JarNode.Answer a = via.post("/api/publish", new JsonObject().put("channel", CHANNEL).put("message", message).encode());
    assertEquals(200, a.status(), a::toString);
  }
}
