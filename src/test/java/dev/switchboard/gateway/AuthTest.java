package dev.switchboard.gateway;

import static dev.switchboard.gateway.Frames.WAIT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.SwitchboardNode;
import dev.switchboard.auth.TokenIssuer;
import dev.switchboard.bus.Addresses;
import dev.switchboard.testing.TestNodes;
import dev.switchboard.testing.WsClient;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.json.JsonArray;
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
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

/** SPEC §4 Authentication: the three ways in, the auth_success shape, failure, timeout, renewal, expiry. */
@ExtendWith(VertxExtension.class)
class AuthTest {

  static SwitchboardNode node;

  @BeforeAll
  static void start() {
    node = TestNodes.standalone(new JsonObject()
        .put("auth", new JsonObject().put("auth_timeout", "3s").put("expiry_grace", "1s")));
  }

  @AfterAll
  static void stop() {
    node.close().await();
  }

  /** The three ways a token reaches the server. */
  enum Way {
    HEADER, QUERY, FIRST_FRAME;

    /** Connects and, for FIRST_FRAME, sends the auth frame (id "auth-1", asking for the given channels). */
    Future<WsClient> open(Vertx vertx, int port, String token, String... channels) {
      WebSocketConnectOptions o = new WebSocketConnectOptions().setHost("127.0.0.1").setPort(port).setURI("/ws");
      return switch (this) {
        case HEADER -> WsClient.connect(vertx, o.addHeader("Authorization", "Bearer " + token));
        case QUERY -> WsClient.connect(vertx, o.setURI("/ws?token=" + token));
        case FIRST_FRAME -> WsClient.connect(vertx, o).compose(c ->
            c.send(Frames.auth(token, channels).put("id", "auth-1")).map(v -> c));
      };
    }
  }

  static String token(String sub, Duration ttl) {
    return TestNodes.token(sub, List.of("lobby"), Map.of("dept", "sales"), ttl);
  }

  @ParameterizedTest
  @EnumSource(Way.class)
  void authSuccessDescribesTheSessionAndItsAutomaticChannels(Way way, Vertx vertx) {
    WsClient c = way.open(vertx, node.port(), token("alice", Duration.ofHours(1)), "room:lobby").await();
    JsonObject ok = c.next("auth_success", WAIT).await();

    assertEquals("alice", ok.getString("user_id"));
    assertFalse(ok.getString("session_id", "").isEmpty(), ok.encode());
    assertEquals(node.name(), ok.getString("node"));
    assertEquals(25, ok.getInteger("heartbeat"));
    long expiresIn = ok.getLong("expires_in");
    assertTrue(expiresIn > 3590 && expiresIn <= 3600, ok.encode());
    JsonArray channels = ok.getJsonArray("channels");
    for (String ch : List.of("user:alice", "broadcast", "segment:dept=sales")) {
      assertTrue(channels.contains(ch), ch + " missing from " + channels);
    }
    assertEquals(way == Way.FIRST_FRAME, channels.contains("room:lobby"), channels.encode());
    if (way == Way.FIRST_FRAME) {
      assertEquals("auth-1", ok.getString("id"));
    }

    // The automatic subscriptions are live by the time auth_success is sent.
    Frames.httpPublish(vertx, node.port(), "segment:dept=sales", new JsonObject().put("tier", "sales"));
    JsonObject m = c.next("message", WAIT).await();
    assertEquals("segment:dept=sales", m.getString("channel"));
    c.close().await();
  }

  @Test
  void aTokenWithoutExpHasNoExpiresIn(Vertx vertx) {
    WsClient c = WsClient.authed(vertx, node.port(), token("nexp", null)).await();
    JsonObject ok = c.received().get(0);
    assertEquals("auth_success", ok.getString("type"));
    assertFalse(ok.containsKey("expires_in"), ok.encode());
    c.close().await();
  }

