package dev.switchboard.gateway;

import static dev.switchboard.gateway.Frames.WAIT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.spi.ILoggingEvent;
import dev.switchboard.SwitchboardNode;
import dev.switchboard.bus.Publication;
import dev.switchboard.cluster.Http;
import dev.switchboard.cluster.Tally;
import dev.switchboard.history.HistoryStore;
import dev.switchboard.testing.LogCapture;
import dev.switchboard.testing.RawWsClient;
import dev.switchboard.testing.TestNodes;
import dev.switchboard.testing.WsClient;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.http.WebSocketClientOptions;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Every close code one node produces (SPEC §4): 1000, 1001, 1009, 4008, 4029 in normal protocol use, and 1011
 * when handling a frame fails.
 * (1008 and 4010 are in {@link AuthTest}.) Each test connects from its own loopback address, so the
 * small per-IP limit of this node only bites where it is meant to.
 */
@ExtendWith(VertxExtension.class)
class CloseCodesTest {

  static final int MAX_MESSAGE = 1024;
  static SwitchboardNode node;

  @BeforeAll
  static void start() {
    node = TestNodes.standalone(new JsonObject()
        .put("session", new JsonObject().put("heartbeat", "1s").put("idle_timeout", "3s")
            .put("max_message_size", MAX_MESSAGE))
        .put("limits", new JsonObject().put("messages_per_second", 5).put("burst", 5).put("rate_abuse_limit", 3)
            .put("connections_per_user", 2).put("connections_per_ip", 3)));
  }

  @AfterAll
  static void stop() {
    node.close().await();
  }

  static Future<WsClient> connect(Vertx vertx, String sourceIp, String user) {
    return connect(vertx, new WebSocketClientOptions(), sourceIp, user);
  }

  static Future<WsClient> connect(Vertx vertx, WebSocketClientOptions options, String sourceIp, String user) {
    String uri = user == null ? "/ws" : "/ws?token=" + TestNodes.token(user, "lobby");
    return WsClient.connect(vertx, options.setLocalAddress(sourceIp),
        new WebSocketConnectOptions().setHost("127.0.0.1").setPort(node.port()).setURI(uri));
  }

  static WsClient authed(Vertx vertx, String sourceIp, String user) {
    WsClient c = connect(vertx, sourceIp, user).await();
    c.next("auth_success", WAIT).await();
    return c;
  }

  static RawWsClient rawAuthed(String sourceIp, String user) throws IOException {
    RawWsClient c = RawWsClient.connect(node.port(), "/ws?token=" + TestNodes.token(user, "lobby"), sourceIp, java.util.Map.of());
    assertEquals(101, c.status());
    c.next("auth_success", WAIT);
    return c;
  }

  @Test
  void disconnectApiClosesEverySessionOfTheUserWith1000(Vertx vertx) {
    WsClient erin1 = authed(vertx, "127.0.0.11", "erin");
    WsClient erin2 = authed(vertx, "127.0.0.11", "erin");
    WsClient frank = authed(vertx, "127.0.0.11", "frank");

    Http.Answer a = Http.post(vertx, node.port(), "/api/disconnect", new JsonObject().put("user", "erin"));
    assertEquals(200, a.status(), a.body());
    assertEquals((short) 1000, erin1.closed(WAIT).await());
    assertEquals((short) 1000, erin2.closed(WAIT).await());
    assertEquals("pong", frank.request(1, Frames.ping(), WAIT).await().getString("type"));
    frank.close().await();
  }

  @Test
  void aSilentConnectionIsPingedThenClosedWith1001WhileOneAnsweringPingsStays(Vertx vertx) throws IOException {
    WsClient answering = authed(vertx, "127.0.0.12", "ida");
    try (RawWsClient silent = rawAuthed("127.0.0.12", "ivan")) {
      // The raw client never answers pings; Vert.x's client answers them by itself.
      RawWsClient.Frame close = silent.awaitClose(8_000);
      assertEquals(1001, close.closeCode(), close.toString());
      assertEquals("idle timeout", close.closeReason());
      assertTrue(silent.pingsSeen() >= 1, "the server pinged before giving up: " + silent.pingsSeen());
    }
    // Counted on the test's own event loop, which a loaded machine can run late: wait for it, bounded.
    Tally.waitFor(() -> answering.pingsSeen() >= 2, 5_000, () -> "pings every heartbeat (1 s): " + answering.pingsSeen());
    assertEquals("pong", answering.request(1, Frames.ping(), WAIT).await().getString("type"));
    answering.close().await();
  }

