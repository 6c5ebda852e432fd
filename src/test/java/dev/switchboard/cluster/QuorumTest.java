package dev.switchboard.cluster;

import static dev.switchboard.cluster.Tally.waitFor;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.SwitchboardNode;
import dev.switchboard.bus.Addresses;
import dev.switchboard.config.ConfigLoader;
import dev.switchboard.config.SwitchboardConfig;
import dev.switchboard.redis.RedisBridgeVerticle;
import dev.switchboard.redis.RedisServer;
import dev.switchboard.testing.LogCapture;
import dev.switchboard.testing.TestNodes;
import dev.switchboard.testing.WsClient;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.http.UpgradeRejectedException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * {@code cluster.min_nodes}: a node that sees fewer Switchboard nodes than that serves nothing — not ready,
 * upgrades refused with 503, its sessions sent away with 1001, every publish path refused with the reason —
 * and serves again once enough nodes are back. With the default of 1 a survivor serves on as before.
 */
@ExtendWith(VertxExtension.class)
class QuorumTest {

  static final String CUT_OFF = "cut off from the cluster";

  @Test
  void aNodeBelowMinNodesServesNothingUntilEnoughNodesJoin(Vertx vertx) throws Exception {
    List<SwitchboardNode> started = new ArrayList<>();
    try (RedisServer redis = new RedisServer(TestNodes.freePort()).start();
         LogCapture transitions = LogCapture.of(QuorumWatch.class);
         LogCapture redisLog = LogCapture.of(RedisBridgeVerticle.class)) {
      JsonObject quorum = new JsonObject()
          .put("cluster", new JsonObject().put("min_nodes", 2))
          .put("drain", new JsonObject().put("period", "4s"))
          .put("redis", new JsonObject().put("url", redis.url()));
      SwitchboardNode n1 = TestNodes.cluster(1, quorum).get(0);
      started.add(n1);

      // Alone, with min_nodes 2: not ready from the start, and no client gets in.
      assertNotReady(n1, "1 of min 2 nodes visible");
      assertUpgradeRefused(vertx, n1);

      SwitchboardNode n2 = join(n1, "n2", quorum);
      started.add(n2);
      waitFor(() -> Http.get(vertx, n1.port(), "/health/ready").status() == 200, 10_000, () -> "n1 ready once n2 joined");
      waitFor(() -> redis.patternSubscribers() == 2, 10_000, () -> "both Redis bridges subscribed");
      List<WsClient> sessions = new ArrayList<>();
      for (int i = 0; i < 2; i++) {
        sessions.add(WsClient.authed(vertx, n1.port(), TestNodes.token("q" + i, "q")).await());
      }
      Future<Short> firstClosed = Future.any(sessions.get(0).closed(20_000), sessions.get(1).closed(20_000))
          .map(any -> any.succeeded(0) ? any.<Short>resultAt(0) : any.<Short>resultAt(1));

      // n2 leaves: n1 sees 1 of its 2 nodes.
      n2.close().await();
      started.remove(n2);
      waitFor(() -> Http.get(vertx, n1.port(), "/health/ready").status() == 503, 10_000, () -> "n1 not ready once n2 left");
      assertNotReady(n1, "1 of min 2 nodes visible");
      assertUpgradeRefused(vertx, n1);

      Http.Answer refused = Http.post(vertx, n1.port(), "/api/publish",
          new JsonObject().put("channel", "room:q").put("message", "lost?"));
      assertEquals(503, refused.status(), refused.body());
      assertTrue(refused.body().contains(CUT_OFF + " (1 of min 2 nodes visible)"), refused.body());

      Throwable bus = n1.vertx().eventBus().request(Addresses.PUBLISH,
          new JsonObject().put("channel", "room:q").put("message", "lost?")).map(m -> (Throwable) null)
          .otherwise(e -> e).await();
      assertTrue(bus instanceof ReplyException re && re.failureCode() == 503 && re.getMessage().contains(CUT_OFF),
          "switchboard.publish refused with 503 and the reason, got " + bus);

      // The sessions are closed over drain.period (4 s): the first at once, the other about 2 s later.
      assertEquals((short) 1001, firstClosed.await());
      WsClient open = sessions.stream().filter(s -> !s.socket().isClosed()).findFirst().orElseThrow();
      JsonObject error = open.request("b", new JsonObject().put("type", "broadcast").put("channel", "room:q")
          .put("message", "lost?"), 5_000).await();
      assertEquals("error", error.getString("type"), error::encode);
      assertEquals("internal", error.getString("code"), error::encode);
      assertTrue(error.getString("message").contains(CUT_OFF), error::encode);
      JsonObject send = open.request("s", new JsonObject().put("type", "send").put("to", "q0")
          .put("message", "lost?"), 5_000).await();
      assertEquals("internal", send.getString("code"), send::encode);
      assertEquals((short) 1001, open.closed(10_000).await());
      for (WsClient s : sessions) {
        assertEquals("cut off from the cluster: reconnect elsewhere", s.closeReason());
      }

      waitFor(() -> redis.patternSubscribers() == 1, 10_000, () -> "n2's bridge gone, n1's still subscribed");
      double droppedBefore = dropped(n1);
      assertEquals(":1", redis.command("PUBLISH switchboard:room:q lost?"), "n1's bridge got it");
      waitFor(() -> dropped(n1) == droppedBefore + 1, 5_000, () -> "the Redis message counted as dropped no_quorum");
      assertEquals(1, redisLog.containing("event=redis_dropped channel=\"switchboard:room:q\" reason=\"" + CUT_OFF).size(),
          () -> String.valueOf(redisLog.messages()));

      // A new node joins: n1 serves again.
      SwitchboardNode n3 = join(n1, "n3", quorum);
      started.add(n3);
      waitFor(() -> Http.get(vertx, n1.port(), "/health/ready").status() == 200, 10_000, () -> "n1 ready once n3 joined");
      assertEquals(200, Http.post(vertx, n1.port(), "/api/publish",
          new JsonObject().put("channel", "room:q").put("message", "back")).status());
      WsClient back = WsClient.authed(vertx, n1.port(), TestNodes.token("q2", "q")).await();
      assertEquals("ack", back.request("b", new JsonObject().put("type", "broadcast").put("channel", "room:q")
          .put("message", "back"), 5_000).await().getString("type"));
      back.close().await();

      // Each transition logged once: lost at start, regained (n2), lost (n2 left), regained (n3).
      List<String> ofN1 = transitions.containing(" node=n1 ");
      assertEquals(List.of("event=quorum_lost", "event=quorum_regained", "event=quorum_lost", "event=quorum_regained"),
          ofN1.stream().map(m -> m.substring(0, m.indexOf(' '))).toList(), () -> String.valueOf(transitions.messages()));
      assertTrue(ofN1.get(2).contains("node=n1 nodes=1 min_nodes=2 sessions=2"), ofN1.get(2));
    } finally {
      TestNodes.closeAll(started);
    }
  }

