package dev.switchboard.it;

import static dev.switchboard.cluster.Tally.waitFor;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.cluster.Tally;
import dev.switchboard.testing.TestNodes;
import dev.switchboard.testing.WsClient;
import io.vertx.core.Vertx;
import io.vertx.core.http.UpgradeRejectedException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * SIGTERM on one of three node JVMs with a 3 s drain period: readiness goes 503, upgrades are refused with
 * 503, its sessions are closed with 1001 spread over the period, what it and the others accept meanwhile
 * reaches the subscribers on the other nodes, and it leaves the cluster and exits.
 */
@ExtendWith(VertxExtension.class)
class DrainIT {

  static final String CHANNEL = "room:drain";
  static final long PERIOD_MS = 3000;

  @Test
  void sigtermDrainsOverThePeriodAndPublishesMeanwhileStillArrive(Vertx vertx) throws Exception {
    // JSON logs: a log shipper reads the node's whole output, start to exit, as JSON lines.
    List<JarNode> nodes = JarNode.cluster(3, Map.of("SWITCHBOARD_DRAIN_PERIOD", "3s", "SWITCHBOARD_LOG_FORMAT", "json"));
    try {
      JarNode draining = nodes.get(0);
      List<WsClient> leaving = new ArrayList<>();
      List<Long> closedAt = Collections.synchronizedList(new ArrayList<>());
      List<Short> codes = Collections.synchronizedList(new ArrayList<>());
      for (int i = 0; i < 4; i++) {
        WsClient c = WsClient.authed(vertx, draining.port, TestNodes.token("leaving" + i, "drain")).await();
        c.closed(60_000).onSuccess(code -> {
          closedAt.add(System.currentTimeMillis());
          codes.add(code);
        });
        leaving.add(c);
      }
      List<WsClient> staying = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        WsClient c = WsClient.authed(vertx, nodes.get(1 + i % 2).port, TestNodes.token("staying" + i, "drain")).await();
        assertEquals("ack", c.request("s", new JsonObject().put("type", "subscribe").put("channel", CHANNEL), 10_000)
            .await().getString("type"));
        staying.add(c);
      }

      long termAt = System.currentTimeMillis();
      draining.terminate();
      waitFor(() -> draining.get("/health/ready").status() == 503, 2_000, () -> "readiness 503 during the drain");

      Throwable refused = WsClient.connect(vertx, draining.port, "token=" + TestNodes.token("late"))
          .map(c -> (Throwable) null).otherwise(e -> e).await();
      assertTrue(refused instanceof UpgradeRejectedException u && u.getStatus() == 503,
          "a new upgrade during the drain is refused with 503, got " + refused);

      // Publishes accepted during the drain — on the draining node and on another — reach the subscribers.
      for (JarNode via : List.of(draining, nodes.get(1))) {
        String run = "via-" + via.name;
        JsonArray batch = new JsonArray();
        for (int seq = 0; seq < 20; seq++) {
          batch.add(new JsonObject().put("channel", CHANNEL).put("message", Tally.msg(run, seq)));
        }
        batch.add(new JsonObject().put("channel", CHANNEL).put("message", Tally.msg(run, -1)));
        JarNode.Answer a = via.post("/api/publish", batch.encode());
        assertEquals(200, a.status(), () -> via.name + " during the drain: " + a);
        Tally.assertExactlyOnce(staying, CHANNEL, run, 20);
      }

      waitFor(() -> closedAt.size() == 4, PERIOD_MS + 5_000, () -> "sessions closed: " + codes);
      assertEquals(List.of((short) 1001, (short) 1001, (short) 1001, (short) 1001), codes);
      List<Long> times = new ArrayList<>(closedAt);
      Collections.sort(times);
      long span = times.get(3) - times.get(0);
      long last = times.get(3) - termAt;
      System.out.printf("drain close_offsets_ms=%s span_ms=%d%n",
          times.stream().map(t -> t - termAt).toList(), span);
      assertTrue(span >= PERIOD_MS / 2, "closes spread over the drain period, span was " + span + " ms");
      assertTrue(last <= PERIOD_MS + 2_000, "all closed within the drain period, last after " + last + " ms");

      int exit = draining.awaitExit(20_000);
      assertTrue(exit >= 0, "the drained node exits:\n" + draining.tail());
      assertTrue(draining.tail().contains("drained and left the cluster"), draining.tail());
      List<String> lines = java.nio.file.Files.readAllLines(draining.log);
      for (String line : lines) {
        // Hazelcast's own lines too (its logger is picked before its config is read), and the ready banner.
        assertTrue(line.startsWith("{") && new JsonObject(line).containsKey("ts"), () -> "not a JSON line: " + line);
      }
      assertTrue(lines.stream().noneMatch(l -> l.contains("modular environment")),
          "the jar's manifest opens what Hazelcast asks for");
      waitFor(() -> FailoverIT.nodeCount(nodes.get(1)) == 2, 10_000, () -> "left the cluster");
      JsonObject pong = staying.get(0).request("p", new JsonObject().put("type", "ping"), 5_000).await();
      assertEquals("pong", pong.getString("type"));
    } finally {
      nodes.forEach(JarNode::close);
    }
  }
}
