package dev.switchboard.hardening;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.switchboard.SwitchboardNode;
import dev.switchboard.auth.TestKeys;
import dev.switchboard.testing.RawWsClient;
import dev.switchboard.testing.TestNodes;
import dev.switchboard.testing.WsClient;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.UpgradeRejectedException;
import io.vertx.core.http.WebSocketClientOptions;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.http.WebSocketFrame;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every bad input SPEC §4 and §6 name, by name, against one real standalone node, each answered as
 * specified — while a well-behaved witness client on the same node receives every message a steady
 * publisher sends throughout (checked after every case and at the end).
 *
 * <p>Limits are lowered so they can be reached quickly: 8 connections per IP, 3 per user, 10 new
 * connections per IP per second, 40 per node. Each abusive connection comes from its own loopback source
 * address (127.0.x.y) unless the case is about one address, so cases never trip each other's limits.
 */
class BadInputMatrixTest {

  static final int PER_IP = 8;
  static final int PER_USER = 3;
  static final int RATE_PER_IP = 10;
  static final int MAX_CONNECTIONS = 40;
  static final String WITNESS_CHANNEL = "room:witness";
  static final long PUBLISH_INTERVAL_MS = 20;

  static Vertx vertx;
  static SwitchboardNode node;
  static Receiver witness;
  static SteadyPublisher publisher;
  static Path dir;
  static KeyPair rsa;
  static KeyPair jwksEc;
  static KeyPair jwksRsa;
  static final AtomicInteger ipCounter = new AtomicInteger();
  static int cases;
  static long publisherStartedNanos;

  @BeforeAll
  static void start() throws Exception {
    vertx = Vertx.vertx();
    rsa = TestKeys.rsa();
    jwksEc = TestKeys.ec();
    jwksRsa = TestKeys.rsa();
    dir = Files.createTempDirectory("sb-matrix");
    Path jwks = dir.resolve("jwks.json");
    Files.writeString(jwks, TestKeys.jwks(TestKeys.jwk(jwksEc, "ES256", "ec-1"), TestKeys.jwk(jwksRsa, "RS256", "rsa-2")).encode());
    node = TestNodes.standalone(new JsonObject()
        .put("server", new JsonObject().put("max_connections", MAX_CONNECTIONS))
        .put("auth", new JsonObject().put("jwt_public_key", TestKeys.publicPem(rsa)).put("jwks_file", jwks.toString()))
        .put("limits", new JsonObject().put("connections_per_ip", PER_IP).put("connections_per_user", PER_USER)
            .put("connect_rate_per_ip", RATE_PER_IP)));
    witness = Receiver.connect(vertx, node.port(), TestNodes.token("witness", "witness"), WITNESS_CHANNEL).await();
    publisher = new SteadyPublisher(node.vertx(), WITNESS_CHANNEL, PUBLISH_INTERVAL_MS).start();
    publisherStartedNanos = System.nanoTime();
  }

  @AfterEach
  void witnessStillReceivesEverything() {
    cases++;
    assertFalse(witness.isClosed(), "the witness was disconnected");
    int missing = publisher.awaitDelivered(List.of(witness), 5_000);
    assertEquals(0, missing, "the witness missed messages published during the abuse");
  }

  @AfterAll
  static void stop() throws Exception {
    try {
      if (publisher != null) {
        publisher.stop();
        long ranMs = (System.nanoTime() - publisherStartedNanos) / 1_000_000;
        int missing = publisher.awaitDelivered(List.of(witness), 5_000);
        int accepted = publisher.accepted().cardinality();
        System.out.printf("witness: %d of %d accepted messages received (%d duplicates) during %d abuse cases%n",
            accepted - missing, accepted, witness.duplicates(), cases);
        assertEquals(0, missing);
        assertEquals(0, witness.duplicates());
        // However fast the cases ran, the publisher must have kept at least half its pace during them: a
        // case that stalled the node's event loops would show as a gap here, not only as a slow test.
        assertTrue(accepted > 0 && accepted >= ranMs / PUBLISH_INTERVAL_MS / 2,
            "the publisher kept at least half its pace throughout: " + accepted + " accepted in " + ranMs + " ms");
      }
    } finally {
      if (witness != null) {
        witness.close().await();
      }
      if (node != null) {
        node.close().await();
      }
      vertx.close().await();
      if (dir != null) {
        try (Stream<Path> files = Files.walk(dir)) {
          files.sorted((a, b) -> b.compareTo(a)).forEach(p -> p.toFile().delete());
        }
      }
    }
  }

