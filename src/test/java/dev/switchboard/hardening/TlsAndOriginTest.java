package dev.switchboard.hardening;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.SwitchboardNode;
import dev.switchboard.testing.RawWsClient;
import dev.switchboard.testing.TestNodes;
import dev.switchboard.testing.WsClient;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.http.UpgradeRejectedException;
import io.vertx.core.http.WebSocketClientOptions;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.PemTrustOptions;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SPEC §6: TLS from a PEM certificate and key in config ({@code server.tls.cert}/{@code server.tls.key}),
 * for both wss:// and https://, and the Origin allow-list enforced at the upgrade with HTTP 403, after which the
 * node closes the connection (plain and TLS), so a client learns of the refusal at once.
 *
 * <p>The certificate is generated for this run with {@code openssl req -x509} (self-signed, CN=localhost, one
 * day) and the clients trust exactly that certificate, so a passing test proves the node serves it.
 */
class TlsAndOriginTest {

  static final String ALLOWED = "https://app.example.com";
  static final String PYTHON = "/usr/bin/python3";

  static Vertx vertx;
  static Path dir;
  static Path cert;
  static SwitchboardNode tls;
  static SwitchboardNode origins;
  static SwitchboardNode tlsOrigins;

  @BeforeAll
  static void start() throws Exception {
    vertx = Vertx.vertx();
    dir = Files.createTempDirectory("sb-tls");
    cert = dir.resolve("cert.pem");
    Path key = dir.resolve("key.pem");
    Process p = new ProcessBuilder("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-days", "1", "-keyout", key.toString(), "-out", cert.toString())
        .redirectErrorStream(true).start();
    try {
      assertTrue(p.waitFor(60, TimeUnit.SECONDS), "openssl did not finish");
      assertEquals(0, p.exitValue(), new String(p.getInputStream().readAllBytes()));
    } finally {
      p.destroyForcibly();
    }
    // A short body deadline, for the 408 over TLS; every other request here sends its body at once.
    tls = TestNodes.standalone(new JsonObject().put("server", new JsonObject().put("body_timeout", "2s")
        .put("tls", new JsonObject().put("cert", cert.toString()).put("key", key.toString()))));
    origins = TestNodes.standalone(new JsonObject().put("server", new JsonObject()
        .put("allowed_origins", new JsonArray().add(ALLOWED))));
    tlsOrigins = TestNodes.standalone(new JsonObject().put("server", new JsonObject()
        .put("tls", new JsonObject().put("cert", cert.toString()).put("key", key.toString()))
        .put("allowed_origins", new JsonArray().add(ALLOWED))));
  }

  @AfterAll
  static void stop() throws Exception {
    if (tls != null) {
      tls.close().await();
    }
    if (origins != null) {
      origins.close().await();
    }
    if (tlsOrigins != null) {
      tlsOrigins.close().await();
    }
    vertx.close().await();
    try (Stream<Path> files = Files.walk(dir)) {
      files.sorted((a, b) -> b.compareTo(a)).forEach(f -> f.toFile().delete());
    }
  }

  private static WebSocketClientOptions trustingOurCert() {
    return new WebSocketClientOptions().setSsl(true).setVerifyHost(false)
        .setTrustOptions(new PemTrustOptions().addCertPath(cert.toString()));
  }

  @Test
  void wssConnectsAuthenticatesAndReceivesAMessagePublishedOverHttps() {
    WsClient c = WsClient.connect(vertx, trustingOurCert(), new WebSocketConnectOptions().setHost("127.0.0.1")
        .setPort(tls.port()).setURI("/ws?token=" + TestNodes.token("tina", "secure"))).await();
    HttpClient https = vertx.createHttpClient(new HttpClientOptions().setSsl(true).setVerifyHost(false)
        .setTrustOptions(new PemTrustOptions().addCertPath(cert.toString())));
    try {
      assertEquals("tina", c.next("auth_success", 5_000).await().getString("user_id"));
      assertEquals("ack", c.request(1, new JsonObject().put("type", "subscribe").put("channel", "room:secure"), 5_000)
          .await().getString("type"));
      JsonObject body = new JsonObject().put("channel", "room:secure").put("message", new JsonObject().put("text", "over tls"));
      int status = https.request(new RequestOptions().setMethod(HttpMethod.POST).setHost("127.0.0.1").setPort(tls.port())
              .setURI("/api/publish").addHeader("Authorization", "Bearer " + TestNodes.API_KEY))
          .compose(req -> req.send(Buffer.buffer(body.encode())))
          .map(resp -> resp.statusCode()).await();
      assertEquals(200, status);
      JsonObject m = c.next("message", 5_000).await();
      assertEquals("over tls", m.getJsonObject("message").getString("text"));
    } finally {
      c.close().await();
      https.close().await();
    }
  }

