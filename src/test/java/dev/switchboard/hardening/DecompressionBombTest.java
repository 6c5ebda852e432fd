package dev.switchboard.hardening;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.SwitchboardNode;
import dev.switchboard.bus.Addresses;
import dev.switchboard.testing.LogCapture;
import dev.switchboard.testing.TestNodes;
import dev.switchboard.testing.WsClient;
import io.vertx.core.Vertx;
import io.vertx.core.http.WebSocketClientOptions;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.http.WebSocketFrame;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * permessage-deflate cannot be used to smuggle a huge message past max_message_size: a frame that is
 * small on the wire but inflates far past the limit is stopped while inflating (not after 50 MB have been
 * allocated) and answered with 1009, while compressed traffic within the limit works both ways.
 */
class DecompressionBombTest {

  static Vertx vertx;
  static SwitchboardNode node;

  @BeforeAll
  static void start() {
    vertx = Vertx.vertx();
    node = TestNodes.standalone();
  }

  @AfterAll
  static void stop() {
    node.close().await();
    vertx.close().await();
  }

  static WsClient compressed(String user) {
    WsClient c = WsClient.connect(vertx, new WebSocketClientOptions().setTryUsePerMessageCompression(true)
        // The client must be allowed to send one huge frame for the attack to be possible at all.
        .setMaxFrameSize(64 * 1024 * 1024),
        new WebSocketConnectOptions().setHost("127.0.0.1").setPort(node.port())
            .setURI("/ws?token=" + TestNodes.token(user, "zip"))).await();
    c.next("auth_success", 5_000).await();
    assertEquals("permessage-deflate", c.socket().headers().get("sec-websocket-extensions"), "compression negotiated");
    return c;
  }

  @Test
  void frameInflatingPastTheLimitClosesWith1009() {
    // The node says where it stopped the frame: while inflating (bounded), not after (50 MB allocated).
    try (LogCapture logs = LogCapture.of("dev.switchboard.gateway.Session")) {
      WsClient bomber = compressed("bomber");
      // 50 MB of one letter: about 50 KB once deflated, under the 64 KiB frame limit on the wire.
      String bomb = "{\"type\":\"ping\",\"pad\":\"" + "a".repeat(50_000_000) + "\"}";
      long t0 = System.nanoTime();
      bomber.socket().writeFrame(WebSocketFrame.textFrame(bomb, true));
      assertEquals((short) 1009, bomber.closed(20_000).await());
      System.out.printf("decompression bomb (50 MB inflated, one frame) refused with 1009 in %d ms%n",
          (System.nanoTime() - t0) / 1_000_000);
      assertFalse(logs.containing("inflates past max_message_size").isEmpty(),
          "the frame was not stopped while inflating");
    }
  }

  /** The limit is the same with and without compression: exactly max_message_size passes, one byte more does not. */
  @Test
  void compressedMessageAtTheLimitPassesAndOneByteMoreCloses1009() {
    int max = node.context().config().session().maxMessageSize();
    WsClient c = compressed("edge");
    String head = "{\"type\":\"ping\",\"id\":\"edge\",\"pad\":\"";
    String atLimit = head + "e".repeat(max - head.length() - 2) + "\"}";
    assertEquals(max, atLimit.length());
    c.sendText(atLimit);
    assertEquals("pong", c.answer("edge", 5_000).await().getString("type"), "a compressed message of exactly the limit");
    c.sendText(head + "e".repeat(max - head.length() - 1) + "\"}");
    assertEquals((short) 1009, c.closed(5_000).await(), "a compressed message one byte over the limit");
  }

  @Test
  void compressedTrafficWithinTheLimitWorksBothWays() {
    WsClient c = compressed("zipper");
    try {
      String head = "{\"type\":\"ping\",\"id\":\"big\",\"pad\":\"";
      c.sendText(head + "b".repeat(60_000) + "\"}");
      assertEquals("pong", c.answer("big", 5_000).await().getString("type"));
      assertEquals("ack", c.request("s", new JsonObject().put("type", "subscribe").put("channel", "room:zip"), 5_000)
          .await().getString("type"));
      node.vertx().eventBus().request(Addresses.PUBLISH, new JsonObject().put("channel", "room:zip")
          .put("message", new JsonObject().put("text", "c".repeat(50_000)))).await();
      JsonObject m = c.next("message", 5_000).await();
      assertTrue(m.getJsonObject("message").getString("text").length() == 50_000);
    } finally {
      c.close().await();
    }
  }
}