  @ParameterizedTest
  @EnumSource(Way.class)
  void aBadTokenGetsUnauthorizedThenClose1008(Way way, Vertx vertx) {
    String forged = new TokenIssuer(vertx, "some-other-secret-0123456789-0123456789")
        .issue("mallory", List.of("lobby"), List.of(), Map.of(), Duration.ofHours(1));
    WsClient c = way.open(vertx, node.port(), forged).await();
    JsonObject err = c.next("error", WAIT).await();
    assertEquals("unauthorized", err.getString("code"));
    assertNotNull(err.getString("message"));
    if (way == Way.FIRST_FRAME) {
      assertEquals("auth-1", err.getString("id"));
    }
    assertEquals((short) 1008, c.closed(WAIT).await());
    assertFalse(c.received().stream().anyMatch(f -> "auth_success".equals(f.getString("type"))));
  }

  @Test
  void expiredAndSubjectlessTokensAreRefused(Vertx vertx) {
    TokenIssuer issuer = new TokenIssuer(vertx, TestNodes.SECRET);
    long now = System.currentTimeMillis() / 1000;
    for (JsonObject claims : List.of(new JsonObject().put("sub", "old").put("exp", now - 120),
        new JsonObject().put("rooms", new JsonArray().add("lobby")).put("exp", now + 600))) {
      WsClient c = Way.FIRST_FRAME.open(vertx, node.port(), issuer.issueRaw(claims)).await();
      JsonObject err = c.next("error", WAIT).await();
      assertEquals("unauthorized", err.getString("code"), err.encode());
      assertEquals((short) 1008, c.closed(WAIT).await());
    }
  }

  @Test
  void noAuthWithinTheTimeoutClosesWith1008AuthTimeout(Vertx vertx) {
    WsClient c = WsClient.connect(vertx, node.port(), null).await();
    assertEquals((short) 1008, c.closed(8_000).await());
    assertEquals("auth timeout", c.closeReason());
  }

  @Test
  void requestsBeforeAuthAreRefusedWithoutClosing(Vertx vertx) {
    WsClient c = WsClient.connect(vertx, node.port(), null).await();
    for (JsonObject req : List.of(Frames.subscribe("room:lobby"), Frames.publish("broadcast", "room:lobby", 1),
        Frames.presence("room:lobby"), Frames.send("bob", "hi"))) {
      Object id = req.getString("type") + "-early";
      JsonObject err = Frames.error(c, id, req, "unauthorized");
      assertTrue(err.getString("message").contains("auth"), err.encode());
    }
    assertEquals("pong", c.request(9, Frames.ping(), WAIT).await().getString("type"));
    JsonObject ok = c.request("late-auth", Frames.auth(token("alice", Duration.ofHours(1))), WAIT).await();
    assertEquals("auth_success", ok.getString("type"));
    c.close().await();
  }

  @ParameterizedTest
  @EnumSource(value = Way.class, names = {"QUERY", "FIRST_FRAME"})
  void requestsSentRightBehindTheTokenAreAnsweredAfterAuth(Way way, Vertx vertx) {
    WsClient c = way.open(vertx, node.port(), token("quick", Duration.ofHours(1))).await();
    // No wait for auth_success: a client may pipeline its first requests.
    JsonObject ack = c.request("s1", Frames.subscribe("room:lobby"), WAIT).await();
    assertEquals("ack", ack.getString("type"), ack.encode());
    List<String> types = c.received().stream().map(f -> f.getString("type")).toList();
    assertTrue(types.indexOf("auth_success") >= 0 && types.indexOf("auth_success") < types.indexOf("ack"), types.toString());
    c.close().await();
  }

  @Test
  void aChannelTheTokenDoesNotAllowIsLeftOutOfAuthSuccess(Vertx vertx) {
    WsClient c = Way.FIRST_FRAME.open(vertx, node.port(), token("picky", Duration.ofHours(1)),
        "room:lobby", "room:vault").await();
    JsonObject ok = c.next("auth_success", WAIT).await();
    assertTrue(ok.getJsonArray("channels").contains("room:lobby"));
    assertFalse(ok.getJsonArray("channels").contains("room:vault"));
    JsonObject err = c.next("error", WAIT).await();
    assertEquals("forbidden", err.getString("code"));
    assertEquals("room:vault", err.getString("channel"));
    c.close().await();
  }

