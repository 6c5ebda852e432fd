package dev.switchboard.gateway;

import static dev.switchboard.gateway.Frames.WAIT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.SwitchboardNode;
import dev.switchboard.bus.Addresses;
import dev.switchboard.client.Publisher;
import dev.switchboard.client.Switchboard;
import dev.switchboard.cluster.Http;
import dev.switchboard.testing.TestNodes;
import dev.switchboard.testing.WsClient;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A namespace's own limits ({@code channels.namespaces.<ns>.max_message_size} and {@code publish_rate}) on a
 * real node: the size limit on every publish path (client publish and send, HTTP, the router's event-bus
 * address), the rate on client publishes only, per session and namespace, without closing the session.
 */
@ExtendWith(VertxExtension.class)
class NamespaceLimitsTest {

  /** 152 bytes as JSON: over small:'s 100, far under session.max_message_size. */
  static final String BIG = "x".repeat(150);

  static SwitchboardNode node;

  @BeforeAll
  static void start() {
    JsonObject open = new JsonObject().put("subscribe", "authenticated").put("publish", "authenticated");
    node = TestNodes.standalone(new JsonObject()
        // Low, so that namespace refusals counted towards the 4008 close would close the session in these tests.
        .put("limits", new JsonObject().put("rate_abuse_limit", 3))
        .put("channels", new JsonObject().put("namespaces", new JsonObject()
            .put("small", open.copy().put("max_message_size", 100))
            // Keeps history, so a client's publish goes through the router verticle rather than the session's fan-out.
            .put("smallkept", open.copy().put("max_message_size", 100).put("history_size", 10).put("history_ttl", "1m"))
            // One token every 4 s: a loaded machine cannot refill one between the frames a test sends at once.
            .put("slow", open.copy().put("publish_rate", 0.25))
            .put("user", new JsonObject().put("max_message_size", 100)))));
  }

  @AfterAll
  static void stop() {
    node.close().await();
  }

  static WsClient client(Vertx vertx, String user) {
    return WsClient.authed(vertx, node.port(), TestNodes.token(user, "lobby")).await();
  }

  static void assertNamesTheLimit(String reason, String namespace) {
    assertTrue(reason.contains("channels.namespaces." + namespace + ".max_message_size (100 bytes)"), reason);
  }

  @Test
  void aClientPublishOverTheNamespacesSizeIsRefusedAndTheSameSizeElsewhereGoesThrough(Vertx vertx) {
    WsClient c = client(vertx, "alice");
    Frames.ack(c, "s1", Frames.subscribe("small:a"));
    Frames.ack(c, "s2", Frames.subscribe("room:lobby"));
    for (String ch : List.of("small:a", "smallkept:a")) {
      JsonObject refused = Frames.error(c, "big-" + ch, Frames.publish("broadcast", ch, BIG), "too_large");
      assertNamesTheLimit(refused.getString("message"), ch.substring(0, ch.indexOf(':')));
    }
    Frames.ack(c, "room", Frames.publish("broadcast", "room:lobby", BIG));
    assertEquals(BIG, c.next(f -> "room:lobby".equals(f.getString("channel")), WAIT).await().getString("message"));
    Frames.ack(c, "fits", Frames.publish("broadcast", "small:a", "fits"));
    assertEquals("fits", c.next(f -> "small:a".equals(f.getString("channel")), WAIT).await().getString("message"),
        "the refused message was dropped, not delivered");
    c.close().await();
  }

  @Test
  void aSendOverTheUserNamespacesSizeIsRefused(Vertx vertx) {
    WsClient alice = client(vertx, "alice");
    WsClient bob = client(vertx, "bob");
    assertNamesTheLimit(Frames.error(alice, "big", Frames.send("bob", BIG), "too_large").getString("message"), "user");
    Frames.ack(alice, "fits", Frames.send("bob", "fits"));
    assertEquals("fits", bob.next("message", WAIT).await().getString("message"), "the refused send was dropped");
    Future.join(alice.close(), bob.close()).await();
  }

  @Test
  void anHttpPublishOverTheNamespacesSizeIsRefusedWith413(Vertx vertx) {
    Http.Answer refused = Http.post(vertx, node.port(), "/api/publish", item("small:a", BIG));
    assertEquals(413, refused.status(), refused.body());
    assertNamesTheLimit(refused.json().getString("error"), "small");
    Http.Answer array = Http.post(vertx, node.port(), "/api/publish",
        new JsonArray().add(item("room:lobby", "x")).add(item("smallkept:a", BIG)));
    assertEquals(413, array.status(), array.body());
    assertTrue(array.json().getString("error").startsWith("item 1: "), array.body());
    assertNamesTheLimit(array.json().getString("error"), "smallkept");
    assertEquals(200, Http.post(vertx, node.port(), "/api/publish", item("room:lobby", BIG)).status());
  }

