package dev.switchboard.gateway;

import static dev.switchboard.gateway.Frames.WAIT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.SwitchboardNode;
import dev.switchboard.testing.RawWsClient;
import dev.switchboard.testing.TestNodes;
import dev.switchboard.testing.WsClient;
import io.vertx.core.Vertx;
import io.vertx.core.http.WebSocketClientOptions;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.io.IOException;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** SPEC §4 Compression: permessage-deflate when the client offers it; server.compression:false turns it off. */
@ExtendWith(VertxExtension.class)
class CompressionTest {

  static SwitchboardNode on;
  static SwitchboardNode off;

  @BeforeAll
  static void start() {
    on = TestNodes.standalone();
    off = TestNodes.standalone(new JsonObject().put("server", new JsonObject().put("compression", false)));
  }

  @AfterAll
  static void stop() {
    on.close().await();
    off.close().await();
  }

  @ParameterizedTest(name = "compression enabled: {0}")
  @ValueSource(booleans = {true, false})
  void aClientOfferingDeflateGetsItWhenEnabledAndWorksEitherWay(boolean enabled, Vertx vertx) {
    SwitchboardNode node = enabled ? on : off;
    WsClient c = WsClient.connect(vertx, new WebSocketClientOptions().setTryUsePerMessageCompression(true),
        new WebSocketConnectOptions().setHost("127.0.0.1").setPort(node.port())
            .setURI("/ws?token=" + TestNodes.token("zed", "lobby"))).await();
    c.next("auth_success", WAIT).await();
    String ext = c.socket().headers().get("Sec-WebSocket-Extensions");
    if (enabled) {
      assertTrue(ext != null && ext.contains("permessage-deflate"), "negotiated: " + ext);
    } else {
      assertNull(ext, "nothing negotiated");
    }

    // Both directions carry a large, very compressible message intact.
    String text = "all work and no play makes jack a dull boy. ".repeat(500);
    Frames.ack(c, 1, Frames.subscribe("room:lobby"));
    Frames.ack(c, 2, Frames.publish("broadcast", "room:lobby", new JsonObject().put("text", text)));
    assertEquals(text, c.next("message", WAIT).await().getJsonObject("message").getString("text"));
    c.close().await();
  }

  /**
   * Deliveries are written as frames pre-built once per publication, below the WebSocket encoder; a
   * session that negotiated permessage-deflate must still get them through its deflate encoder.
   */
  @Test
  void deliveriesToADeflateSessionAreCompressed(Vertx vertx) throws IOException {
    deliveriesAreCompressed(vertx, on);
  }

  /**
   * On io_uring the 101 response is written a loop pass after the WebSocket is handed over, so a session
   * authenticated by its handshake token must wait for the compression codec before its auth_success.
   */
  @Test
  void onIoUringToo(Vertx vertx) throws IOException {
    if (!io.vertx.core.transport.Transport.IO_URING.available()) {
      // Nothing to run it on; TransportTest checks that asking for it then fails the start.
      return;
    }
    SwitchboardNode uring = TestNodes.standalone(new JsonObject().put("server", new JsonObject().put("transport", "io_uring")));
    try {
      for (int i = 0; i < 5; i++) {
        deliveriesAreCompressed(vertx, uring);
      }
    } finally {
      uring.close().await();
    }
  }

  private static void deliveriesAreCompressed(Vertx vertx, SwitchboardNode on) throws IOException {
    try (RawWsClient raw = RawWsClient.connect(on.port(), "/ws?token=" + TestNodes.token("yan", "lobby"), null,
        Map.of("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits"))) {
      assertEquals(101, raw.status());
      assertTrue(nextText(raw).compressed(), "auth_success is compressed");
      raw.send(Frames.subscribe("room:lobby").put("id", 1));
      assertTrue(nextText(raw).compressed(), "the subscribe ack is compressed");
      WsClient publisher = WsClient.authed(vertx, on.port(), TestNodes.token("xia", "lobby")).await();
      Frames.ack(publisher, 1, Frames.publish("broadcast", "room:lobby", new JsonObject().put("n", 1)));
      RawWsClient.Frame delivery = nextText(raw);
      assertTrue(delivery.compressed(), "the delivery went through the deflate encoder: " + delivery);
      publisher.close().await();
    }
  }

  private static RawWsClient.Frame nextText(RawWsClient raw) throws IOException {
    while (true) {
      RawWsClient.Frame f = raw.read(WAIT);
      if (f.opcode() == RawWsClient.TEXT) {
        return f;
      }
    }
  }

  @ParameterizedTest(name = "compression enabled: {0}")
  @ValueSource(booleans = {true, false})
  void theUpgradeResponseNamesTheExtensionOnlyWhenEnabled(boolean enabled) throws IOException {
    SwitchboardNode node = enabled ? on : off;
    try (RawWsClient raw = RawWsClient.connect(node.port(), "/ws", null,
        Map.of("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits"))) {
      assertEquals(101, raw.status());
      String ext = raw.header("Sec-WebSocket-Extensions");
      assertEquals(enabled, ext != null && ext.startsWith("permessage-deflate"), "header: " + ext);
    }
  }
}
