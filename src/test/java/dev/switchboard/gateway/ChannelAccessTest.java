package dev.switchboard.gateway;

import static dev.switchboard.gateway.Frames.WAIT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.spi.ILoggingEvent;
import dev.switchboard.SwitchboardNode;
import dev.switchboard.auth.JwtTokenVerifier;
import dev.switchboard.auth.TokenIssuer;
import dev.switchboard.testing.LogCapture;
import dev.switchboard.testing.TestNodes;
import dev.switchboard.testing.WsClient;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * SPEC §3 channel rules, as a client meets them: who may subscribe and publish where, with the shipped
 * namespace config, a {@code channels} claim, and the automatic broadcast and segment channels.
 */
@ExtendWith(VertxExtension.class)
class ChannelAccessTest {

  static SwitchboardNode node;
  static TokenIssuer issuer;

  @BeforeAll
  static void start(Vertx vertx) {
    node = TestNodes.standalone();
    issuer = new TokenIssuer(vertx, TestNodes.SECRET);
  }

  @AfterAll
  static void stop() {
    node.close().await();
  }

  /** alice: rooms [lobby], channels claim room:vip-*, dept=sales. */
  static WsClient alice(Vertx vertx) {
    return WsClient.authed(vertx, node.port(), issuer.issue("alice", List.of("lobby"), List.of("room:vip-*"),
        Map.of("dept", "sales"), Duration.ofHours(1))).await();
  }

  @ParameterizedTest(name = "subscribe {0} → {1}")
  @CsvSource({
      "user:alice,         ack",
      "user:bob,           forbidden",
      "room:lobby,         ack",
      "room:kitchen,       forbidden",
      "room:vip-lounge,    ack",
      "topic:news,         ack",
      "broadcast,          forbidden",
      "segment:dept=sales, forbidden",
      "segment:dept=ops,   forbidden",
      "nope:thing,         bad_request",
  })
  void subscribe(String channel, String expected, Vertx vertx) {
    WsClient c = alice(vertx);
    JsonObject answer = c.request("s", Frames.subscribe(channel), WAIT).await();
    assertEquals(expected, answer.getString("type").equals("ack") ? "ack" : answer.getString("code"), answer.encode());
    c.close().await();
  }

  @ParameterizedTest(name = "publish {0} → {1}")
  @CsvSource({
      "room:lobby,         ack",
      "room:kitchen,       forbidden",
      "room:vip-lounge,    ack",
      "topic:news,         forbidden",
      "broadcast,          forbidden",
      "segment:dept=sales, forbidden",
      "user:bob,           forbidden",
      "user:alice,         forbidden",
  })
  void publish(String channel, String expected, Vertx vertx) {
    WsClient c = alice(vertx);
    JsonObject answer = c.request("p", Frames.publish("broadcast", channel, "x"), WAIT).await();
    assertEquals(expected, answer.getString("type").equals("ack") ? "ack" : answer.getString("code"), answer.encode());
    c.close().await();
  }

  @Test
  void theStarRoomClaimOpensEveryRoom(Vertx vertx) {
    WsClient c = WsClient.authed(vertx, node.port(), TestNodes.token("admin", "*")).await();
    Frames.ack(c, 1, Frames.subscribe("room:anything-at-all"));
    Frames.ack(c, 2, Frames.publish("broadcast", "room:anything-at-all", "hi"));
    assertEquals("hi", c.next("message", WAIT).await().getString("message"));
    c.close().await();
  }

