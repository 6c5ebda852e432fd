package dev.switchboard.gateway;

import static dev.switchboard.gateway.Frames.WAIT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.SwitchboardNode;
import dev.switchboard.testing.TestNodes;
import dev.switchboard.testing.WsClient;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** SPEC §4 "Client → server": every request type and its answer, on one standalone node. */
@ExtendWith(VertxExtension.class)
class RequestsTest {

  static SwitchboardNode node;

  @BeforeAll
  static void start() {
    node = TestNodes.standalone(new JsonObject()
        // switchboard.* is listed to prove the gateway's own addresses stay closed to clients regardless.
        .put("rpc", new JsonObject().put("timeout", "500ms")
            .put("allowed", new JsonArray().add("service.*").add("switchboard.*"))));
    node.vertx().eventBus().<JsonObject>consumer("service.echo", m -> m.reply(new JsonObject()
        .put("echo", m.body()).put("user_id", m.headers().get("user_id"))));
    node.vertx().eventBus().<JsonObject>consumer("service.refuses", m -> m.fail(m.body().getInteger("status"),
        "refused with " + m.body().getInteger("status")));
    node.vertx().eventBus().consumer("service.silent", m -> { /* never answers */ }).completion().await();
  }

  @AfterAll
  static void stop() {
    node.close().await();
  }

  static WsClient client(Vertx vertx, String user) {
    return WsClient.authed(vertx, node.port(), TestNodes.token(user, "lobby")).await();
  }

  @ParameterizedTest
  @ValueSource(strings = {"string-id", "number-id"})
  void subscribeAcksWithTheIdAndAPublishAfterTheAckIsDelivered(String idKind, Vertx vertx) {
    WsClient c = client(vertx, "sam");
    Object id = idKind.equals("string-id") ? "sub-1" : 42;
    JsonObject ack = c.request(id, Frames.subscribe("room:lobby"), WAIT).await();
    assertEquals(new JsonObject().put("type", "ack").put("id", id), ack);

    Instant before = Instant.now().minusSeconds(1);
    Frames.httpPublish(vertx, node.port(), "room:lobby", new JsonObject().put("text", "hello"));
    JsonObject m = c.next("message", WAIT).await();
    assertEquals("room:lobby", m.getString("channel"));
    assertEquals(new JsonObject().put("text", "hello"), m.getJsonObject("message"));
    assertTrue(m.containsKey("from_user"), "from_user is always present: " + m.encode());
    assertNull(m.getValue("from_user"));
    String ts = m.getString("timestamp");
    assertTrue(ts.endsWith("Z"), "UTC timestamp: " + ts);
    Instant at = Instant.parse(ts);
    assertTrue(!at.isBefore(before) && !at.isAfter(Instant.now().plusSeconds(1)), ts);
    c.close().await();
  }

  @Test
  void afterUnsubscribeNothingMoreArrives(Vertx vertx) {
    WsClient quitter = client(vertx, "quinn");
    WsClient stayer = client(vertx, "stacy");
    Frames.ack(quitter, 1, Frames.subscribe("room:lobby"));
    Frames.ack(stayer, 1, Frames.subscribe("room:lobby"));
    Frames.ack(quitter, 2, Frames.unsubscribe("room:lobby"));

    Frames.ack(stayer, 2, Frames.publish("broadcast", "room:lobby", "after"));
    assertEquals("after", stayer.next("message", WAIT).await().getString("message"));
    Frames.assertNothingOn(quitter, "room:lobby");
    quitter.close().await();
    stayer.close().await();
  }

  /** The hub reuses one subscriber array between publications: it must follow every change. */
  @Test
  void theFanOutFollowsSubscribersThatChangeBetweenPublications(Vertx vertx) {
    WsClient ann = client(vertx, "ann");
    WsClient bob = client(vertx, "bob");
    Frames.ack(ann, 1, Frames.subscribe("room:lobby"));
    Frames.ack(bob, 1, Frames.subscribe("room:lobby"));
    Frames.httpPublish(vertx, node.port(), "room:lobby", "one");
    assertEquals("one", ann.next("message", WAIT).await().getString("message"));
    assertEquals("one", bob.next("message", WAIT).await().getString("message"));

    WsClient cat = client(vertx, "cat");
    Frames.ack(cat, 1, Frames.subscribe("room:lobby"));
    Frames.ack(bob, 2, Frames.unsubscribe("room:lobby"));
    Frames.httpPublish(vertx, node.port(), "room:lobby", "two");
    assertEquals("two", ann.next("message", WAIT).await().getString("message"));
    assertEquals("two", cat.next("message", WAIT).await().getString("message"));
    // Two round trips on bob's socket: a "two" sent to him would have arrived before their answers.
    Frames.assertNothingOn(bob, "room:other");
    assertEquals(List.of("one"), bob.received().stream()
        .filter(f -> "message".equals(f.getString("type")))
        .map(f -> f.getValue("message"))
        .toList(), "bob unsubscribed before \"two\"");
    for (WsClient c : List.of(ann, bob, cat)) {
      c.close().await();
    }
  }