  /** A renewal whose token names another segment moves the session: out of the old one, into the new one. */
  @Test
  void renewingWithAChangedSegmentClaimMovesTheSession(Vertx vertx) {
    WsClient c = WsClient.authed(vertx, node.port(),
        TestNodes.token("mover", List.of(), Map.of("dept", "sales"), Duration.ofHours(1))).await();
    assertTrue(c.received().get(0).getJsonArray("channels").contains("segment:dept=sales"));
    JsonObject renewed = c.request("r", Frames.auth(
        TestNodes.token("mover", List.of(), Map.of("dept", "eng"), Duration.ofHours(1))), WAIT).await();
    JsonArray channels = renewed.getJsonArray("channels");
    assertTrue(channels.contains("segment:dept=eng") && !channels.contains("segment:dept=sales"), renewed.encode());
    Frames.error(c, "u", new JsonObject().put("type", "unsubscribe").put("channel", "segment:dept=eng"), "forbidden");

    assertOnlyTheSecondArrives(c, "segment:dept=sales", "segment:dept=eng");
    c.close().await();
  }

  /** A token issued with exactly these claims (besides sub and an exp an hour ahead). */
  static String rawToken(Vertx vertx, String sub, JsonObject claims) {
    return new TokenIssuer(vertx, TestNodes.SECRET).issueRaw(claims.copy().put("sub", sub)
        .put("exp", System.currentTimeMillis() / 1000 + 3600));
  }

  /**
   * SPEC §3 segments from an array claim: one segment channel per usable element. Skipped without refusing the
   * token: null, nested objects and arrays, empty strings, and values that make no valid channel name (a space;
   * a value that fits a user id but makes segment:role=… longer than 255). Before, an array gave no segment at
   * all, and an empty string gave segment:dept=.
   */
  @Test
  void anArrayClaimPutsTheSessionInOneSegmentPerElementAndAnEmptyValueInNone(Vertx vertx) {
    String tooLong = "x".repeat(245);
    WsClient c = WsClient.authed(vertx, node.port(), rawToken(vertx, "multi", new JsonObject()
        .put("role", new JsonArray().add("admin").add("ops").addNull().add(new JsonObject().put("a", 1))
            .add(new JsonArray().add("nested")).add("").add("has space").add(tooLong).add(7).add(true).add("ops"))
        .put("dept", "").put("tenant", new JsonArray()))).await();
    List<String> segments = c.received().get(0).getJsonArray("channels").stream().map(String::valueOf)
        .filter(ch -> ch.startsWith("segment:")).toList();
    assertEquals(List.of("segment:role=7", "segment:role=admin", "segment:role=ops", "segment:role=true"), segments,
        c.received().get(0).encode());

    assertOnlyTheSecondArrives(c, "segment:role=nested", "segment:role=ops");
    assertOnlyTheSecondArrives(c, "segment:role=other", "segment:role=admin");
    Frames.error(c, "u", Frames.unsubscribe("segment:role=admin"), "forbidden");
    c.close().await();
  }

  /**
   * An identity provider's groups or roles can list hundreds, and each segment is a subscription for the session's
   * whole life: one claim gives at most 32 segments, its first 32 usable values.
   */
  @Test
  void oneClaimGivesAtMost32Segments(Vertx vertx) {
    JsonArray roles = new JsonArray();
    for (int i = 0; i < 40; i++) {
      roles.add("r" + i);
    }
    WsClient c = WsClient.authed(vertx, node.port(), rawToken(vertx, "manyroles", new JsonObject().put("role", roles)))
        .await();
    List<String> segments = c.received().get(0).getJsonArray("channels").stream().map(String::valueOf)
        .filter(ch -> ch.startsWith("segment:role=")).toList();
    assertEquals(32, segments.size(), segments::toString);
    assertTrue(segments.contains("segment:role=r31") && !segments.contains("segment:role=r32"), segments::toString);
    c.close().await();
  }