  /**
   * SPEC §4: the rooms and channels claims may be a string, one name ("lobby", "*") or several comma-separated,
   * as well as a list. A claim of any other type (a number, an object) grants nothing, as before, and is now
   * logged once at WARN naming the claim, so an issuer's mistake does not pass as "no rooms".
   */
  @Test
  void roomsAndChannelsClaimsMayBeAStringAndAnyOtherTypeGrantsNothingAndIsLogged(Vertx vertx) {
    long exp = System.currentTimeMillis() / 1000 + 3600;
    WsClient one = WsClient.authed(vertx, node.port(), issuer.issueRaw(new JsonObject().put("sub", "stringy")
        .put("rooms", "lobby").put("channels", "room:vip-*").put("exp", exp))).await();
    for (String[] row : new String[][] {{"room:lobby", "ack"}, {"room:vip-lounge", "ack"}, {"room:kitchen", "forbidden"}}) {
      JsonObject answer = one.request(row[0], Frames.subscribe(row[0]), WAIT).await();
      assertEquals(row[1], answer.getString("type").equals("ack") ? "ack" : answer.getString("code"), answer.encode());
    }
    WsClient star = WsClient.authed(vertx, node.port(), issuer.issueRaw(new JsonObject().put("sub", "starry")
        .put("rooms", "*").put("exp", exp))).await();
    Frames.ack(star, 1, Frames.subscribe("room:kitchen"));

    try (LogCapture logs = LogCapture.of(JwtTokenVerifier.class)) {
      WsClient odd = WsClient.authed(vertx, node.port(), issuer.issueRaw(new JsonObject().put("sub", "oddly")
          .put("rooms", 5).put("channels", new JsonObject().put("room", "kitchen")).put("exp", exp))).await();
      for (String ch : List.of("room:lobby", "room:kitchen", "room:5")) {
        Frames.error(odd, ch, Frames.subscribe(ch), "forbidden");
      }
      List<ILoggingEvent> ignored = logs.events().stream()
          .filter(e -> e.getFormattedMessage().contains("event=claim_ignored")).toList();
      assertEquals(List.of("rooms", "channels"), ignored.stream()
          .map(e -> e.getFormattedMessage().replaceAll(".* claim=(\\S+) .*", "$1")).toList(), logs.messages()::toString);
      for (ILoggingEvent e : ignored) {
        assertEquals(Level.WARN, e.getLevel());
        assertTrue(e.getFormattedMessage().contains("sub=oddly "), e.getFormattedMessage());
      }
      odd.close().await();
    }
    one.close().await();
    star.close().await();
  }

  @Test
  void broadcastAndSegmentsArriveWithoutSubscribing(Vertx vertx) {
    WsClient sales = alice(vertx);
    WsClient ops = WsClient.authed(vertx, node.port(),
        TestNodes.token("oscar", List.of(), Map.of("dept", "ops"), Duration.ofHours(1))).await();

    Frames.httpPublish(vertx, node.port(), "broadcast", "everyone");
    for (WsClient c : List.of(sales, ops)) {
      JsonObject m = c.next("message", WAIT).await();
      assertEquals("broadcast", m.getString("channel"));
      assertEquals("everyone", m.getString("message"));
    }

    Frames.httpPublish(vertx, node.port(), "segment:dept=sales", "sales only");
    Frames.httpPublish(vertx, node.port(), "segment:dept=ops", "ops only");
    assertEquals("sales only", sales.next("message", WAIT).await().getString("message"));
    assertEquals("ops only", ops.next("message", WAIT).await().getString("message"));
    Frames.assertNothingOn(sales, "segment:dept=ops");
    Frames.assertNothingOn(ops, "segment:dept=sales");
    sales.close().await();
    ops.close().await();
  }

  @Test
  void configCanOpenTopicPublishingAndCloseDirectMessages(Vertx vertx) {
    SwitchboardNode variant = TestNodes.standalone(new JsonObject().put("channels", new JsonObject()
        .put("direct_messages", false)
        .put("namespaces", new JsonObject().put("topic", new JsonObject().put("publish", "authenticated")))));
    try {
      WsClient c = WsClient.authed(vertx, variant.port(), TestNodes.token("tess")).await();
      Frames.ack(c, 1, Frames.subscribe("topic:news"));
      Frames.ack(c, 2, Frames.publish("publish", "topic:news", "extra"));
      assertEquals("extra", c.next("message", WAIT).await().getString("message"));

      JsonObject err = Frames.error(c, 3, Frames.send("bob", "hi"), "forbidden");
      assertFalse(err.getString("message").isEmpty());
      c.close().await();
    } finally {
      variant.close().await();
    }
  }
}
