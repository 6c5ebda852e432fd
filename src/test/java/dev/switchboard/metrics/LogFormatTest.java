package dev.switchboard.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.joran.JoranConfigurator;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.LoggingEvent;
import ch.qos.logback.core.AppenderBase;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.encoder.LayoutWrappingEncoder;
import dev.switchboard.SwitchboardNode;
import dev.switchboard.gateway.ApiRoutes;
import dev.switchboard.gateway.GatewayVerticle;
import dev.switchboard.router.Fanout;
import dev.switchboard.testing.LogCapture;
import dev.switchboard.testing.RawWsClient;
import dev.switchboard.testing.TestNodes;
import dev.switchboard.testing.WsClient;
import io.vertx.core.Vertx;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.slf4j.LoggerFactory;

/** Structured log lines (key=value or JSON), the logback.xml switch, sampling of bodies, and no secrets. */
@ExtendWith(VertxExtension.class)
class LogFormatTest {

  private static final LoggerContext CTX = new LoggerContext();

  private static ILoggingEvent event(String template, Object... args) {
    Logger logger = CTX.getLogger("dev.switchboard.gateway.Session");
    return new LoggingEvent(Logger.class.getName(), logger, Level.INFO, template, null, args);
  }

  private static LogLineLayout layout(String format) {
    LogLineLayout l = new LogLineLayout();
    l.setContext(CTX);
    l.setFormat(format);
    l.start();
    return l;
  }

  @Test
  void keyValueLinesKeepThePairsAndStayOnOneLine() {
    String line = layout("kv").doLayout(event("event=auth_failure session={} ip={} reason=\"{}\"", "ab12", "10.0.0.1",
        "bad\nsignature"));
    assertTrue(line.matches("ts=\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z level=INFO logger=Session "
        + "event=auth_failure session=ab12 ip=10\\.0\\.0\\.1 reason=\"bad\\\\nsignature\"\\R"), line);

    LoggingEvent withError = (LoggingEvent) event("event=routing_failure channel={}", "room:x");
    withError.setThrowableProxy(new ch.qos.logback.classic.spi.ThrowableProxy(new IllegalStateException("boom")));
    String err = layout("kv").doLayout(withError);
    assertEquals(1, err.lines().count(), err);
    assertTrue(err.contains("error=\"java.lang.IllegalStateException: boom\" stack=\""), err);

    String foreign = layout("kv").doLayout(event("Members {size:2, ver:2} [\n\tMember a\n]"));
    assertTrue(foreign.contains(" msg=\"Members {size:2, ver:2} [\\n\\tMember a\\n]\""), foreign);
    assertEquals(1, foreign.lines().count());
  }

  @Test
  void jsonLinesTurnPairsIntoFields() {
    String line = layout("json").doLayout(event("event=connect session={} user={} ip={} note=\"a \\\"quoted\\\" word\"",
        "ab12", null, "127.0.0.1"));
    assertEquals(1, line.lines().count(), line);
    JsonObject o = new JsonObject(line);
    assertEquals("INFO", o.getString("level"));
    assertEquals("Session", o.getString("logger"));
    assertEquals("connect", o.getString("event"));
    assertEquals("ab12", o.getString("session"));
    assertTrue(o.containsKey("user"));
    assertNull(o.getValue("user"));
    assertEquals("127.0.0.1", o.getString("ip"));
    assertEquals("a \"quoted\" word", o.getString("note"));
    assertTrue(o.getString("ts").endsWith("Z"));

    JsonObject foreign = new JsonObject(layout("json").doLayout(event("Members {size:2}\n [x]")));
    assertEquals("Members {size:2}\n [x]", foreign.getString("msg"));

    LoggingEvent withError = (LoggingEvent) event("event=oops level=shadowed");
    withError.setThrowableProxy(new ch.qos.logback.classic.spi.ThrowableProxy(new RuntimeException("bad")));
    JsonObject e = new JsonObject(layout("json").doLayout(withError));
    assertEquals("INFO", e.getString("level"));
    assertEquals("shadowed", e.getString("_level"), "a pair cannot overwrite a fixed field");
    assertTrue(e.getString("stack").contains("\tat "), e.encode());
  }

