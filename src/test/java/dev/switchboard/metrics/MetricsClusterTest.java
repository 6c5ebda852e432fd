package dev.switchboard.metrics;

import static dev.switchboard.cluster.Tally.waitFor;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.SwitchboardNode;
import dev.switchboard.bus.Addresses;
import dev.switchboard.cluster.ConsumerDirectory;
import dev.switchboard.cluster.SubscriptionTable;
import dev.switchboard.cluster.Http;
import dev.switchboard.protocol.Channel;
import dev.switchboard.testing.TestNodes;
import dev.switchboard.testing.WsClient;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryContext;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Observability across two clustered nodes: health, the cluster-size gauge, the publish→socket histogram on
 * the node that wrote the socket when the publish was accepted on the other, and the admin stats feed (API
 * key in, both nodes' stats out, nobody else allowed on {@code $sys:} channels).
 */
@ExtendWith(VertxExtension.class)
class MetricsClusterTest {

  static List<SwitchboardNode> nodes;

  @BeforeAll
  static void start() {
    nodes = TestNodes.cluster(2);
  }

  @AfterAll
  static void stop() {
    TestNodes.closeAll(nodes);
  }

  @Test
  void healthIsLiveAndReadyWhenJoined(Vertx vertx) {
    for (SwitchboardNode n : nodes) {
      Http.Answer live = Http.get(vertx, n.port(), "/health/live");
      assertEquals(200, live.status());
      assertEquals("UP", live.json().getString("status"));
      Http.Answer ready = Http.get(vertx, n.port(), "/health/ready");
      assertEquals(200, ready.status(), ready.body());
      assertEquals("joined", ready.json().getString("cluster"));
      assertEquals(2, ready.json().getInteger("members"));
      assertEquals(false, ready.json().getBoolean("draining"));
      assertEquals(2, Scrape.of(vertx, n.port()).value("switchboard_cluster_nodes"));
    }
  }

  @Test
  void readinessGoesDownWhileDrainingAndLivenessStaysUp(Vertx vertx) {
    SwitchboardNode lone = TestNodes.standalone();
    try {
      assertEquals(200, Http.get(vertx, lone.port(), "/health/ready").status());
      lone.context().startDraining();  // the first thing drain() does (SIGTERM)
      Http.Answer ready = Http.get(vertx, lone.port(), "/health/ready");
      assertEquals(503, ready.status());
      assertEquals("DOWN", ready.json().getString("status"));
      assertEquals(true, ready.json().getBoolean("draining"));
      assertEquals(200, Http.get(vertx, lone.port(), "/health/live").status());
    } finally {
      lone.close().await();
    }
  }

  @Test
  void latencyIsMeasuredOnTheNodeThatWritesTheSocket(Vertx vertx) {
    SwitchboardNode n1 = nodes.get(0);
    SwitchboardNode n2 = nodes.get(1);
    WsClient sub = WsClient.authed(vertx, n2.port(), TestNodes.token("lat-sub", "latency")).await();
    assertEquals("ack", sub.request(1, new JsonObject().put("type", "subscribe").put("channel", "room:latency"), 10_000)
        .await().getString("type"));
    Scrape before1 = Scrape.of(vertx, n1.port());
    Scrape before2 = Scrape.of(vertx, n2.port());

    Http.Answer published = Http.post(vertx, n1.port(), "/api/publish",
        new JsonObject().put("channel", "room:latency").put("message", new JsonObject().put("x", 1)));
    assertEquals(200, published.status(), published.body());
    sub.next("message", 10_000).await();

    Scrape after2 = awaitDelta(vertx, n2.port(), before2, "switchboard_publish_to_socket_seconds_count", 1);
    assertEquals(1, after2.delta(before2, "switchboard_publish_to_socket_seconds_count"));
    assertEquals(1, after2.delta(before2, "switchboard_messages_delivered_total"));
    Scrape after1 = Scrape.of(vertx, n1.port());
    assertEquals(0, after1.delta(before1, "switchboard_messages_delivered_total"), "n1 has no subscriber");
    assertEquals(0, after1.delta(before1, "switchboard_publish_to_socket_seconds_count"));
    double seconds = after2.delta(before2, "switchboard_publish_to_socket_seconds_sum");
    assertTrue(seconds > 0 && seconds < 5, "one cross-node delivery took " + seconds + " s");
    sub.close().await();
  }

  @Test
  void adminSessionSeesEveryNodesStats(Vertx vertx) {
    WsClient user = WsClient.authed(vertx, nodes.get(1).port(), TestNodes.token("stats-user", "lobby")).await();
    Scrape before = Scrape.of(vertx, nodes.get(0).port());
    WsClient admin = WsClient.connect(vertx, nodes.get(0).port(), null).await();
    JsonObject ok = admin.request("a", new JsonObject().put("type", "auth").put("api_key", TestNodes.API_KEY), 10_000).await();
    assertEquals("auth_success", ok.getString("type"), ok.encode());
    assertEquals(AdminAccess.ADMIN_USER, ok.getString("user_id"));
    assertEquals("n1", ok.getString("node"));
    JsonObject ack = admin.request("s", new JsonObject().put("type", "subscribe").put("channel", Channel.SYSTEM_STATS), 10_000).await();
    assertEquals("ack", ack.getString("type"), ack.encode());

    Map<String, JsonObject> byNode = new HashMap<>();
    long deadline = System.currentTimeMillis() + 10_000;
    while (byNode.size() < 2 && System.currentTimeMillis() < deadline) {
      JsonObject m = admin.next(f -> "message".equals(f.getString("type")), deadline - System.currentTimeMillis()).await();
      assertEquals(Channel.SYSTEM_STATS, m.getString("channel"));
      JsonObject s = m.getJsonObject("message");
      byNode.put(s.getString("node"), s);
    }
    assertEquals(2, byNode.size(), "stats from both nodes: " + byNode.keySet());
    assertEquals(0, Scrape.of(vertx, nodes.get(0).port()).delta(before, "switchboard_messages_delivered_total"),
        "the admin feed is not counted as traffic");
    JsonObject n2 = byNode.get("n2");
    assertNotNull(n2);
    assertTrue(n2.getInteger("connections") >= 1, n2.encode());
    assertEquals(2, n2.getInteger("members"));
    assertEquals(true, n2.getBoolean("ready"));
    for (String key : List.of("in", "out", "dropped", "latency", "connects", "disconnects")) {
      assertNotNull(n2.getValue(key), key + " in " + n2.encode());
    }
    assertTrue(n2.getJsonObject("dropped").getJsonObject("by_reason").containsKey("rate_limited"), n2.encode());
    assertTrue(n2.getDouble("loop_lag_ms") >= 0 && n2.getLong("heap_used") > 0, n2.encode());

    // an admin session reads system channels and does nothing else
    JsonObject pub = admin.request("p", new JsonObject().put("type", "broadcast").put("channel", "room:lobby")
        .put("message", 1), 10_000).await();
    assertEquals("forbidden", pub.getString("code"), pub.encode());
    JsonObject room = admin.request("r", new JsonObject().put("type", "subscribe").put("channel", "topic:news"), 10_000).await();
    assertEquals("forbidden", room.getString("code"), room.encode());

    // and a token session may not read them at all
    JsonObject denied = user.request("x", new JsonObject().put("type", "subscribe").put("channel", Channel.SYSTEM_STATS), 10_000).await();
    assertEquals("forbidden", denied.getString("code"), denied.encode());
    admin.close().await();
    user.close().await();
  }

  /**
   * The stats feed is published by every node each second. On a cluster, a publish on an address nobody
   * consumes reads Hazelcast's subscription table (Vert.x caches only addresses with consumers), so while no
   * admin subscribes the feed must not be published at all; once one subscribes, it flows again.
   */
  @Test
  void theStatsFeedReadsNothingFromHazelcastWhileNobodySubscribes(Vertx vertx) {
    for (SwitchboardNode n : nodes) {
      ConsumerDirectory d = ConsumerDirectory.of(n.vertx());
      waitFor(() -> d.watches(Addresses.STATS) && !d.mayHaveConsumer(Addresses.STATS), 10_000,
          () -> n.name() + " learns that nobody subscribes to " + Channel.SYSTEM_STATS);
    }
    SwitchboardNode n1 = nodes.get(0);
    AtomicInteger published = new AtomicInteger();
    Handler<DeliveryContext<Object>> count = dc -> {
      if (Addresses.STATS.equals(dc.message().address())) {
        published.incrementAndGet();
      }
      dc.next();
    };
    n1.vertx().eventBus().addOutboundInterceptor(count);
    // A feed of the test's own, to count its timer's ticks; the nodes' own feeds run beside it.
    MetricsVerticle feed = new MetricsVerticle(n1.context());
    String deployment = n1.vertx().deployVerticle(feed).await();
    try {
      // Two ticks first: an earlier test's channel consumer lingers for a second after its session left, and
      // its removal makes each node re-read that channel's registrations once.
      waitFor(() -> feed.ticks() >= 2, 10_000, () -> "two ticks of the stats timer");
      long gets = subsMapGets();
      int from = feed.ticks();
      waitFor(() -> feed.ticks() >= from + 4, 10_000, () -> "four more ticks of the stats timer");
      assertEquals(0, published.get(), "stats published on node 1 while nobody subscribes");
      long reads = subsMapGets() - gets;
      assertTrue(reads <= 1, "four seconds of stats on two idle nodes read the subscription table " + reads
          + " times (each publish would read it once)");

      WsClient admin = WsClient.connect(vertx, n1.port(), null).await();
      admin.request("a", new JsonObject().put("type", "auth").put("api_key", TestNodes.API_KEY), 10_000).await();
      JsonObject ack = admin.request("s", new JsonObject().put("type", "subscribe")
          .put("channel", Channel.SYSTEM_STATS), 10_000).await();
      assertEquals("ack", ack.getString("type"), ack.encode());
      JsonObject m = admin.next(f -> "message".equals(f.getString("type"))
          && "n2".equals(f.getJsonObject("message").getString("node")), 10_000).await();
      assertEquals(Channel.SYSTEM_STATS, m.getString("channel"));
      waitFor(() -> published.get() > 0, 5_000, () -> "node 1 publishes its stats once an admin subscribes");
      admin.close().await();
    } finally {
      n1.vertx().eventBus().removeOutboundInterceptor(count);
      n1.vertx().undeploy(deployment).await();
    }
  }

  /** Get operations on the event bus's subscription table, summed over the nodes. */
  static long subsMapGets() {
    return SubscriptionTable.gets(nodes.stream().map(SwitchboardNode::vertx).toList());
  }

  @Test
  void aWrongApiKeyIsRefused(Vertx vertx) {
    Scrape before = Scrape.of(vertx, nodes.get(0).port());
    WsClient c = WsClient.connect(vertx, nodes.get(0).port(), null).await();
    JsonObject err = c.request(1, new JsonObject().put("type", "auth").put("api_key", "not-" + TestNodes.API_KEY), 10_000).await();
    assertEquals("error", err.getString("type"));
    assertEquals("unauthorized", err.getString("code"));
    assertEquals((short) 1008, c.closed(10_000).await());
    Scrape after = awaitDelta(vertx, nodes.get(0).port(), before, "switchboard_disconnects_total{code=\"1008\"}", 1);
    assertEquals(1, after.delta(before, "switchboard_connects_total{result=\"unauthorized\"}"));
  }

  private static Scrape awaitDelta(Vertx vertx, int port, Scrape before, String series, double delta) {
    long deadline = System.currentTimeMillis() + 5000;
    Scrape s = Scrape.of(vertx, port);
    while (s.delta(before, series) < delta && System.currentTimeMillis() < deadline) {
      vertx.timer(50).await();
      s = Scrape.of(vertx, port);
    }
    return s;
  }
}