  /** Ways to send a message over max_message_size (1024 bytes on this node). */
  enum Oversize { ONE_FRAME, FRAGMENTED, COMPRESSED }

  @ParameterizedTest
  @EnumSource(Oversize.class)
  void aMessageOverMaxMessageSizeClosesWith1009(Oversize way, Vertx vertx) throws IOException {
    String ip = "127.0.0." + (20 + way.ordinal());
    if (way == Oversize.COMPRESSED) {
      // permessage-deflate shrinks this to a few dozen bytes on the wire; the limit is on the message.
      WsClient c = connect(vertx, new WebSocketClientOptions().setTryUsePerMessageCompression(true), ip, "zip").await();
      c.next("auth_success", WAIT).await();
      assertTrue(String.valueOf(c.socket().headers().get("Sec-WebSocket-Extensions")).contains("permessage-deflate"));
      c.send(Frames.publish("broadcast", "room:lobby", "a".repeat(4 * MAX_MESSAGE))).await();
      assertEquals((short) 1009, c.closed(WAIT).await());
      return;
    }
    try (RawWsClient c = rawAuthed(ip, "big")) {
      // Just under the limit is fine.
      String fits = Frames.ping().put("id", 1).put("pad", "").encode();
      c.sendText(Frames.ping().put("id", 1).put("pad", "p".repeat(MAX_MESSAGE - fits.length())).encode());
      assertEquals(1, c.next("pong", WAIT).getInteger("id"));

      byte[] half = "f".repeat(MAX_MESSAGE / 2 + 100).getBytes(StandardCharsets.UTF_8);
      if (way == Oversize.ONE_FRAME) {
        c.sendText("x".repeat(2 * MAX_MESSAGE));
      } else {
        c.sendFrame(RawWsClient.TEXT, false, half);
        c.sendFrame(RawWsClient.CONTINUATION, true, half);
      }
      RawWsClient.Frame close = c.awaitClose(WAIT);
      assertEquals(1009, close.closeCode(), close.toString());
    }
  }

  @Test
  void persistentRateAbuseClosesWith4008(Vertx vertx) {
    WsClient c = authed(vertx, "127.0.0.30", "rusty");
    for (int i = 0; i < 40; i++) {
      c.send(Frames.ping().put("id", i));
    }
    assertEquals((short) 4008, c.closed(WAIT).await());
    List<JsonObject> got = c.received();
    assertTrue(got.stream().anyMatch(f -> "pong".equals(f.getString("type"))), "the burst is served: " + got);
    List<JsonObject> limited = got.stream().filter(f -> "rate_limited".equals(f.getString("code"))).toList();
    assertTrue(!limited.isEmpty(), "rate_limited errors come before the close: " + got);
    assertTrue(limited.stream().allMatch(f -> f.getValue("id") instanceof Integer), "each refusal echoes its id: " + limited);
    assertEquals("over 5 messages/s (burst 5); message dropped", limited.get(0).getString("message"),
        "the rate as configured (messages_per_second 5), not 5.0");
  }

  /**
   * rate_abuse_limit is 3 here: 1 refusal, then 2 near the 10 s a window counted from the first refusal lasted,
   * then 2 just past them. Each 10 s holds at most 4 of them, but only a window that slides sees that any 4
   * within a few seconds are over the limit; one that started again let through nearly twice the limit.
   */
  @Test
  void refusalsAcrossWhereAFixedWindowWouldResetStillCloseWith4008(Vertx vertx) {
    WsClient c = authed(vertx, "127.0.0.35", "straddler");
    long start = System.nanoTime();
    assertEquals(1, overTheBudget(c, 1));
    keepAliveUntil(vertx, c, start + 7_000_000_000L);
    assertEquals(2, overTheBudget(c, 2));
    keepAliveUntil(vertx, c, start + 11_000_000_000L);
    for (int i = 0; i < 7; i++) {
      c.send(Frames.ping().put("id", "last" + i));
    }
    assertEquals((short) 4008, c.closed(WAIT).await(), "4 refusals within 4 s, over the limit of 3 in 10 s");
  }