  // ---- helpers ------------------------------------------------------------------------------------

  /** A fresh loopback source address: per-IP limits of one case never touch another. */
  static String freshIp() {
    int n = ipCounter.getAndIncrement();
    return "127.0." + (10 + n / 250) + "." + (1 + n % 250);
  }

  static Future<WsClient> connectFrom(String ip, String query, WebSocketConnectOptions extra) {
    WebSocketConnectOptions o = extra != null ? extra : new WebSocketConnectOptions();
    o.setHost("127.0.0.1").setPort(node.port()).setURI("/ws" + (query == null ? "" : "?" + query));
    return WsClient.connect(vertx, new WebSocketClientOptions().setLocalAddress(ip), o);
  }

  static WsClient authedFrom(String ip, String token) {
    WsClient c = connectFrom(ip, "token=" + token, null).await();
    c.next("auth_success", 5_000).await();
    return c;
  }

  static WsClient mallory() {
    return authedFrom(freshIp(), TestNodes.token("mallory", "lobby"));
  }

  static void assertStillServes(WsClient c) {
    // Bounded retries: right after a burst the bucket may still be empty; it refills at 20/s.
    for (int i = 0; i < 40; i++) {
      JsonObject answer = c.request("alive-" + i, new JsonObject().put("type", "ping"), 5_000).await();
      if ("pong".equals(answer.getString("type"))) {
        return;
      }
      assertEquals("rate_limited", answer.getString("code"), "unexpected answer " + answer);
      vertx.timer(60).await();
    }
    fail("the connection no longer answers pings");
  }

  static JsonObject f(Object... kv) {
    JsonObject o = new JsonObject();
    for (int i = 0; i < kv.length; i += 2) {
      o.put((String) kv[i], kv[i + 1]);
    }
    return o;
  }

  // ---- frames that are not requests ---------------------------------------------------------------