  /** A renewal moves an array claim's session element by element: out of the roles it lost, into the new ones. */
  @Test
  void renewingWithAChangedArrayClaimMovesTheSessionElementByElement(Vertx vertx) {
    WsClient c = WsClient.authed(vertx, node.port(), rawToken(vertx, "shifter",
        new JsonObject().put("role", new JsonArray().add("admin").add("ops")))).await();
    JsonObject renewed = c.request("r", Frames.auth(rawToken(vertx, "shifter",
        new JsonObject().put("role", new JsonArray().add("ops").add("dev")))), WAIT).await();
    JsonArray channels = renewed.getJsonArray("channels");
    assertTrue(channels.contains("segment:role=ops") && channels.contains("segment:role=dev")
        && !channels.contains("segment:role=admin"), renewed.encode());
    assertOnlyTheSecondArrives(c, "segment:role=admin", "segment:role=dev");
    assertOnlyTheSecondArrives(c, "segment:role=admin", "segment:role=ops");
    // The roles it left are no longer automatic for it, the ones it holds still are.
    Frames.error(c, "u", Frames.unsubscribe("segment:role=dev"), "forbidden");
    c.close().await();
  }

  /**
   * A token that is there but empty (?token= with nothing after it, a bare "Bearer", an auth frame's "token":"") is
   * refused at once as a token that does not verify. Before, it was taken for no token (or, in a frame, for a bad
   * request): the client waited out auth_timeout for a 1008 "auth timeout" that did not say why.
   */
  @ParameterizedTest
  @ValueSource(strings = {"query", "header", "frame"})
  void anEmptyTokenOnTheUpgradeIsRefusedAtOnce(String where, Vertx vertx) {
    WebSocketConnectOptions o = new WebSocketConnectOptions().setHost("127.0.0.1").setPort(node.port())
        .setURI(where.equals("query") ? "/ws?token=" : "/ws");
    if (where.equals("header")) {
      o.addHeader("Authorization", "Bearer ");
    }
    long t0 = System.currentTimeMillis();
    WsClient c = WsClient.connect(vertx, o).await();
    if (where.equals("frame")) {
      c.sendText("{\"type\":\"auth\",\"token\":\"\"}");
    }
    JsonObject err = c.next("error", WAIT).await();
    assertEquals("unauthorized", err.getString("code"), err.encode());
    assertTrue(err.getString("message").startsWith("token is empty: "), err.encode());
    assertEquals((short) 1008, c.closed(WAIT).await());
    assertEquals("auth failure", c.closeReason());
    assertTrue(System.currentTimeMillis() - t0 < 2_000, "refused at once, not after auth_timeout (3 s)");
  }

  /** Publishes to the channel the session left, then to the one it is on: the first message it gets is the second. */
  static void assertOnlyTheSecondArrives(WsClient c, String left, String kept) {
    for (String channel : List.of(left, kept)) {
      node.vertx().eventBus().request(Addresses.PUBLISH, new JsonObject().put("channel", channel)
          .put("message", new JsonObject().put("to", channel))).await();
    }
    JsonObject m = c.next("message", WAIT).await();
    assertEquals(kept, m.getString("channel"), "a message of " + left + " arrived: " + m.encode());
  }

  @Test
  void renewingWithANewTokenForTheSameUserAnswersAFreshAuthSuccess(Vertx vertx) {
    WsClient c = WsClient.authed(vertx, node.port(), token("renee", Duration.ofMinutes(1))).await();
    assertTrue(c.received().get(0).getLong("expires_in") <= 60);

    JsonObject renewed = c.request("r1", Frames.auth(token("renee", Duration.ofHours(2))), WAIT).await();
    assertEquals("auth_success", renewed.getString("type"), renewed.encode());
    assertEquals("renee", renewed.getString("user_id"));
    assertTrue(renewed.getLong("expires_in") > 7000, renewed.encode());
    assertEquals(c.received().get(0).getString("session_id"), renewed.getString("session_id"));

    JsonObject other = Frames.error(c, "r2", Frames.auth(token("someone-else", Duration.ofHours(1))), "forbidden");
    assertTrue(other.getString("message").contains("same user"), other.encode());
    Frames.error(c, "r3", Frames.auth("not.a.jwt"), "unauthorized");

    // Still open and still renee.
    assertEquals("pong", c.request("p", Frames.ping(), WAIT).await().getString("type"));
    Frames.ack(c, "s", Frames.subscribe("user:renee"));
    c.close().await();
  }