  @Test
  void withTheDefaultMinNodesOfOneASurvivorServesOn(Vertx vertx) {
    List<SwitchboardNode> nodes = TestNodes.cluster(2);
    List<SwitchboardNode> open = new ArrayList<>(nodes);
    try {
      SwitchboardNode n1 = nodes.get(0);
      WsClient c = WsClient.authed(vertx, n1.port(), TestNodes.token("solo", "q")).await();
      nodes.get(1).close().await();
      open.remove(nodes.get(1));
      waitFor(() -> Http.get(vertx, n1.port(), "/health/ready").json().getInteger("members") == 1, 10_000,
          () -> "n1 sees n2 gone");
      Http.Answer ready = Http.get(vertx, n1.port(), "/health/ready");
      assertEquals(200, ready.status(), ready.body());
      assertFalse(ready.json().containsKey("min_nodes"), ready.body());
      assertEquals(200, Http.post(vertx, n1.port(), "/api/publish",
          new JsonObject().put("channel", "room:q").put("message", "alone")).status());
      JsonObject ack = c.request("b", new JsonObject().put("type", "broadcast").put("channel", "room:q")
          .put("message", "alone"), 5_000).await();
      assertEquals("ack", ack.getString("type"), ack::encode);
      assertNull(c.closeReason(), "the session stays");
      assertFalse(c.socket().isClosed());
      c.close().await();
    } finally {
      TestNodes.closeAll(open);
    }
  }

  private static void assertNotReady(SwitchboardNode n, String reason) {
    Http.Answer ready = Http.get(null, n.port(), "/health/ready");
    assertEquals(503, ready.status(), ready.body());
    assertEquals("DOWN", ready.json().getString("status"));
    assertEquals(reason, ready.json().getString("reason"), ready.body());
    assertEquals(2, ready.json().getInteger("min_nodes"), ready.body());
  }

  private static void assertUpgradeRefused(Vertx vertx, SwitchboardNode n) {
    Throwable refused = WsClient.connect(vertx, n.port(), "token=" + TestNodes.token("late", "q"))
        .map(c -> (Throwable) null).otherwise(e -> e).await();
    assertTrue(refused instanceof UpgradeRejectedException u && u.getStatus() == 503,
        "an upgrade below the quorum is refused with 503, got " + refused);
  }

  /** Starts a node that joins {@code first}'s cluster. */
  private static SwitchboardNode join(SwitchboardNode first, String id, JsonObject overrides) {
    SwitchboardConfig.Cluster c1 = first.context().config().cluster();
    int port = TestNodes.freePort();
    JsonObject o = overrides.copy();
    ConfigLoader.deepMerge(o, new JsonObject()
        .put("node", new JsonObject().put("id", id))
        .put("cluster", new JsonObject().put("standalone", false).put("name", c1.name()).put("host", "127.0.0.1")
            .put("port", port).put("members", new JsonArray().add("127.0.0.1:" + c1.port()).add("127.0.0.1:" + port))));
    return SwitchboardNode.start(TestNodes.config(o)).await();
  }

  private static double dropped(SwitchboardNode n) {
    return n.context().registry().get("switchboard.messages.dropped").tag("reason", "no_quorum").counter().count();
  }
}