  @Test
  void aKeyThatIsNotTheCertificatesOrAFileThatIsMissingStopsStartUpNamingTheKey() throws Exception {
    Path otherCert = dir.resolve("other-cert.pem");
    Path otherKey = dir.resolve("other-key.pem");
    Process p = new ProcessBuilder("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=other",
        "-days", "1", "-keyout", otherKey.toString(), "-out", otherCert.toString()).redirectErrorStream(true).start();
    try {
      assertTrue(p.waitFor(60, TimeUnit.SECONDS), "openssl did not finish");
    } finally {
      p.destroyForcibly();
    }
    for (var c : java.util.List.of(
        java.util.Map.entry(new String[] {cert.toString(), otherKey.toString()}, "server.tls.key: " + otherKey + " does not belong"),
        java.util.Map.entry(new String[] {dir.resolve("nope.pem").toString(), otherKey.toString()}, "server.tls.cert: cannot read"),
        java.util.Map.entry(new String[] {otherKey.toString(), otherCert.toString()}, "server.tls.cert:"))) {
      JsonObject server = new JsonObject().put("tls", new JsonObject().put("cert", c.getKey()[0]).put("key", c.getKey()[1]));
      Throwable e = assertThrows(Throwable.class, () -> TestNodes.standalone(new JsonObject().put("server", server)));
      Throwable cause = e;
      while (!(cause instanceof dev.switchboard.config.ConfigException) && cause.getCause() != null) {
        cause = cause.getCause();
      }
      assertTrue(cause.getMessage() != null && cause.getMessage().startsWith(c.getValue()), c.getValue() + " ← " + e);
    }
  }

  @Test
  void publishReachesANodeWithASelfSignedCertificateItIsToldToTrust() {
    String url = "https://127.0.0.1:" + tls.port();
    String[] base = {"publish", "--url", url, "--api-key", TestNodes.API_KEY, "--channel", "room:secure", "--message", "{}"};
    dev.switchboard.testing.Cli.Result untrusted = dev.switchboard.testing.Cli.run(base);
    assertEquals(1, untrusted.code(), untrusted.toString());
    String[] trusted = java.util.Arrays.copyOf(base, base.length + 2);
    trusted[base.length] = "--cacert";
    trusted[base.length + 1] = cert.toString();
    dev.switchboard.testing.Cli.Result ok = dev.switchboard.testing.Cli.run(trusted);
    assertEquals(0, ok.code(), ok.toString());
    assertTrue(ok.out().contains("\"ok\":true"), ok.toString());
  }

  @Test
  void plainWebSocketIsNotServedOnTheTlsPort() {
    Throwable e = assertThrows(Throwable.class, () -> WsClient.connect(vertx, tls.port(), "token=" + TestNodes.token("tina")).await());
    assertTrue(!(e instanceof UpgradeRejectedException), "a plain-text upgrade must not get an HTTP answer: " + e);
  }

  @Test
  void forbiddenOriginIsRefusedWithHttp403() {
    Throwable e = assertThrows(Throwable.class, () -> WsClient.connect(vertx, new WebSocketConnectOptions()
        .setHost("127.0.0.1").setPort(origins.port()).setURI("/ws?token=" + TestNodes.token("olga"))
        .addHeader("Origin", "https://evil.example.net")).await());
    assertInstanceOf(UpgradeRejectedException.class, e);
    assertEquals(403, ((UpgradeRejectedException) e).getStatus());
  }

  @Test
  void forbiddenOriginGets403WithConnectionCloseAndTheConnectionEnds() throws Exception {
    RefusedUpgrade r = RefusedUpgrade.plain(origins.port(), "/ws?token=" + TestNodes.token("olga"),
        Map.of("Origin", "https://evil.example.net"), 3_000);
    assertEquals(403, r.status(), r.toString());
    assertEquals("close", r.header("Connection"), r.toString());
    assertTrue(r.closed(), "the server must close the connection after its 403: " + r);
  }