  @Test
  void anEventBusPublishOverTheNamespacesSizeIsRefusedWith413() {
    DeliveryOptions wait = new DeliveryOptions().setSendTimeout(5_000);
    Throwable t = node.vertx().eventBus().request(Addresses.PUBLISH, item("small:a", BIG), wait)
        .transform(ar -> Future.succeededFuture(ar.cause())).await();
    ReplyException re = assertInstanceOf(ReplyException.class, t, "refused");
    assertEquals(413, re.failureCode());
    assertNamesTheLimit(re.getMessage(), "small");
    assertEquals(new JsonObject().put("ok", true),
        node.vertx().eventBus().request(Addresses.PUBLISH, item("topic:a", BIG), wait).await().body());
  }

  /** The helper cannot read the nodes' config; given a namespace's limit, it refuses as the router would. */
  @Test
  void theJavaHelperAppliesANamespacesSizeWhenGivenIt(Vertx vertx) {
    WsClient c = client(vertx, "erin");
    Frames.ack(c, "s", Frames.subscribe("small:h"));
    Publisher helper = Switchboard.publisher(node.vertx()).maxMessageSize("small", 100);
    Throwable t = helper.publish("small:h", BIG).transform(ar -> Future.succeededFuture(ar.cause())).await();
    assertNamesTheLimit(assertInstanceOf(IllegalArgumentException.class, t, "refused").getMessage(), "small");
    helper.publish("small:h", "fits").await();
    assertEquals("fits", c.next(f -> "small:h".equals(f.getString("channel")), WAIT).await().getString("message"),
        "the refused message was not published");
    helper.toRoom("lobby", BIG).await();  // other namespaces keep session.max_message_size
    c.close().await();
  }

  @Test
  void clientPublishesBeyondTheNamespacesBurstAreRateLimitedWithoutClosingTheSession(Vertx vertx) {
    WsClient c = client(vertx, "carol");
    Frames.ack(c, "s", Frames.subscribe("slow:a"));
    // Sent at once, well within the 4 s one token takes to refill: a burst of 1, then refusals; more of them
    // than rate_abuse_limit, which would close the session were they counted towards 4008.
    List<Future<JsonObject>> answers = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      answers.add(c.request("p" + i, Frames.publish("broadcast", "slow:a", "m" + i), WAIT));
    }
    Future.all(answers).await();
    for (int i = 0; i < 8; i++) {
      JsonObject a = answers.get(i).result();
      assertEquals(i < 1 ? "ack" : "rate_limited", i < 1 ? a.getString("type") : a.getString("code"), a.encode());
    }
    String reason = answers.get(1).result().getString("message");
    assertTrue(reason.contains("channels.namespaces.slow.publish_rate: 0.25 publishes/s into slow: channels (burst 1)"),
        reason);
    // Another namespace is not limited by it, and the session stays open.
    Frames.ack(c, "room", Frames.publish("broadcast", "room:lobby", "still here"));
    c.request("ping", Frames.ping(), WAIT).await();
    List<Object> delivered = c.received().stream().filter(f -> "slow:a".equals(f.getString("channel")))
        .map(f -> f.getValue("message")).toList();
    assertEquals(List.of("m0"), delivered, "refused publishes are dropped");
    // The budget is the session's: another session publishes into the namespace at once.
    WsClient dave = client(vertx, "dave");
    Frames.ack(dave, "p", Frames.publish("broadcast", "slow:a", "from dave"));
    Future.join(c.close(), dave.close()).await();
  }

  @Test
  void backendPublishesAreNotRateLimitedByTheNamespace(Vertx vertx) {
    WsClient c = client(vertx, "erin");
    Frames.ack(c, "s", Frames.subscribe("slow:b"));
    JsonArray five = new JsonArray();
    for (int i = 0; i < 5; i++) {
      five.add(item("slow:b", "h" + i));
    }
    Http.Answer a = Http.post(vertx, node.port(), "/api/publish", five);
    assertEquals(200, a.status(), a.body());
    for (int i = 0; i < 5; i++) {
      String want = "h" + i;
      c.next(f -> want.equals(f.getValue("message")), WAIT).await();
    }
    c.close().await();
  }

  static JsonObject item(String channel, Object message) {
    return new JsonObject().put("channel", channel).put("message", message);
  }
}