  @Test
  void anExpiredTokenNotRenewedClosesWith4010WhileARenewedOneStays(Vertx vertx) {
    // exp has whole-second resolution: a 3 s token has 2 to 3 s left when minted.
    WsClient lapsed = WsClient.authed(vertx, node.port(), token("lapsed", Duration.ofSeconds(3))).await();
    WsClient renewed = WsClient.authed(vertx, node.port(), token("renewer", Duration.ofSeconds(3))).await();
    assertEquals("auth_success",
        renewed.request("r", Frames.auth(token("renewer", Duration.ofHours(1))), WAIT).await().getString("type"));

    // exp (3 s) + expiry_grace (1 s) + one tick of the 1 s timer.
    assertEquals((short) 4010, lapsed.closed(10_000).await());
    assertEquals("pong", renewed.request("p", Frames.ping(), WAIT).await().getString("type"));
    renewed.close().await();
  }

  @Test
  void renewingWithFewerRoomsLeavesTheRoomsTheNewTokenDoesNotAllow(Vertx vertx) {
    WsClient c = WsClient.authed(vertx, node.port(),
        TestNodes.token("shrinker", List.of("lobby", "ops"), Map.of(), Duration.ofHours(1))).await();
    Frames.ack(c, "s1", Frames.subscribe("room:lobby"));
    Frames.ack(c, "s2", Frames.subscribe("room:ops"));
    JsonObject renewed = c.request("r", Frames.auth(
        TestNodes.token("shrinker", List.of("ops"), Map.of(), Duration.ofHours(1))), WAIT).await();
    JsonArray channels = renewed.getJsonArray("channels");
    assertTrue(channels.contains("room:ops") && !channels.contains("room:lobby"), renewed.encode());
    JsonObject told = c.received().stream().filter(f -> "error".equals(f.getString("type"))
        && "room:lobby".equals(f.getString("channel"))).findFirst().orElseThrow(() -> new AssertionError(c.received().toString()));
    assertEquals("forbidden", told.getString("code"), told.encode());

    assertOnlyTheSecondArrives(c, "room:lobby", "room:ops");
    c.close().await();
  }

  @Test
  void anExpiredTokenAuthorizesNothingNewWhileItsGraceRuns(Vertx vertx) {
    SwitchboardNode graceful = TestNodes.standalone(new JsonObject().put("auth", new JsonObject().put("expiry_grace", "6s")));
    try {
      WsClient c = WsClient.authed(vertx, graceful.port(), token("lapsing", Duration.ofSeconds(2))).await();
      long deadline = System.currentTimeMillis() + 10_000;
      JsonObject answer;
      int n = 0;
      // Until exp passes a subscribe is acked; from then on it is refused, long before the close at exp + 6 s.
      do {
        assertTrue(System.currentTimeMillis() < deadline, "still acked 10 s after a 2 s token");
        answer = c.request("s" + n, Frames.subscribe("room:lobby"), WAIT).await();
        n++;
      } while ("ack".equals(answer.getString("type")) && pause());
      assertEquals("unauthorized", answer.getString("code"), answer.encode());
      assertTrue(answer.getString("message").contains("token expired: renew it"), answer.encode());
      assertEquals("unauthorized", Frames.error(c, "b", Frames.publish("broadcast", "room:lobby", "late"), "unauthorized").getString("code"));
      assertEquals("pong", c.request("p", Frames.ping(), WAIT).await().getString("type"));
      // A renewal is what the grace is for.
      assertEquals("auth_success", c.request("r", Frames.auth(token("lapsing", Duration.ofHours(1))), WAIT).await()
          .getString("type"));
      Frames.ack(c, "again", Frames.subscribe("room:lobby"));
      c.close().await();
    } finally {
      graceful.close().await();
    }
  }

  /** Paces the polling above (the token's expiry is a moment, not an event a test can wait on), under the rate limit. */
  private static boolean pause() {
    try {
      Thread.sleep(200);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return true;
  }
}