  static Stream<Arguments> badFrames() {
    String long300 = "room:" + "a".repeat(295);
    return Stream.of(
        // not a JSON object
        Arguments.of("non_json_text", "hello, not json", null),
        Arguments.of("truncated_json", "{\"type\":\"ping\"", null),
        Arguments.of("empty_text", "", null),
        Arguments.of("whitespace_only", "   \n ", null),
        Arguments.of("json_array", "[{\"type\":\"ping\"}]", null),
        Arguments.of("json_string", "\"ping\"", null),
        Arguments.of("json_number", "42", null),
        Arguments.of("json_null", "null", null),
        Arguments.of("json_true", "true", null),
        // type
        Arguments.of("unknown_type", f("type", "explode", "id", "t1").encode(), "t1"),
        Arguments.of("missing_type", f("id", "t2").encode(), "t2"),
        Arguments.of("type_not_string", f("type", 7, "id", "t3").encode(), "t3"),
        Arguments.of("type_null", f("type", null, "id", "t4").encode(), "t4"),
        Arguments.of("id_is_object", f("type", "ping", "id", f("a", 1)).encode(), null),
        // subscribe
        Arguments.of("subscribe_missing_channel", f("type", "subscribe", "id", 1).encode(), 1),
        Arguments.of("subscribe_channel_number", f("type", "subscribe", "channel", 5, "id", 2).encode(), 2),
        Arguments.of("subscribe_channel_object", f("type", "subscribe", "channel", f(), "id", 3).encode(), 3),
        Arguments.of("subscribe_since_not_object", f("type", "subscribe", "channel", "room:lobby", "since", 5, "id", 4).encode(), 4),
        Arguments.of("subscribe_since_negative_offset", f("type", "subscribe", "channel", "room:lobby", "since", f("offset", -1), "id", 5).encode(), 5),
        Arguments.of("subscribe_since_offset_string", f("type", "subscribe", "channel", "room:lobby", "since", f("offset", "3"), "id", 6).encode(), 6),
        Arguments.of("subscribe_since_epoch_number", f("type", "subscribe", "channel", "room:lobby", "since", f("offset", 1, "epoch", 9), "id", 7).encode(), 7),
        // unsubscribe
        Arguments.of("unsubscribe_missing_channel", f("type", "unsubscribe", "id", 8).encode(), 8),
        // broadcast / publish
        Arguments.of("broadcast_missing_channel", f("type", "broadcast", "message", "hi", "id", 9).encode(), 9),
        Arguments.of("broadcast_missing_message", f("type", "broadcast", "channel", "room:lobby", "id", 10).encode(), 10),
        Arguments.of("broadcast_message_null", f("type", "broadcast", "channel", "room:lobby", "message", null, "id", 11).encode(), 11),
        Arguments.of("broadcast_channel_array", f("type", "broadcast", "channel", new JsonArray().add("room:lobby"), "message", 1, "id", 12).encode(), 12),
        Arguments.of("publish_missing_message", f("type", "publish", "channel", "room:lobby", "id", 13).encode(), 13),
        // send
        Arguments.of("send_missing_to", f("type", "send", "message", "hi", "id", 14).encode(), 14),
        Arguments.of("send_to_number", f("type", "send", "to", 42, "message", "hi", "id", 15).encode(), 15),
        Arguments.of("send_to_bad_chars", f("type", "send", "to", "bob smith", "message", "hi", "id", 16).encode(), 16),
        Arguments.of("send_missing_message", f("type", "send", "to", "bob", "id", 17).encode(), 17),
        // presence
        Arguments.of("presence_missing_channel", f("type", "presence", "id", 18).encode(), 18),
        Arguments.of("presence_channel_boolean", f("type", "presence", "channel", true, "id", 19).encode(), 19),
        // request
        Arguments.of("request_missing_address", f("type", "request", "message", 1, "id", 20).encode(), 20),
        Arguments.of("request_address_number", f("type", "request", "address", 1, "message", 1, "id", 21).encode(), 21),
        Arguments.of("request_address_300_chars", f("type", "request", "address", "service." + "x".repeat(292), "message", 1, "id", 22).encode(), 22),
        Arguments.of("request_missing_message", f("type", "request", "address", "service.echo", "id", 23).encode(), 23),
        // history
        Arguments.of("history_limit_negative", f("type", "history", "channel", "room:lobby", "limit", -5, "id", 24).encode(), 24),
        Arguments.of("history_limit_string", f("type", "history", "channel", "room:lobby", "limit", "10", "id", 25).encode(), 25),
        Arguments.of("history_limit_fraction", f("type", "history", "channel", "room:lobby", "limit", 2.5, "id", 26).encode(), 26),
        Arguments.of("history_missing_channel", f("type", "history", "id", 27).encode(), 27),
        // auth (on an authenticated session: a malformed renewal)
        Arguments.of("auth_missing_token", f("type", "auth", "id", 28).encode(), 28),
        Arguments.of("auth_token_number", f("type", "auth", "token", 12345, "id", 29).encode(), 29),
        Arguments.of("auth_channels_not_array", f("type", "auth", "token", "x", "channels", "room:lobby", "id", 30).encode(), 30),
        Arguments.of("auth_channels_item_number", f("type", "auth", "token", "x", "channels", new JsonArray().add(1), "id", 31).encode(), 31),
        // channel names
        Arguments.of("channel_with_space", f("type", "subscribe", "channel", "room:a b", "id", 40).encode(), 40),
        Arguments.of("channel_with_control_char", f("type", "subscribe", "channel", "room:a\u0007b", "id", 41).encode(), 41),
        Arguments.of("channel_with_newline", f("type", "subscribe", "channel", "room:a\nb", "id", 42).encode(), 42),
        Arguments.of("channel_with_nul", f("type", "subscribe", "channel", "room:a\u0000b", "id", 43).encode(), 43),
        Arguments.of("channel_300_chars", f("type", "subscribe", "channel", long300, "id", 44).encode(), 44),
        Arguments.of("channel_unknown_namespace", f("type", "subscribe", "channel", "nope:lobby", "id", 45).encode(), 45),
        Arguments.of("channel_without_namespace", f("type", "subscribe", "channel", "lobby", "id", 46).encode(), 46),
        Arguments.of("channel_empty_name", f("type", "subscribe", "channel", "room:", "id", 47).encode(), 47),
        Arguments.of("channel_empty_string", f("type", "subscribe", "channel", "", "id", 48).encode(), 48),
        Arguments.of("channel_non_ascii", f("type", "subscribe", "channel", "room:caf\u00e9", "id", 49).encode(), 49),
        Arguments.of("channel_slash", f("type", "subscribe", "channel", "room:a/b", "id", 50).encode(), 50),
        Arguments.of("broadcast_to_channel_with_space", f("type", "broadcast", "channel", "room:a b", "message", 1, "id", 51).encode(), 51),
        Arguments.of("broadcast_to_unknown_namespace", f("type", "broadcast", "channel", "nope:x", "message", 1, "id", 52).encode(), 52),
        Arguments.of("presence_300_chars", f("type", "presence", "channel", long300, "id", 53).encode(), 53));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("badFrames")
  void badFrameIsAnsweredWithBadRequestAndTheConnectionStays(String name, String text, Object id) {
    WsClient c = mallory();
    try {
      c.sendText(text);
      JsonObject err = c.next("error", 5_000).await();
      assertEquals("bad_request", err.getString("code"), name + ": " + err);
      assertFalse(err.getString("message", "").isBlank(), "the error says why");
      if (id != null) {
        assertEquals(id, err.getValue("id"), "the error echoes the request id");
      }
      assertStillServes(c);
    } finally {
      c.close().await();
    }
  }

  // ---- transport ----------------------------------------------------------------------------------

  /** SPEC §4: the answer echoes the request's id, {@code "id":null} included (JSON-RPC clients send it). */
  @Test
  void anIdOfNullIsEchoedAsNull() {
    WsClient c = mallory();
    try {
      c.sendText("{\"type\":\"ping\",\"id\":null}");
      JsonObject pong = c.next("pong", 5_000).await();
      assertTrue(pong.containsKey("id") && pong.getValue("id") == null, pong.encode());
      c.sendText("{\"type\":\"subscribe\",\"id\":null,\"channel\":\"room:no such!\"}");
      JsonObject err = c.next("error", 5_000).await();
      assertTrue(err.containsKey("id") && err.getValue("id") == null, err.encode());
      c.sendText("{\"type\":\"ping\"}");
      assertFalse(c.next("pong", 5_000).await().containsKey("id"), "no id sent, none answered");
    } finally {
      c.close().await();
    }
  }

  @Test
  void binaryFrameIsRefusedWithBadRequestAndTheConnectionStays() {
    WsClient c = mallory();
    try {
      c.socket().writeBinaryMessage(Buffer.buffer("{\"type\":\"ping\"}"));
      JsonObject err = c.next("error", 5_000).await();
      assertEquals("bad_request", err.getString("code"));
      assertStillServes(c);
    } finally {
      c.close().await();
    }
  }

  @Test
  void frameOverTheSizeLimitClosesWith1009() {
    WsClient c = mallory();
    String big = new JsonObject().put("type", "ping").put("pad", "x".repeat(70_000)).encode();
    c.sendText(big);
    assertEquals((short) 1009, c.closed(5_000).await());
  }

  @Test
  void messageOverTheSizeLimitInFragmentsClosesWith1009() {
    WsClient c = mallory();
    // Each fragment is under the frame limit; together they are over the message limit.
    String chunk = "x".repeat(30_000);
    c.socket().writeFrame(WebSocketFrame.textFrame("{\"type\":\"ping\",\"pad\":\"" + chunk, false));
    c.socket().writeFrame(WebSocketFrame.continuationFrame(Buffer.buffer(chunk), false));
    c.socket().writeFrame(WebSocketFrame.continuationFrame(Buffer.buffer(chunk + "\"}"), true));
    assertEquals((short) 1009, c.closed(5_000).await());
  }

  @Test
  void messageExactlyAtTheSizeLimitIsServed() {
    WsClient c = mallory();
    try {
      String head = "{\"type\":\"ping\",\"id\":\"edge\",\"pad\":\"";
      String text = head + "x".repeat(65_536 - head.length() - 2) + "\"}";
      assertEquals(65_536, text.length());
      c.sendText(text);
      assertEquals("pong", c.answer("edge", 5_000).await().getString("type"));
    } finally {
      c.close().await();
    }
  }

  @Test
  void fragmentedTextMessageIsReassembled() {
    WsClient c = mallory();
    try {
      c.socket().writeFrame(WebSocketFrame.textFrame("{\"type\":\"pi", false));
      c.socket().writeFrame(WebSocketFrame.continuationFrame(Buffer.buffer("ng\",\"id\":"), false));
      c.socket().writeFrame(WebSocketFrame.continuationFrame(Buffer.buffer("\"frag\"}"), true));
      assertEquals("pong", c.answer("frag", 5_000).await().getString("type"));
      // One byte per fragment, a subscribe this time.
      byte[] sub = f("type", "subscribe", "channel", "room:lobby", "id", "frag2").encode().getBytes();
      c.socket().writeFrame(WebSocketFrame.textFrame(new String(sub, 0, 1), false));
      for (int i = 1; i < sub.length; i++) {
        c.socket().writeFrame(WebSocketFrame.continuationFrame(Buffer.buffer(new byte[] {sub[i]}), i == sub.length - 1));
      }
      assertEquals("ack", c.answer("frag2", 5_000).await().getString("type"));
    } finally {
      c.close().await();
    }
  }

  // ---- rate ---------------------------------------------------------------------------------------

  @Test
  void burstOverTheRateIsRateLimitedAndDroppedButNotClosed() {
    WsClient c = mallory();
    try {
      int n = 60;
      for (int i = 0; i < n; i++) {
        c.send(f("type", "ping", "id", "b" + i));
      }
      int pongs = 0;
      int limited = 0;
      for (int i = 0; i < n; i++) {
        JsonObject a = c.next(x -> "pong".equals(x.getString("type")) || "error".equals(x.getString("type")), 5_000).await();
        if ("pong".equals(a.getString("type"))) {
          pongs++;
        } else {
          assertEquals("rate_limited", a.getString("code"), a.encode());
          limited++;
        }
      }
      // Burst 40 plus what refilled at 20/s while the 60 arrived.
      assertTrue(pongs >= 40 && pongs < n, "pongs " + pongs);
      assertEquals(n, pongs + limited);
      assertStillServes(c);
    } finally {
      c.close().await();
    }
  }

  @Test
  void persistentAbuseClosesWith4008() {
    WsClient c = mallory();
    // 40 pass (burst), the next 100 are refused with rate_limited, the 101st refusal closes.
    for (int i = 0; i < 200; i++) {
      c.send(f("type", "ping", "id", i));
    }
    assertEquals((short) 4008, c.closed(5_000).await());
    long refusals = c.received().stream().filter(x -> "rate_limited".equals(x.getString("code"))).count();
    assertEquals(100, refusals, "every refusal before the close was answered");
  }

  // ---- subscriptions ------------------------------------------------------------------------------

  /**
   * Requests pipelined behind the auth frame are held up to 32; each one past that is refused with
   * rate_limited and its own id, so the client knows which to send again.
   */
  @Test
  void requestsPastThePipelineBoundAreRefusedWithTheirIds() throws Exception {
    try (RawWsClient c = RawWsClient.connect(node.port(), "/ws", freshIp(), Map.of())) {
      List<String> frames = new ArrayList<>();
      frames.add(f("type", "auth", "id", "auth", "token", TestNodes.token("eager", "pipe")).encode());
      for (int i = 1; i <= 36; i++) {
        frames.add(f("type", "subscribe", "id", i, "channel", "room:pipe").encode());
      }
      c.sendTexts(frames);  // one write, read in one pass: all 37 arrive while the auth is in flight
      List<Integer> refused = new ArrayList<>();
      List<Integer> acked = new ArrayList<>();
      while (refused.size() + acked.size() < 36) {
        JsonObject x = new JsonObject(c.read(10_000).text());
        if ("error".equals(x.getString("type"))) {
          assertEquals("rate_limited", x.getString("code"), x.encode());
          refused.add(x.getInteger("id"));
        } else if ("ack".equals(x.getString("type"))) {
          acked.add(x.getInteger("id"));
        }
      }
      assertEquals(List.of(33, 34, 35, 36), refused, "refused, each with its id");
      assertEquals(32, acked.size(), "held and answered after auth_success: " + acked);
    }
  }

  /**
   * max_subscriptions (128) bounds what the client chose: the automatic channels (user:, broadcast, and
   * here three segments) come on top, and each requested channel past the limit gets its own error.
   */
  @Test
  void tooManySubscriptionsAreRefusedWithTooLarge() {
    WsClient c = connectFrom(freshIp(), null, null).await();
    try {
      JsonArray rooms = new JsonArray();
      for (int i = 0; i < 131; i++) {
        rooms.add("room:r" + i);
      }
      String token = TestNodes.token("hoarder", List.of("*"), Map.of("dept", "d", "tenant", "t", "role", "r"),
          Duration.ofHours(1));
      c.send(f("type", "auth", "id", "a", "token", token, "channels", rooms));
      for (String refused : List.of("room:r128", "room:r129", "room:r130")) {
        JsonObject err = c.next("error", 10_000).await();
        assertEquals("too_large", err.getString("code"), err.encode());
        assertEquals(refused, err.getString("channel"), err.encode());
      }
      JsonObject ok = c.next("auth_success", 10_000).await();
      JsonArray joined = ok.getJsonArray("channels");
      assertEquals(133, joined.size(), "user:, broadcast, 3 segments and 128 rooms: " + joined);
      for (String auto : List.of("user:hoarder", "broadcast", "segment:dept=d", "segment:tenant=t", "segment:role=r")) {
        assertTrue(joined.contains(auto), auto + " in " + joined);
      }
      JsonObject more = c.request("more", f("type", "subscribe", "channel", "room:one-more"), 5_000).await();
      assertEquals("too_large", more.getString("code"));
      assertStillServes(c);
    } finally {
      c.close().await();
    }
  }

  // ---- connections --------------------------------------------------------------------------------

  @Test
  void tooManyConnectionsFromOneIpAreClosedWith4029() {
    String ip = freshIp();
    List<WsClient> open = new ArrayList<>();
    try {
      for (int i = 0; i < PER_IP; i++) {
        open.add(authedFrom(ip, TestNodes.token("ip-user-" + i)));
      }
      WsClient extra = connectFrom(ip, "token=" + TestNodes.token("ip-user-x"), null).await();
      assertEquals((short) 4029, extra.closed(5_000).await());
      assertTrue(extra.closeReason().contains("from this IP"), extra.closeReason());
      // A slot freed is a slot available again.
      open.remove(0).close().await();
      WsClient again = awaitAdmitted(ip, TestNodes.token("ip-user-y"));
      open.add(again);
    } finally {
      open.forEach(c -> c.close().await());
    }
  }

  /** The limiter learns of a close asynchronously: retry briefly (bounded) until the slot is free. */
  static WsClient awaitAdmitted(String ip, String token) {
    for (int i = 0; i < 20; i++) {
      WsClient c = connectFrom(ip, "token=" + token, null).await();
      Future<JsonObject> ok = c.next("auth_success", 2_000);
      Future<Short> closed = c.closed(2_000);
      Future.any(ok, closed).await();
      if (ok.succeeded()) {
        return c;
      }
      c.close().await();
      vertx.timer(100).await();
    }
    throw new AssertionError("never admitted again from " + ip);
  }

  /** True when the connection answers a ping (admitted), false when the server closed it instead. */
  static boolean admittedOrClosed(WsClient c) {
    Future<JsonObject> pong = c.request("probe", new JsonObject().put("type", "ping"), 3_000);
    Future<Short> closed = c.closed(3_000);
    Future.any(pong, closed).await();
    return pong.succeeded();
  }

  /** Waits (bounded) until only the witness is connected, so a case can count the node's slots. */
  static void awaitOnlyWitnessConnected() {
    long deadline = System.currentTimeMillis() + 5_000;
    while (node.context().sessions().connections() > 1 && System.currentTimeMillis() < deadline) {
      vertx.timer(20).await();
    }
    assertEquals(1, node.context().sessions().connections(), "connections left over from an earlier case");
  }

  @Test
  void tooManyNewConnectionsPerSecondFromOneIpAreClosedWith4029() {
    String ip = freshIp();
    int admitted = 0;
    int refused = 0;
    long t0 = System.currentTimeMillis();
    for (int i = 0; i < RATE_PER_IP * 3; i++) {
      // One open at a time, closed at once: the per-IP cap never matters, only the rate.
      WsClient c = connectFrom(ip, null, null).await();
      if (admittedOrClosed(c)) {
        admitted++;
      } else {
        assertEquals((short) 4029, c.closed(1_000).await());
        assertTrue(c.closeReason().contains("per second"), c.closeReason());
        refused++;
      }
      c.close().await();
    }
    long elapsedS = Math.max(1, (System.currentTimeMillis() - t0 + 999) / 1000);
    assertTrue(refused > 0, "some attempts were refused");
    assertTrue(admitted <= RATE_PER_IP * (elapsedS + 1), admitted + " admitted in " + elapsedS + " s");
  }

  @Test
  void tooManyConnectionsForOneUserAreClosedWith4029EvenWhenSimultaneous() {
    String token = TestNodes.token("popular");
    List<WsClient> all = new ArrayList<>();
    try {
      // Six at once, each from its own address: exactly three may be admitted.
      List<Future<WsClient>> connects = new ArrayList<>();
      for (int i = 0; i < PER_USER * 2; i++) {
        connects.add(connectFrom(freshIp(), "token=" + token, null));
      }
      Future.all(connects).await();
      connects.forEach(f -> all.add(f.result()));
      int ok = 0;
      int refused = 0;
      for (WsClient c : all) {
        Future<JsonObject> success = c.next("auth_success", 5_000);
        Future<Short> closed = c.closed(5_000);
        Future.any(success, closed).await();
        if (success.succeeded()) {
          ok++;
        } else {
          assertEquals((short) 4029, closed.result());
          assertTrue(c.closeReason().contains("for this user"), c.closeReason());
          refused++;
        }
      }
      assertEquals(PER_USER, ok);
      assertEquals(PER_USER, refused);
    } finally {
      all.forEach(c -> c.close().await());
    }
  }

  @Test
  void connectionsOverTheNodeLimitAreRefusedWithHttp503() {
    awaitOnlyWitnessConnected();
    List<WsClient> open = new ArrayList<>();
    try {
      UpgradeRejectedException rejected = null;
      for (int i = 0; i < MAX_CONNECTIONS + 5 && rejected == null; i++) {
        try {
          open.add(connectFrom(freshIp(), null, null).await());
        } catch (UpgradeRejectedException e) {
          rejected = e;
        }
      }
      assertInstanceOf(UpgradeRejectedException.class, rejected, "no upgrade was refused");
      assertEquals(503, rejected.getStatus());
      // The witness plus these fill the node exactly.
      assertEquals(MAX_CONNECTIONS, open.size() + 1);
      open.remove(open.size() - 1).close().await();
      open.add(awaitAdmitted(freshIp(), TestNodes.token("late-comer")));
    } finally {
      open.forEach(c -> c.close().await());
    }
  }

  // ---- tokens -------------------------------------------------------------------------------------

  static Stream<Arguments> tokens() {
    long now = TestKeys.now();
    JsonObject eve = f("sub", "eve");
    KeyPair otherRsa = TestKeys.rsa();
    KeyPair otherEc = TestKeys.ec();
    Vertx v = vertx;
    {
      List<Object[]> rows = List.of(
          new Object[] {"valid_hs256", (Supplier<String>) () -> TestNodes.token("eve"), null},
          new Object[] {"valid_rs256_pem", (Supplier<String>) () -> TestKeys.sign(v, "RS256", rsa, null, eve), null},
          new Object[] {"valid_es256_jwks", (Supplier<String>) () -> TestKeys.sign(v, "ES256", jwksEc, "ec-1", eve), null},
          new Object[] {"valid_rs256_jwks", (Supplier<String>) () -> TestKeys.sign(v, "RS256", jwksRsa, "rsa-2", eve), null},
          new Object[] {"alg_none", (Supplier<String>) () -> TestKeys.unsecured(eve, true), "token is not signed"},
          new Object[] {"alg_none_without_signature_segment", (Supplier<String>) () -> TestKeys.unsecured(eve, false), "token is not signed"},
          new Object[] {"alg_none_with_copied_signature", (Supplier<String>) () -> TestKeys.unsecured(eve, true)
              + TestNodes.token("eve").split("\\.")[2], "token algorithm not accepted"},
          new Object[] {"wrong_hs_key", (Supplier<String>) () -> TestKeys.hs256(v, "not-the-secret-0123456789-0123456789", eve), "invalid token signature"},
          new Object[] {"past_exp", (Supplier<String>) () -> TestKeys.hs256(v, TestNodes.SECRET, f("sub", "eve", "exp", now - 60)), "token expired"},
          new Object[] {"past_exp_rs256", (Supplier<String>) () -> TestKeys.sign(v, "RS256", rsa, null, f("sub", "eve", "exp", now - 60)), "token expired"},
          new Object[] {"missing_sub", (Supplier<String>) () -> TestKeys.hs256(v, TestNodes.SECRET, f("rooms", new JsonArray().add("lobby"))), "token has no sub claim"},
          new Object[] {"empty_sub", (Supplier<String>) () -> TestKeys.hs256(v, TestNodes.SECRET, f("sub", "")), "token has no sub claim"},
          new Object[] {"sub_not_a_string", (Supplier<String>) () -> TestKeys.hs256(v, TestNodes.SECRET, f("sub", 42)), "sub claim must be a string"},
          new Object[] {"sub_with_space", (Supplier<String>) () -> TestKeys.hs256(v, TestNodes.SECRET, f("sub", "eve smith")), "sub claim has a character outside"},
          new Object[] {"sub_too_long", (Supplier<String>) () -> TestKeys.hs256(v, TestNodes.SECRET, f("sub", "e".repeat(300))), "sub claim is longer than 250"},
          new Object[] {"nbf_ahead", (Supplier<String>) () -> TestKeys.hs256(v, TestNodes.SECRET, f("sub", "eve", "nbf", now + 600)), "token not valid yet (its nbf is in the future)"},
          new Object[] {"iat_ahead", (Supplier<String>) () -> TestKeys.hs256(v, TestNodes.SECRET, f("sub", "eve", "iat", now + 600)), "token not valid yet (its iat is in the future)"},
          new Object[] {"rs256_wrong_key", (Supplier<String>) () -> TestKeys.sign(v, "RS256", otherRsa, null, eve), "invalid token signature"},
          new Object[] {"rs256_wrong_key_known_kid", (Supplier<String>) () -> TestKeys.sign(v, "RS256", otherRsa, "rsa-2", eve), "invalid token signature"},
          new Object[] {"es256_wrong_key_known_kid", (Supplier<String>) () -> TestKeys.sign(v, "ES256", otherEc, "ec-1", eve), "invalid token signature"},
          new Object[] {"es256_unknown_kid", (Supplier<String>) () -> TestKeys.sign(v, "ES256", otherEc, "ec-unknown", eve), "token key id is not known"},
          new Object[] {"hs256_signed_with_the_rsa_public_key", (Supplier<String>) () -> TestKeys.hs256WithPublicKey(v, rsa, eve), "invalid token signature"},
          new Object[] {"tampered_claims", (Supplier<String>) () -> TestKeys.tamper(TestNodes.token("eve"), f("sub", "admin")), "invalid token signature"},
          new Object[] {"not_a_jwt", (Supplier<String>) () -> "not-a-jwt", "invalid token"},
          new Object[] {"three_garbage_segments", (Supplier<String>) () -> "a.b.c", "invalid token"},
          new Object[] {"header_not_json", (Supplier<String>) () -> "eyJub3QganNvbg.eyJzdWIiOiJldmUifQ.c2ln", "invalid token"});
      List<Arguments> out = new ArrayList<>();
      for (Object[] r : rows) {
        for (String mode : List.of("query", "header", "frame")) {
          out.add(Arguments.of(r[0] + "_via_" + mode, mode, r[1], r[2]));
        }
      }
      return out.stream();
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("tokens")
  void tokenIsAcceptedOrRefusedWithUnauthorizedAnd1008(String name, String mode, Supplier<String> token, String expected) {
    String t = token.get();
    WsClient c = switch (mode) {
      case "query" -> connectFrom(freshIp(), "token=" + java.net.URLEncoder.encode(t, java.nio.charset.StandardCharsets.UTF_8), null).await();
      case "header" -> connectFrom(freshIp(), null, new WebSocketConnectOptions().addHeader("Authorization", "Bearer " + t)).await();
      default -> {
        WsClient w = connectFrom(freshIp(), null, null).await();
        w.send(f("type", "auth", "token", t, "id", "auth"));
        yield w;
      }
    };
    try {
      if (expected == null) {
        JsonObject ok = c.next("auth_success", 5_000).await();
        assertEquals("eve", ok.getString("user_id"));
      } else {
        JsonObject err = c.next("error", 5_000).await();
        assertEquals("unauthorized", err.getString("code"), name + ": " + err);
        assertTrue(err.getString("message").contains(expected), name + ": " + err);
        assertEquals((short) 1008, c.closed(5_000).await(), name);
        assertFalse(err.getString("message").contains(t), "the reason never echoes the token");
      }
    } finally {
      c.close().await();
    }
  }
}