  @Test
  void automaticChannelsCannotBeUnsubscribed(Vertx vertx) {
    WsClient c = WsClient.authed(vertx, node.port(),
        TestNodes.token("ursula", List.of(), java.util.Map.of("dept", "ops"), Duration.ofHours(1))).await();
    for (String ch : List.of("broadcast", "user:ursula", "segment:dept=ops")) {
      Frames.error(c, ch, Frames.unsubscribe(ch), "forbidden");
    }
    Frames.httpPublish(vertx, node.port(), "broadcast", "still here");
    assertEquals("still here", c.next("message", WAIT).await().getString("message"));
    c.close().await();
  }

  @ParameterizedTest
  @ValueSource(strings = {"broadcast", "publish"})
  void broadcastAndItsAliasPublishAckAndDeliverWithFromUser(String type, Vertx vertx) {
    WsClient sender = client(vertx, "paula");
    WsClient listener = client(vertx, "leo");
    Frames.ack(listener, 1, Frames.subscribe("room:lobby"));
    Frames.ack(sender, 1, Frames.subscribe("room:lobby"));

    Frames.ack(sender, "pub", Frames.publish(type, "room:lobby", new JsonObject().put("n", 7)));
    for (WsClient c : List.of(listener, sender)) {
      JsonObject m = c.next("message", WAIT).await();
      assertEquals("message", m.getString("type"));
      assertEquals("room:lobby", m.getString("channel"));
      assertEquals(7, m.getJsonObject("message").getInteger("n"));
      assertEquals("paula", m.getString("from_user"));
      Instant.parse(m.getString("timestamp"));
    }
    sender.close().await();
    listener.close().await();
  }

  @Test
  void sendDeliversOnTheRecipientsUserChannel(Vertx vertx) {
    WsClient alice = client(vertx, "alice");
    WsClient bob = client(vertx, "bob");
    Frames.ack(alice, "dm", Frames.send("bob", new JsonObject().put("text", "psst")));
    JsonObject m = bob.next("message", WAIT).await();
    assertEquals("user:bob", m.getString("channel"));
    assertEquals("alice", m.getString("from_user"));
    assertEquals("psst", m.getJsonObject("message").getString("text"));
    Frames.assertNothingOn(alice, "user:bob");
    alice.close().await();
    bob.close().await();
  }

  @Test
  void presenceListsTheUsersOfAChannel(Vertx vertx) {
    WsClient a = client(vertx, "pam");
    WsClient b = client(vertx, "pete");
    WsClient b2 = client(vertx, "pete");
    for (WsClient c : List.of(a, b, b2)) {
      Frames.ack(c, "s", Frames.subscribe("room:lobby"));
    }
    JsonObject p = a.request("who", Frames.presence("room:lobby"), WAIT).await();
    assertEquals("presence", p.getString("type"));
    assertEquals("who", p.getString("id"));
    assertEquals("room:lobby", p.getString("channel"));
    // Each user once, however many sessions.
    assertEquals(new JsonArray().add("pam").add("pete"), p.getJsonArray("users"));
    assertEquals(2, p.getInteger("count"));

    Frames.error(a, "topic", Frames.presence("topic:news"), "forbidden");
    for (WsClient c : List.of(a, b, b2)) {
      c.close().await();
    }
  }

  @Test
  void requestIsAnsweredByTheBackendWithTheSessionsUser(Vertx vertx) {
    WsClient c = client(vertx, "rita");
    JsonObject reply = c.request("rpc-1", Frames.request("service.echo", new JsonObject().put("q", 1)), WAIT).await();
    assertEquals("reply", reply.getString("type"), reply.encode());
    assertEquals("rpc-1", reply.getString("id"));
    assertEquals(new JsonObject().put("q", 1), reply.getJsonObject("message").getJsonObject("echo"));
    assertEquals("rita", reply.getJsonObject("message").getString("user_id"));
    c.close().await();
  }