  /** Spends the session's burst and then {@code refused} more; returns how many were answered rate_limited. */
  private static int overTheBudget(WsClient c, int refused) {
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < 5 + refused; i++) {
      String id = "b" + System.nanoTime() + "-" + i;
      ids.add(id);
      c.send(Frames.ping().put("id", id));
    }
    int limited = 0;
    for (String id : ids) {
      if ("rate_limited".equals(c.answer(id, WAIT).await().getString("code"))) {
        limited++;
      }
    }
    return limited;
  }

  /**
   * One ping a second (within the budget of 5/s, and inside idle_timeout) until {@code untilNanos}; none in its
   * last 400 ms, so the burst that follows has its whole budget again (a token comes back every 200 ms).
   */
  private static void keepAliveUntil(Vertx vertx, WsClient c, long untilNanos) {
    long left;
    while ((left = (untilNanos - System.nanoTime()) / 1_000_000) > 0) {
      Promise<Void> tick = Promise.promise();
      vertx.setTimer(Math.max(1, Math.min(1000, left)), t -> tick.complete());
      tick.future().await();
      if ((untilNanos - System.nanoTime()) / 1_000_000 > 400) {
        String id = "k" + System.nanoTime();
        c.send(Frames.ping().put("id", id));
        assertEquals("pong", c.answer(id, WAIT).await().getString("type"));
      }
    }
  }

  @Test
  void aFloodOfBinaryFramesIsRateLimitedLikeTextAndClosedWith4008() throws IOException {
    try (RawWsClient c = rawAuthed("127.0.0.34", "binny")) {
      List<byte[]> frames = new ArrayList<>();
      for (int i = 0; i < 40; i++) {
        frames.add(RawWsClient.frameBytes(RawWsClient.BINARY, new byte[] {1, 2, 3}));
      }
      c.sendRaw(concat(frames));
      List<String> codes = new ArrayList<>();
      RawWsClient.Frame f;
      while ((f = c.read(WAIT)).opcode() != RawWsClient.CLOSE) {
        if (f.opcode() == RawWsClient.TEXT) {
          codes.add(new JsonObject(f.text()).getString("code"));
        }
      }
      assertEquals(4008, f.closeCode(), f + " after " + codes);
      assertTrue(codes.contains("bad_request") && codes.contains("rate_limited"), codes.toString());
      assertTrue(codes.size() < 20, "refused within the budget, not one answer per frame: " + codes);
    }
  }

  private static byte[] concat(List<byte[]> parts) {
    java.io.ByteArrayOutputStream all = new java.io.ByteArrayOutputStream();
    parts.forEach(p -> all.write(p, 0, p.length));
    return all.toByteArray();
  }

  @Test
  void aUserOverItsConnectionCapIsClosedWith4029(Vertx vertx) {
    WsClient one = authed(vertx, "127.0.0.31", "gina");
    WsClient two = authed(vertx, "127.0.0.32", "gina");
    WsClient three = connect(vertx, "127.0.0.33", "gina").await();
    assertEquals((short) 4029, three.closed(WAIT).await());
    assertTrue(three.closeReason().contains("user"), three.closeReason());

    // Leaving frees the slot.
    one.close().await();
    WsClient again = pollUntilAuthed(vertx, "127.0.0.33", "gina");
    again.close().await();
    two.close().await();
  }

  @Test
  void anIpOverItsConnectionCapIsClosedWith4029(Vertx vertx) {
    String ip = "127.0.0.40";
    List<WsClient> open = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      open.add(connect(vertx, ip, null).await());
    }
    double closed4029 = disconnects("4029");
    WsClient fourth = connect(vertx, ip, null).await();
    assertEquals((short) 4029, fourth.closed(WAIT).await());
    assertTrue(fourth.closeReason().contains("IP"), fourth.closeReason());
    // Refused after the upgrade, so it is a closed connection like any other, counted by its code.
    assertEquals(closed4029 + 1, disconnects("4029"));

    // Another address is not affected; closing one frees a slot for this one.
    authed(vertx, "127.0.0.41", "other").close().await();
    open.remove(0).close().await();
    pollUntilAuthed(vertx, ip, "henry").close().await();
    open.forEach(c -> c.close().await());
  }

  static double disconnects(String code) {
    return disconnects(node, code);
  }

  @Test
  void textThatIsNotUtf8ClosesWith1007() throws IOException {
    try (RawWsClient c = rawAuthed("127.0.0.50", "ivan")) {
      // A code point split over two fragments is fine: the check runs across the message, not per frame.
      byte[] euro = "{\"type\":\"ping\",\"id\":\"\u20ac\"}".getBytes(StandardCharsets.UTF_8);
      int cut = new String(euro, StandardCharsets.UTF_8).indexOf('\u20ac') + 1;
      c.sendFrame(RawWsClient.TEXT, false, java.util.Arrays.copyOfRange(euro, 0, cut));
      c.sendFrame(RawWsClient.CONTINUATION, true, java.util.Arrays.copyOfRange(euro, cut, euro.length));
      assertEquals("\u20ac", c.next("pong", WAIT).getString("id"));

      byte[] bad = "{\"type\":\"ping\",\"id\":\"x?\"}".getBytes(StandardCharsets.UTF_8);
      bad[bad.length - 3] = (byte) 0xff;
      c.sendFrame(RawWsClient.TEXT, true, bad);
      RawWsClient.Frame close = c.awaitClose(WAIT);
      assertEquals(1007, close.closeCode(), close.toString());
    }
  }

  @Test
  void rsvBitsNoExtensionTookCloseWith1002() throws IOException {
    for (int rsv : new int[] {4, 2, 1}) {
      try (RawWsClient c = rawAuthed("127.0.0.51", "judy" + rsv)) {
        // No permessage-deflate was offered, so RSV1 means nothing here, and RSV2/RSV3 never do.
        c.sendFrameWithRsv(RawWsClient.TEXT, rsv, "{\"type\":\"ping\"}".getBytes(StandardCharsets.UTF_8));
        RawWsClient.Frame close = c.awaitClose(WAIT);
        assertEquals(1002, close.closeCode(), "rsv " + rsv + ": " + close);
      }
    }
  }

  @Test
  void aSocketIsCountedOpenUntilItClosesNotUntilItsCloseFrame() throws IOException {
    // A node of its own: the gauge then counts this test's socket alone.
    SwitchboardNode own = TestNodes.standalone(new JsonObject().put("session",
        new JsonObject().put("heartbeat", "1s").put("idle_timeout", "2s")));
    try (RawWsClient c = RawWsClient.connect(own.port(), "/ws?token=" + TestNodes.token("lena"))) {
      c.next("auth_success", WAIT);
      assertEquals(1.0, gauge(own));
      // Never answers a ping: closed for idleness, and its close frame is not answered either.
      RawWsClient.Frame close = c.awaitClose(WAIT);
      assertEquals(1001, close.closeCode(), close.toString());
      assertEquals(1.0, gauge(own), "the TCP connection is still open, and still holds its max_connections slot");
      dev.switchboard.cluster.Tally.waitFor(() -> gauge(own) == 0.0, WAIT, () -> "gauge once the socket is cut: " + gauge(own));
    } finally {
      own.close().await();
    }
  }

  static double gauge(SwitchboardNode n) {
    return n.context().registry().get("switchboard.connections").gauge().value();
  }

  @Test
  void aCloseCodeOfTheClientsOwnIsCountedAsOther() throws IOException {
    double other = disconnects("other");
    try (RawWsClient c = rawAuthed("127.0.0.52", "kim")) {
      // 4123 is free for applications: each such code a client picks must not become a series of its own.
      c.sendFrame(RawWsClient.CLOSE, true, new byte[] {0x10, 0x1b});
      c.awaitClose(WAIT);
    }
    dev.switchboard.cluster.Tally.waitFor(() -> disconnects("other") == other + 1, WAIT,
        () -> "disconnects{code=other} is " + disconnects("other") + ", was " + other);
    assertEquals(0, disconnects("4123"));
  }

  @Test
  void aCloseFrameWithoutAStatusCodeIsCountedAndLoggedAs1005NotAs1000() throws IOException {
    // A node of its own: no other test's sessions close with 1000 on it while the counters are read.
    SwitchboardNode own = TestNodes.standalone(new JsonObject());
    try (LogCapture logs = LogCapture.of(Session.class)) {
      try (RawWsClient c = RawWsClient.connect(own.port(), "/ws?token=" + TestNodes.token("mona"))) {
        c.next("auth_success", WAIT);
        // RFC 6455 §7.1.5: a close frame with no payload has no status code, which is 1005, not 1000.
        c.sendFrame(RawWsClient.CLOSE, true, new byte[0]);
        c.awaitClose(WAIT);
      }
      dev.switchboard.cluster.Tally.waitFor(() -> disconnects(own, "1005") == 1, WAIT, () -> "disconnects{code=1005}: " + disconnects(own, "1005"));
      assertEquals(0, disconnects(own, "1000"));
      assertEquals(1, logs.containing("event=disconnect").stream()
          .filter(l -> l.contains("user=mona") && l.endsWith("code=1005")).count(), () -> logs.messages().toString());

      try (RawWsClient c = RawWsClient.connect(own.port(), "/ws?token=" + TestNodes.token("nina"))) {
        c.next("auth_success", WAIT);
        c.sendFrame(RawWsClient.CLOSE, true, new byte[] {0x03, (byte) 0xe8});
        c.awaitClose(WAIT);
      }
      dev.switchboard.cluster.Tally.waitFor(() -> disconnects(own, "1000") == 1, WAIT, () -> "disconnects{code=1000}: " + disconnects(own, "1000"));
      assertEquals(1, disconnects(own, "1005"));
    } finally {
      own.close().await();
    }
  }

  /**
   * SPEC §4 1011. The fault is the history store failing as nothing expects it to, swapped in through the node's
   * context: on one channel its read throws at once, on another the page it hands back a loop pass later has no
   * list, so the session's own handler throws after the read. Either way the request is answered {@code internal}
   * with its id, the session is closed with 1011 and counted so, the exception is logged once at ERROR with its
   * stack, and the node goes on serving its other sessions. Before, the request was never answered and the
   * session stayed open.
   */
  @Test
  void anExceptionWhileHandlingAFrameAnswersInternalThenClosesWith1011(Vertx vertx) {
    SwitchboardNode own = TestNodes.standalone(new JsonObject().put("channels", new JsonObject().put("namespaces",
        new JsonObject().put("topic", new JsonObject().put("history_size", 10).put("history_ttl", "1m")))));
    HistoryStore real = own.context().history();
    own.context().history(new HistoryStore() {
      @Override
      public Future<Publication> append(Publication pub) {
        return real.append(pub);
      }

      @Override
      public Future<Page> read(String channel, long afterOffset, int limit) {
        return broken(channel, () -> real.read(channel, afterOffset, limit));
      }

      @Override
      public Future<Page> readNewest(String channel, int limit, long maxBytes) {
        return broken(channel, () -> real.readNewest(channel, limit, maxBytes));
      }

      private Future<Page> broken(String channel, Supplier<Future<Page>> otherwise) {
        return switch (channel) {
          case "topic:fails-at-once" -> throw new IllegalStateException("injected: the store is broken");
          case "topic:fails-later" -> own.vertx().timer(1).map(v -> new Page(null, 0, "e", 1));
          default -> otherwise.get();
        };
      }
    });
    try (LogCapture logs = LogCapture.of(Session.class)) {
      WsClient bystander = WsClient.authed(vertx, own.port(), TestNodes.token("olga")).await();
      int n = 0;
      for (String channel : List.of("topic:fails-at-once", "topic:fails-later")) {
        n++;
        WsClient c = WsClient.authed(vertx, own.port(), TestNodes.token("pavel")).await();
        JsonObject err = c.request("h" + n, Frames.history(channel), WAIT).await();
        assertEquals("error", err.getString("type"), err.encode());
        assertEquals("internal", err.getString("code"), err.encode());
        assertEquals("h" + n, err.getString("id"));
        assertEquals((short) 1011, c.closed(WAIT).await(), channel);
        assertEquals("internal error", c.closeReason());
        int closes = n;
        dev.switchboard.cluster.Tally.waitFor(() -> disconnects(own, "1011") == closes, WAIT,
            () -> "disconnects{code=1011}: " + disconnects(own, "1011"));

        List<ILoggingEvent> logged = logs.events().stream()
            .filter(e -> e.getFormattedMessage().contains("event=internal_error")).toList();
        assertEquals(n, logged.size(), () -> logs.messages().toString());
        ILoggingEvent line = logged.get(n - 1);
        assertEquals(Level.ERROR, line.getLevel());
        assertTrue(line.getFormattedMessage().contains(" user=pavel ") && line.getFormattedMessage().endsWith(" frame=history"),
            line.getFormattedMessage());
        assertTrue(line.getThrowableProxy() != null && line.getThrowableProxy().getStackTraceElementProxyArray().length > 0,
            "logged with its stack");

        JsonObject fine = bystander.request("ok" + n, Frames.history("topic:fine"), WAIT).await();
        assertEquals("history", fine.getString("type"), fine.encode());
      }
      bystander.close().await();
    } finally {
      own.close().await();
    }
  }

  static double disconnects(SwitchboardNode n, String code) {
    var c = n.context().registry().find("switchboard.disconnects").tag("code", code).counter();
    return c == null ? 0 : c.count();
  }

  /** Retries until admitted: releasing a slot is asynchronous. Bounded by a deadline. */
  static WsClient pollUntilAuthed(Vertx vertx, String ip, String user) {
    long deadline = System.currentTimeMillis() + WAIT;
    while (true) {
      WsClient c = connect(vertx, ip, user).await();
      try {
        c.next("auth_success", 2_000).await();
        return c;
      } catch (RuntimeException refused) {
        if (System.currentTimeMillis() > deadline) {
          throw new AssertionError("not admitted again within " + WAIT + " ms", refused);
        }
        c.close().await();
      }
    }
  }
}
