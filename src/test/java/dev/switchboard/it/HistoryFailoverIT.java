package dev.switchboard.it;

import static dev.switchboard.cluster.Tally.waitFor;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.cluster.Tally;
import dev.switchboard.testing.TestNodes;
import dev.switchboard.testing.WsClient;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Recovery after the node a client was on dies (issue "History and recovery"): three node JVMs from the
 * jar, subscribers on node A, publishing goes on from node B while A is killed with -9; the subscribers
 * reconnect to B and C with {@code since} and end with every accepted message exactly once. The history
 * lives in Hazelcast with a backup copy, so it survives A whichever member owned it.
 */
@ExtendWith(VertxExtension.class)
class HistoryFailoverIT {

  static final String CHANNEL = "room:recover";

  /** A subscriber's position: the newest offset and epoch it has seen on the channel. */
  private static JsonObject position(WsClient c) {
    long offset = 0;
    String epoch = null;
    for (JsonObject f : c.received()) {
      if ("message".equals(f.getString("type")) && CHANNEL.equals(f.getString("channel"))) {
        offset = Math.max(offset, f.getLong("offset"));
        epoch = f.getString("epoch");
      }
    }
    return new JsonObject().put("offset", offset).put("epoch", epoch);
  }

  @Test
  void clientsOfAKilledNodeRecoverEveryMessageOnTheSurvivors(Vertx vertx) throws Exception {
    Path conf = Files.createTempFile("switchboard-history-", ".json");
    Files.writeString(conf, new JsonObject().put("channels", new JsonObject().put("namespaces", new JsonObject()
        .put("room", new JsonObject().put("subscribe", "claim").put("publish", "members").put("presence", true)
            .put("history_size", 10000).put("history_ttl", "10m")))).encode());
    List<JarNode> nodes = JarNode.cluster(3, Map.of("SWITCHBOARD_CONF", conf.toString()));
    FailoverIT.HttpPublisher publisher = null;
    try {
      JarNode a = nodes.get(0);
      JarNode b = nodes.get(1);
      List<WsClient> before = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        WsClient c = WsClient.authed(vertx, a.port, TestNodes.token("r" + i, "recover")).await();
        JsonObject ack = c.request("s", new JsonObject().put("type", "subscribe").put("channel", CHANNEL), 10_000).await();
        assertEquals("ack", ack.getString("type"), ack::encode);
        before.add(c);
      }
      publisher = new FailoverIT.HttpPublisher(b, "h", CHANNEL);
      publisher.start();
      FailoverIT.HttpPublisher p = publisher;
      waitFor(() -> p.accepted.size() >= 40, 30_000, () -> "40 publishes accepted by B");
      for (WsClient c : before) {
        waitFor(() -> Tally.counts(c, CHANNEL, "h").size() >= 10, 20_000, () -> "deliveries on A: " + c.received());
      }
      a.kill9();
      // A's sockets die with it; each client remembers where it was.
      List<JsonObject> positions = new ArrayList<>();
      for (WsClient c : before) {
        c.closed(15_000).await();
        positions.add(position(c));
        assertTrue(positions.get(positions.size() - 1).getLong("offset") > 0, () -> "received something before the kill: " + c.received());
      }
      waitFor(() -> p.accepted.size() >= 80, 30_000, () -> "publishing goes on after the kill");
      List<WsClient> after = new ArrayList<>();
      for (int i = 0; i < before.size(); i++) {
        JarNode target = nodes.get(1 + i % 2);
        WsClient c = WsClient.authed(vertx, target.port, TestNodes.token("r" + i, "recover")).await();
        JsonObject ack = c.request("s", new JsonObject().put("type", "subscribe").put("channel", CHANNEL)
            .put("since", positions.get(i)), 20_000).await();
        assertEquals("ack", ack.getString("type"), ack::encode);
        assertTrue(ack.getBoolean("recovered"), () -> "recovered after failover: " + ack.encode());
        after.add(c);
      }
      waitFor(() -> p.accepted.size() >= 120, 30_000, () -> "publishing goes on after the reconnect");
      publisher.finish();
      int n = publisher.accepted.size();
      assertEquals(n, publisher.accepted.get(n - 1) + 1, "B accepted every publish it was sent, in order");
      b.post("/api/publish", new JsonObject().put("channel", CHANNEL).put("message", Tally.msg("h", -1)).encode());
      for (int i = 0; i < before.size(); i++) {
        WsClient old = before.get(i);
        WsClient now = after.get(i);
        waitFor(() -> Tally.hasMarker(now, CHANNEL, "h"), 20_000, () -> "end marker");
        Map<Integer, Integer> counts = Tally.counts(old, CHANNEL, "h");
        Tally.counts(now, CHANNEL, "h").forEach((seq, k) -> counts.merge(seq, k, Integer::sum));
        List<Integer> missing = new ArrayList<>();
        List<Integer> dupes = new ArrayList<>();
        for (int seq = 0; seq < n; seq++) {
          int k = counts.getOrDefault(seq, 0);
          if (k == 0) {
            missing.add(seq);
          } else if (k > 1) {
            dupes.add(seq);
          }
        }
        assertEquals(List.of(), missing, "subscriber " + i + " missed messages");
        assertEquals(List.of(), dupes, "subscriber " + i + " got duplicates");
        Set<Long> offsets = new HashSet<>();
        for (WsClient c : List.of(old, now)) {
          for (JsonObject f : c.received()) {
            if ("message".equals(f.getString("type")) && CHANNEL.equals(f.getString("channel"))) {
              assertTrue(offsets.add(f.getLong("offset")), "offset delivered twice: " + f.encode());
            }
          }
        }
      }
      for (WsClient c : after) {
        c.close();
      }
    } finally {
      if (publisher != null) {
        publisher.finish();
      }
      nodes.forEach(JarNode::close);
      Files.deleteIfExists(conf);
    }
  }
}
