package dev.switchboard.redis;

import static dev.switchboard.cluster.Tally.waitFor;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.SwitchboardNode;
import dev.switchboard.cluster.Tally;
import dev.switchboard.metrics.LogLineLayout;
import dev.switchboard.protocol.Channel;
import dev.switchboard.testing.LogCapture;
import dev.switchboard.testing.TestNodes;
import dev.switchboard.testing.WsClient;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.RedisConnection;
import io.vertx.redis.client.Request;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Redis ingress on a two-node cluster against a real redis-server this test starts on a free port: every
 * node PSUBSCRIBEs {@code switchboard:*} and delivers to its own sessions only, so each subscribed session
 * gets each Redis message exactly once; after Redis dies and comes back, the bridges subscribe again.
 */
@ExtendWith(VertxExtension.class)
class RedisBridgeTest {

  static RedisServer redis;
  static List<SwitchboardNode> nodes;

  @BeforeAll
  static void start() throws Exception {
    redis = new RedisServer(TestNodes.freePort()).start();
    // topic: keeps history here, to show that Redis messages get their offsets like any other publish.
    nodes = TestNodes.cluster(2, new JsonObject().put("redis", new JsonObject().put("url", redis.url()))
        .put("channels", new JsonObject().put("namespaces", new JsonObject()
            .put("topic", new JsonObject().put("subscribe", "authenticated").put("publish", "none")
                .put("history_size", 100).put("history_ttl", "10m"))
            .put("small", new JsonObject().put("subscribe", "authenticated").put("max_message_size", 100)))));
    waitFor(() -> redis.patternSubscribers() == 2, 10_000, () -> "both bridges subscribed");
  }

  @AfterAll
  static void stop() throws Exception {
    try {
      if (nodes != null) {
        TestNodes.closeAll(nodes);
      }
    } finally {
      if (redis != null) {
        redis.close();
      }
    }
  }

  static String unique(String prefix) {
    return prefix + "-" + UUID.randomUUID().toString().substring(0, 8);
  }