  /**
   * A null message is refused on every path (README, HTTP API validation), request too: as broadcast and send,
   * bad_request "missing field: message" with the request's id, and nothing reaches the service. Before, a
   * request with "message":null was passed on.
   */
  @ParameterizedTest
  @ValueSource(strings = {"request", "broadcast", "send"})
  void aNullMessageIsRefusedAsMissing(String type, Vertx vertx) {
    WsClient c = client(vertx, "nora");
    JsonObject frame = switch (type) {
      case "request" -> Frames.request("service.echo", "x");
      case "broadcast" -> Frames.publish("broadcast", "room:lobby", "x");
      default -> Frames.send("bob", "x");
    };
    JsonObject err = Frames.error(c, "n", frame.putNull("message"), "bad_request");
    assertEquals("missing field: message", err.getString("message"), err.encode());
    assertEquals("reply", c.request("ok", Frames.request("service.echo", 1), WAIT).await().getString("type"),
        "the connection stays open");
    c.close().await();
  }

  @ParameterizedTest
  @ValueSource(strings = {"service.silent", "service.nobody-listens"})
  void requestWithoutAnAnswerInTimeIsATimeout(String address, Vertx vertx) {
    WsClient c = client(vertx, "tim");
    long t0 = System.currentTimeMillis();
    JsonObject err = Frames.error(c, "slow", Frames.request(address, "anyone?"), "timeout");
    assertTrue(System.currentTimeMillis() - t0 < 3_000, "rpc.timeout is 500 ms");
    assertTrue(err.getString("message").contains(address), err.encode());
    c.close().await();
  }

  @ParameterizedTest
  @ValueSource(strings = {"internal.billing", "switchboard.auth.verify", "switchboard.publish"})
  void requestToAnAddressOutsideRpcAllowedIsForbidden(String address, Vertx vertx) {
    WsClient c = client(vertx, "fay");
    Frames.error(c, "no", Frames.request(address, "x"), "forbidden");
    c.close().await();
  }

  @Test
  void historyIsForbiddenWhereTheNamespaceKeepsNone(Vertx vertx) {
    WsClient c = client(vertx, "hal");
    JsonObject err = Frames.error(c, "h", Frames.history("room:lobby"), "forbidden");
    assertTrue(err.getString("message").contains("room:lobby keeps no history (channels.namespaces.room.history_size is 0)"),
        err.encode());
    c.close().await();
  }

  @Test
  void aSubscribeWithSinceOnAChannelThatKeepsNoHistoryIsAckedRecoveredFalse(Vertx vertx) {
    WsClient c = client(vertx, "ian");
    JsonObject ack = c.request("s", Frames.subscribe("room:lobby").put("since", new JsonObject().put("offset", 3)), WAIT).await();
    assertEquals(new JsonObject().put("type", "ack").put("id", "s").put("recovered", false), ack,
        "nothing is kept to recover from: the client must resync");
    JsonObject plain = c.request("p", Frames.subscribe("room:lobby"), WAIT).await();
    assertEquals(new JsonObject().put("type", "ack").put("id", "p"), plain, "no since, no recovered");
    c.close().await();
  }

  @ParameterizedTest
  @CsvSource({"400,bad_request", "403,forbidden", "413,too_large", "429,rate_limited", "500,internal", "7,internal"})
  void aServiceThatRefusesARequestIsAnsweredWithItsCode(int status, String code, Vertx vertx) {
    WsClient c = client(vertx, "ray");
    JsonObject err = Frames.error(c, "f", Frames.request("service.refuses", new JsonObject().put("status", status)), code);
    assertTrue(err.getString("message").contains("refused with " + status), err.encode());
    c.close().await();
  }

  @Test
  void pingIsAnsweredWithPong(Vertx vertx) {
    WsClient c = client(vertx, "pia");
    assertEquals(new JsonObject().put("type", "pong").put("id", 5), c.request(5, Frames.ping(), WAIT).await());
    c.send(Frames.ping()).await();
    assertEquals(new JsonObject().put("type", "pong"), c.next(f -> "pong".equals(f.getString("type")) && !f.containsKey("id"), WAIT).await());
    c.close().await();
  }
}