  @Test
  void forbiddenOriginOverTlsGets403AndTheServerEndsTheTlsSession() throws Exception {
    RefusedUpgrade r = RefusedUpgrade.tls(tlsOrigins.port(), cert, "/ws?token=" + TestNodes.token("olga"),
        Map.of("Origin", "https://evil.example.net"), 3_000);
    assertEquals(403, r.status(), r.toString());
    assertEquals("close", r.header("Connection"), r.toString());
    assertTrue(r.closed(), "the server must end the TLS session (close_notify, then EOF) after its 403: " + r);
  }

  /** {@code server.body_timeout} over TLS: the 408 is written through the TLS session, which then ends cleanly. */
  @Test
  void aBodyDrippedOverTlsGets408AndTheServerEndsTheTlsSession() throws Exception {
    String body = "{\"channel\":\"topic:tls\",\"message\":1}";
    try (SSLSocket s = RefusedUpgrade.tlsSocket(tls.port(), cert)) {
      String request = "POST /api/publish HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + TestNodes.API_KEY
          + "\r\nContent-Length: " + body.length() + "\r\n\r\n";
      s.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
      Thread dribbler = SlowPeer.dribble(s, body.getBytes(StandardCharsets.ISO_8859_1), 1, 200);
      try {
        InputStream in = s.getInputStream();
        RawWsClient.ResponseHead head = RawWsClient.readResponseHead(in);
        assertEquals(408, head.status());
        assertEquals("close", head.headers().get("connection"));
        String error = new String(in.readNBytes(Integer.parseInt(head.headers().get("content-length"))),
            StandardCharsets.UTF_8);
        assertTrue(error.contains("server.body_timeout (2000 ms)"), error);
        assertEquals(-1, in.read(), "the server must end the TLS session (close_notify, then EOF) after its 408");
      } finally {
        dribbler.interrupt();
      }
    }
  }

  /**
   * Python's {@code websockets} closes a refused connection and waits for the server's side of the close; over
   * TLS that is the server's close_notify. While the node kept the connection open, the client sat out its whole
   * open timeout (10 s here) and then reported a timeout instead of the 403.
   */
  @Test
  void aPythonWebsocketsClientOverWssReportsTheForbiddenOriginAtOnce(@TempDir Path tmp) throws Exception {
    Path script = tmp.resolve("refused_upgrade.py");
    try (var in = getClass().getResourceAsStream("/python/refused_upgrade.py")) {
      Files.write(script, in.readAllBytes());
    }
    Process py = new ProcessBuilder(PYTHON, script.toString(),
        "wss://127.0.0.1:" + tlsOrigins.port() + "/ws?token=" + TestNodes.token("olga"), cert.toString(),
        "https://evil.example.net").redirectErrorStream(true).start();
    try {
      assertTrue(py.waitFor(20, TimeUnit.SECONDS), "python did not finish");
      String out = new String(py.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
      assertEquals(0, py.exitValue(), out);
      JsonObject report = new JsonObject(out.substring(out.lastIndexOf('\n') + 1));
      assertEquals(403, report.getInteger("status", -1), out);
      assertTrue(report.getDouble("seconds") < 2.0, "the 403 must be reported at once, not after a timeout: " + out);
    } finally {
      py.destroyForcibly();
    }
  }

  @Test
  void allowedOriginIsServed() {
    WsClient c = WsClient.connect(vertx, new WebSocketConnectOptions().setHost("127.0.0.1").setPort(origins.port())
        .setURI("/ws?token=" + TestNodes.token("olga")).addHeader("Origin", ALLOWED)).await();
    try {
      assertEquals("olga", c.next("auth_success", 5_000).await().getString("user_id"));
    } finally {
      c.close().await();
    }
  }

  @Test
  void clientWithoutOriginIsServed() {
    // Browsers always send Origin; a backend or native client sends none and is not a cross-site risk.
    WsClient c = WsClient.connect(vertx, new WebSocketConnectOptions().setHost("127.0.0.1").setPort(origins.port())
        .setURI("/ws?token=" + TestNodes.token("olga")).setAllowOriginHeader(false)).await();
    try {
      assertEquals("olga", c.next("auth_success", 5_000).await().getString("user_id"));
    } finally {
      c.close().await();
    }
  }
}