  /** Four room subscribers (two per node) and one user with a session on each node. */
  static List<WsClient> subscribers(Vertx vertx, String room, String user) {
    List<WsClient> subs = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      WsClient c = WsClient.authed(vertx, nodes.get(i % 2).port(), TestNodes.token(unique("r"), room)).await();
      JsonObject ack = c.request("s", new JsonObject().put("type", "subscribe").put("channel", "room:" + room),
          10_000).await();
      assertEquals("ack", ack.getString("type"), ack::encode);
      subs.add(c);
    }
    for (int i = 0; i < 2; i++) {
      subs.add(WsClient.authed(vertx, nodes.get(i).port(), TestNodes.token(user)).await());
    }
    return subs;
  }

  /** PUBLISHes the run on one Redis connection (so in order), wrapped as {"message":…} or bare. */
  static void publish(Vertx vertx, String channel, List<JsonObject> msgs, boolean wrapped) {
    RedisConnection conn = Redis.createClient(vertx, redis.url()).connect().await();
    try {
      List<Future<?>> sent = new ArrayList<>();
      for (JsonObject m : msgs) {
        String payload = wrapped ? new JsonObject().put("message", m).put("from_user", "redis").encode() : m.encode();
        sent.add(conn.send(Request.cmd(Command.PUBLISH).arg("switchboard:" + channel).arg(payload)));
      }
      Future.all(sent).await();
    } finally {
      conn.close().await();
    }
  }

  static void countRun(Vertx vertx, List<WsClient> subs, List<WsClient> roomSubs, String room, String user,
                       boolean wrapped) {
    int n = 50;
    for (var target : List.of(new Object[] {"room:" + room, roomSubs}, new Object[] {"user:" + user,
        subs.subList(4, 6)})) {
      String channel = (String) target[0];
      @SuppressWarnings("unchecked")
      List<WsClient> who = (List<WsClient>) target[1];
      String run = unique("run");
      List<JsonObject> msgs = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        msgs.add(Tally.msg(run, i));
      }
      msgs.add(Tally.msg(run, -1));
      publish(vertx, channel, msgs, wrapped);
      Tally.assertExactlyOnce(who, channel, run, n);
    }
  }

  @Test
  void eachSubscribedSessionGetsEachRedisMessageOnceAndTheBridgeSurvivesARedisRestart(Vertx vertx)
      throws Exception {
    String room = unique("lobby");
    String user = unique("rudy");
    List<WsClient> subs = subscribers(vertx, room, user);
    List<WsClient> roomSubs = subs.subList(0, 4);

    countRun(vertx, subs, roomSubs, room, user, true);
    JsonObject first = subs.get(0).next(f -> "message".equals(f.getString("type")), 1000).await();
    assertEquals("redis", first.getString("from_user"), "from_user of a {\"message\":…} payload is kept");

    redis.kill();
    waitFor(() -> !redis.pings(), 5_000, () -> "redis down");
    redis.start();
    waitFor(() -> redis.patternSubscribers() == 2, 20_000, () -> "both bridges subscribed again after restart");

    // Bare JSON (not {"message":…}) is delivered as the message itself.
    countRun(vertx, subs, roomSubs, room, user, false);

    // Not JSON at all: delivered as a string.
    publishRaw(vertx, "room:" + room, "plain text");
    for (WsClient c : roomSubs) {
      c.next(f -> "plain text".equals(f.getValue("message")), 5_000).await();
    }
    Future.join(subs.stream().map(WsClient::close).toList()).await();
  }

  /**
   * The admin feed cannot be forged through Redis: a PUBLISH to {@code switchboard:$sys:stats} is refused
   * and logged, and an admin session sees only the nodes' own stats. A room marker PUBLISHed after it on the
   * same connection shows the bridge has handled the forged one by the time the marker arrives.
   */
  @Test
  void aPublishToASystemChannelIsRefused(Vertx vertx) {
    try (LogCapture logs = LogCapture.of(RedisBridgeVerticle.class)) {
      String room = unique("sys");
      WsClient admin = WsClient.connect(vertx, nodes.get(0).port(), null).await();
      admin.request("a", new JsonObject().put("type", "auth").put("api_key", TestNodes.API_KEY), 10_000).await();
      assertEquals("ack", admin.request("s", new JsonObject().put("type", "subscribe")
          .put("channel", Channel.SYSTEM_STATS), 10_000).await().getString("type"));
      WsClient member = WsClient.authed(vertx, nodes.get(0).port(), TestNodes.token(unique("m"), room)).await();
      assertEquals("ack", member.request("s", new JsonObject().put("type", "subscribe").put("channel", "room:" + room),
          10_000).await().getString("type"));
      publish(vertx, Channel.SYSTEM_STATS, List.of(new JsonObject().put("node", "forged")), false);
      publish(vertx, "room:" + room, List.of(new JsonObject().put("marker", true)), false);
      member.next(f -> "message".equals(f.getString("type")), 10_000).await();
      waitFor(() -> !logs.containing("redis_refused").isEmpty(), 5_000, () -> "the refusal is logged");
      assertTrue(logs.containing("redis_refused").get(0).contains(Channel.SYSTEM_STATS), logs.containing("redis_refused").toString());
      assertTrue(admin.received().stream().noneMatch(f -> f.encode().contains("forged")), "a forged stats frame reached the admin");
      Future.join(admin.close(), member.close()).await();
    }
  }

  /**
   * Whoever can PUBLISH to Redis chooses the channel name, so it is logged as one quoted value with its " and \
   * escaped (LogLineLayout.quote), as the gateway logs a refused Origin: a name with a quote cannot end the value
   * and add pairs (event=…, user=…) to the line. Before, it was put between quotes unescaped.
   */
  @Test
  void aChannelNameFromRedisIsLoggedAsOneEscapedValue(Vertx vertx) {
    try (LogCapture logs = LogCapture.of(RedisBridgeVerticle.class)) {
      String forged = "room:" + unique("q") + "\" event=connect user=mallory note=\"";
      publishRaw(vertx, forged, "{}");
      waitFor(() -> logs.containing("event=redis_bad_channel").size() == 2, 5_000, () -> "one line per node: " + logs.messages());
      for (String line : logs.containing("event=redis_bad_channel")) {
        assertTrue(line.startsWith("event=redis_bad_channel channel=" + LogLineLayout.quote("switchboard:" + forged) + " reason=\""),
            line);
      }
    }
  }

  static void publishRaw(Vertx vertx, String channel, String payload) {
    Redis client = Redis.createClient(vertx, redis.url());
    try {
      client.send(Request.cmd(Command.PUBLISH).arg("switchboard:" + channel).arg(payload)).await();
    } finally {
      client.close();
    }
  }

  @Test
  void onAChannelThatKeepsHistoryEachRedisMessageGetsOneOffsetAndIsKept(Vertx vertx) {
    String channel = "topic:" + unique("news");
    List<WsClient> subs = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      WsClient c = WsClient.authed(vertx, nodes.get(i % 2).port(), TestNodes.token(unique("t"))).await();
      assertEquals("ack", c.request("s", new JsonObject().put("type", "subscribe").put("channel", channel), 10_000)
          .await().getString("type"));
      subs.add(c);
    }
    String run = unique("run");
    List<JsonObject> msgs = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      msgs.add(Tally.msg(run, i));
    }
    msgs.add(Tally.msg(run, -1));
    publish(vertx, channel, msgs, true);
    // Both nodes receive each Redis message; still each session gets it once, and the history holds it once.
    Tally.assertExactlyOnce(subs, channel, run, 20);
    for (WsClient c : subs) {
      List<Long> offsets = c.received().stream().filter(f -> channel.equals(f.getString("channel")))
          .map(f -> f.getLong("offset")).toList();
      assertEquals(java.util.stream.LongStream.rangeClosed(1, 21).boxed().toList(), offsets, "offsets one by one, in order");
    }
    JsonObject history = subs.get(0).request("h", new JsonObject().put("type", "history").put("channel", channel)
        .put("limit", 100), 10_000).await();
    assertEquals(21, history.getJsonArray("messages").size(), history::encode);
    assertEquals(21L, history.getLong("offset"));
    Future.join(subs.stream().map(WsClient::close).toList()).await();
  }

  /** A namespace's own max_message_size holds for Redis too, measured on the message as the router measures it. */
  @Test
  void aMessageOverItsNamespacesSizeIsRefusedAndTheSameSizeElsewhereIsDelivered(Vertx vertx) {
    try (LogCapture logs = LogCapture.of(RedisBridgeVerticle.class)) {
      String name = unique("big");
      String big = "x".repeat(150);
      WsClient member = WsClient.authed(vertx, nodes.get(0).port(), TestNodes.token(unique("m"), name)).await();
      for (String ch : List.of("small:" + name, "room:" + name)) {
        assertEquals("ack", member.request(ch, new JsonObject().put("type", "subscribe").put("channel", ch), 10_000)
            .await().getString("type"));
      }
      publishRaw(vertx, "small:" + name, new JsonObject().put("message", big).encode());
      publishRaw(vertx, "room:" + name, new JsonObject().put("message", big).encode());
      publishRaw(vertx, "small:" + name, new JsonObject().put("message", "fits").encode());
      assertEquals(big, member.next(f -> ("room:" + name).equals(f.getString("channel")), 10_000).await()
          .getString("message"));
      assertEquals("fits", member.next(f -> ("small:" + name).equals(f.getString("channel")), 10_000).await()
          .getString("message"), "the message over the namespace's limit was dropped");
      waitFor(() -> logs.containing("redis_refused").size() == 2, 5_000, () -> "one refusal per node: " + logs.messages());
      String line = logs.containing("redis_refused").get(0);
      assertTrue(line.contains("channels.namespaces.small.max_message_size (100 bytes)"), line);
      member.close().await();
    }
  }

  @Test
  void aNullMessageAForeignFromUserAndAPayloadOverTheLimitInBytesAreRefused(Vertx vertx) {
    try (LogCapture logs = LogCapture.of(RedisBridgeVerticle.class)) {
      String room = unique("bad");
      WsClient member = WsClient.authed(vertx, nodes.get(0).port(), TestNodes.token(unique("m"), room)).await();
      assertEquals("ack", member.request("s", new JsonObject().put("type", "subscribe").put("channel", "room:" + room),
          10_000).await().getString("type"));
      publishRaw(vertx, "room:" + room, "null");
      publishRaw(vertx, "room:" + room, "{\"message\":null}");
      publishRaw(vertx, "room:" + room, "{\"message\":{\"a\":1},\"from_user\":{\"x\":1}}");
      // 40,000 characters but 80,000 bytes: over the 64 KiB limit, which counts bytes.
      publishRaw(vertx, "room:" + room, new JsonObject().put("message", "\u00e9".repeat(40_000)).encode());
      publishRaw(vertx, "room:" + room, new JsonObject().put("marker", true).encode());
      JsonObject first = member.next(f -> "message".equals(f.getString("type")), 10_000).await();
      assertEquals(new JsonObject().put("marker", true), first.getValue("message"), "only the marker is delivered");
      // Each node receives each Redis message and refuses it: two nodes in this JVM, two lines each.
      waitFor(() -> logs.containing("redis_refused").size() == 8, 5_000, () -> "refusals logged: " + logs.messages());
      List<String> why = logs.containing("redis_refused").stream().distinct().toList();
      assertEquals(3, why.size(), why::toString);
      assertTrue(why.get(0).contains("message is null"), why.get(0));
      assertTrue(why.get(1).contains("from_user must be a string"), why.get(1));
      assertTrue(why.get(2).contains("payload of 80014 bytes"), why.get(2));
      member.close().await();
    }
  }
}