  /**
   * An Origin header, a message body and a request path are the client's text: each must stay the one value of
   * its pair, so that a line still reads as the event it is (in JSON as in key=value), with no pair the client
   * wrote into it. Before, the origin was put between quotes unescaped and the body not quoted at all.
   */
  @Test
  void textAClientChoseStaysOneValueAndCannotAddPairsToTheLine(Vertx vertx) throws Exception {
    String origin = "https://evil.example\" event=connect user=mallory note=\"";
    JsonObject body = new JsonObject().put("text", "hi event=connect user=mallory");
    String path = "/api/x\"y";
    SwitchboardNode node = TestNodes.standalone(new JsonObject()
        .put("server", new JsonObject().put("allowed_origins", new JsonArray().add("https://app.example")))
        .put("logging", new JsonObject().put("message_sample_rate", 1.0)));
    try (LogCapture gateway = LogCapture.of(GatewayVerticle.class); LogCapture fanout = LogCapture.of(Fanout.class);
         LogCapture api = LogCapture.of(ApiRoutes.class)) {
      try (RawWsClient refused = RawWsClient.connect(node.port(), "/ws", null, Map.of("Origin", origin))) {
        assertEquals(403, refused.status());
      }
      WsClient alice = WsClient.connect(vertx, new WebSocketConnectOptions().setHost("127.0.0.1").setPort(node.port())
          .setURI("/ws?token=" + TestNodes.token("alice", "lobby")).addHeader("Origin", "https://app.example")).await();
      alice.next("auth_success", 5000).await();
      alice.request(1, new JsonObject().put("type", "subscribe").put("channel", "room:lobby"), 5000).await();
      alice.request(2, new JsonObject().put("type", "broadcast").put("channel", "room:lobby").put("message", body), 5000)
          .await();
      alice.next("message", 5000).await();
      alice.close().await();
      try (Socket s = new Socket()) {
        s.bind(new InetSocketAddress(InetAddress.getByName("127.0.0.79"), 0));
        s.connect(new InetSocketAddress("127.0.0.1", node.port()), 5000);
        s.setSoTimeout(10_000);
        s.getOutputStream().write(("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            .getBytes(StandardCharsets.ISO_8859_1));
        assertTrue(new BufferedReader(new InputStreamReader(s.getInputStream())).readLine().contains(" 401 "));
      }

      Map<String, String> refusal = onlyPairs(gateway.containing("event=connect_refused"));
      assertEquals("connect_refused", refusal.get("event"), refusal.toString());
      assertEquals(origin, refusal.get("origin"), refusal.toString());
      Map<String, String> sample = onlyPairs(fanout.containing("event=message_sample"));
      assertEquals("message_sample", sample.get("event"), sample.toString());
      assertEquals(body.encode(), sample.get("body"), sample.toString());
      Map<String, String> keyFailure = onlyPairs(api.containing("event=auth_failure ip=127.0.0.79 "));
      assertEquals("GET " + path, keyFailure.get("route"), keyFailure.toString());
      for (Map<String, String> pairs : List.of(refusal, sample, keyFailure)) {
        assertFalse(pairs.containsKey("user") || pairs.containsKey("note"), "a pair the client wrote: " + pairs);
      }
    } finally {
      node.close().await();
    }
  }

  /** The one message of the list, as the pairs the JSON layout makes fields of (null: not made of pairs). */
  private static Map<String, String> onlyPairs(List<String> messages) {
    assertEquals(1, messages.size(), messages.toString());
    Map<String, String> pairs = LogLineLayout.parsePairs(messages.get(0));
    assertNotNull(pairs, "no longer a line of pairs: " + messages.get(0));
    return pairs;
  }

  @Test
  void logbackXmlSwitchesFormatWithTheEnvironmentVariable() throws Exception {
    assertEquals("kv", configuredFormat(null));
    assertEquals("json", configuredFormat("json"));
  }

  private static String configuredFormat(String env) throws Exception {
    LoggerContext ctx = new LoggerContext();
    if (env != null) {
      // what ${SWITCHBOARD_LOG_FORMAT} resolves to when the variable is set (context properties come first)
      ctx.putProperty("SWITCHBOARD_LOG_FORMAT", env);
    }
    JoranConfigurator jc = new JoranConfigurator();
    jc.setContext(ctx);
    jc.doConfigure(LogFormatTest.class.getClassLoader().getResource("logback.xml"));
    ConsoleAppender<ILoggingEvent> app = (ConsoleAppender<ILoggingEvent>) ctx.getLogger("ROOT").getAppender("STDOUT");
    LayoutWrappingEncoder<ILoggingEvent> enc = (LayoutWrappingEncoder<ILoggingEvent>) app.getEncoder();
    String format = ((LogLineLayout) enc.getLayout()).getFormat();
    ctx.stop();
    return format;
  }

  @Test
  void secretsAreNeverLoggedAndBodiesOnlyAsTruncatedSamples(Vertx vertx) {
    List<ILoggingEvent> captured = new CopyOnWriteArrayList<>();
    AppenderBase<ILoggingEvent> capture = new AppenderBase<>() {
      @Override
      protected void append(ILoggingEvent e) {
        captured.add(e);
      }
    };
    LoggerContext ctx = (LoggerContext) LoggerFactory.getILoggerFactory();
    capture.setContext(ctx);
    capture.start();
    Logger root = ctx.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    root.addAppender(capture);
    SwitchboardNode node = TestNodes.standalone(new JsonObject()
        .put("logging", new JsonObject().put("message_sample_rate", 1.0)));
    String good = TestNodes.token("alice", "lobby");
    String forged = good.substring(0, good.lastIndexOf('.') + 1) + "c2lnbmF0dXJlLW9mLW5vYm9keQ";
    String wrongKey = "wrong-key-0123456789";
    try {
      WsClient alice = WsClient.authed(vertx, node.port(), good).await();
      alice.request(1, new JsonObject().put("type", "subscribe").put("channel", "room:lobby"), 5000).await();
      String big = "x".repeat(500);
      alice.request(2, new JsonObject().put("type", "broadcast").put("channel", "room:lobby").put("message", big), 5000).await();
      alice.next("message", 5000).await();

      WsClient mallory = WsClient.connect(vertx, node.port(), null).await();
      mallory.send(new JsonObject().put("type", "auth").put("token", forged));
      assertEquals((short) 1008, mallory.closed(5000).await());
      WsClient guesser = WsClient.connect(vertx, node.port(), null).await();
      guesser.send(new JsonObject().put("type", "auth").put("api_key", wrongKey));
      assertEquals((short) 1008, guesser.closed(5000).await());
      WsClient admin = WsClient.connect(vertx, node.port(), null).await();
      admin.request(3, new JsonObject().put("type", "auth").put("api_key", TestNodes.API_KEY), 5000).await();
      admin.close().await();
      alice.close().await();

      long deadline = System.currentTimeMillis() + 5000;
      while (captured.stream().filter(e -> e.getFormattedMessage().startsWith("event=disconnect")).count() < 4
          && System.currentTimeMillis() < deadline) {
        vertx.timer(20).await();
      }
    } finally {
      root.detachAppender(capture);
      node.close().await();
    }

    List<String> lines = captured.stream().map(ILoggingEvent::getFormattedMessage).toList();
    assertTrue(lines.stream().anyMatch(l -> l.startsWith("event=connect") && l.contains("user=alice")), lines.toString());
    assertTrue(lines.stream().anyMatch(l -> l.startsWith("event=auth_failure")), lines.toString());
    for (String l : lines) {
      for (String secret : List.of(good, forged, good.substring(good.lastIndexOf('.') + 1), wrongKey, TestNodes.API_KEY)) {
        assertFalse(l.contains(secret), "a secret was logged: " + l);
      }
    }
    List<String> samples = lines.stream().filter(l -> l.startsWith("event=message_sample")).toList();
    assertEquals(1, samples.size(), "sample rate 1.0: every publish is sampled: " + lines);
    assertTrue(samples.get(0).contains("x".repeat(150)) && samples.get(0).length() < 350, samples.get(0));
    assertTrue(samples.get(0).contains("…"), "a long body is truncated: " + samples.get(0));

    LogLineLayout kv = layout("kv");
    LogLineLayout json = layout("json");
    for (ILoggingEvent e : captured) {
      assertEquals(1, kv.doLayout(e).lines().count());
      new JsonObject(json.doLayout(e));  // parses
    }
  }
}
