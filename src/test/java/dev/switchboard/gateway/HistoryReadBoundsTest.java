package dev.switchboard.gateway;

import static dev.switchboard.gateway.Frames.WAIT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.SwitchboardNode;
import dev.switchboard.cluster.Http;
import dev.switchboard.testing.TestNodes;
import dev.switchboard.testing.WsClient;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.util.List;
import java.util.stream.LongStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A {@code history} answer is one frame, so it is kept within the session's write-queue bound
 * ({@code session.outbound_queue_bytes}, SPEC §6): the newest messages that fit, oldest first, and
 * {@code "truncated":true} when older ones the request asked for were left out. Before, a channel of large
 * messages answered with every one of them in one frame (60 MB for 1,000 messages of 60 KB), and a dozen such
 * requests that were never read ran a node out of heap. A replay ({@code subscribe} with {@code since}) is read
 * in pages of {@link ChannelRecovery#PAGE}, so it too holds a bounded part of the history at once, and is still
 * whole and in order across pages.
 */
@ExtendWith(VertxExtension.class)
class HistoryReadBoundsTest {

  static final int QUEUE_BYTES = 16 * 1024;
  /** About 1.1 KiB per message as kept: the 40 published are ~45 KiB, nearly three times the bound. */
  static final String KB = "x".repeat(1000);

  static SwitchboardNode node;

  @BeforeAll
  static void start(Vertx vertx) {
    node = TestNodes.standalone(new JsonObject()
        .put("session", new JsonObject().put("outbound_queue_bytes", QUEUE_BYTES))
        .put("channels", new JsonObject().put("namespaces", new JsonObject()
            .put("room", new JsonObject().put("history_size", 100).put("history_ttl", "10m")))));
    JsonArray forty = new JsonArray();
    for (int i = 1; i <= 40; i++) {
      forty.add(new JsonObject().put("channel", "room:big").put("message", new JsonObject().put("n", i).put("pad", KB)));
    }
    assertEquals(200, Http.post(vertx, node.port(), "/api/publish", forty).status());
  }

  @AfterAll
  static void stop() {
    node.close().await();
  }

  @Test
  void anAnswerOverTheWriteQueueBoundKeepsTheNewestThatFitAndSaysSo(Vertx vertx) {
    WsClient c = WsClient.authed(vertx, node.port(), TestNodes.token("hana", "big")).await();
    JsonObject h = c.request("h1", new JsonObject().put("type", "history").put("channel", "room:big").put("limit", 40),
        WAIT).await();
    assertEquals("history", h.getString("type"), h.encode());
    assertTrue(h.encode().length() <= QUEUE_BYTES + 1024, "the frame stays within the bound: " + h.encode().length());
    JsonArray messages = h.getJsonArray("messages");
    assertTrue(messages.size() >= 10 && messages.size() < 40, "some, not all: " + messages.size());
    for (int i = 0; i < messages.size(); i++) {
      long offset = messages.getJsonObject(i).getLong("offset");
      assertEquals(40 - messages.size() + 1 + i, offset, "the newest, oldest first, with no gap");
    }
    assertEquals(40, h.getLong("offset"));
    assertEquals(Boolean.TRUE, h.getBoolean("truncated"), h.encode());
  }

  @Test
  void anAnswerThatFitsIsWholeAndNotMarked(Vertx vertx) {
    WsClient c = WsClient.authed(vertx, node.port(), TestNodes.token("ivo", "big")).await();
    JsonObject h = c.request("h2", new JsonObject().put("type", "history").put("channel", "room:big").put("limit", 5),
        WAIT).await();
    JsonArray messages = h.getJsonArray("messages");
    assertEquals(5, messages.size(), h.encode());
    assertEquals(36, messages.getJsonObject(0).getLong("offset"));
    assertFalse(h.containsKey("truncated"), h.encode());
  }

  @Test
  void aReplayLongerThanOnePageIsWholeAndInOrder(Vertx vertx) {
    // A node of its own, with the default write-queue bound: a replay is written as fast as it is read from the
    // store, so the 16 KiB of the other tests' node would cut this one with 4009.
    SwitchboardNode own = TestNodes.standalone(new JsonObject().put("channels", new JsonObject().put("namespaces",
        new JsonObject().put("topic", new JsonObject().put("subscribe", "authenticated").put("history_size", 1000)
            .put("history_ttl", "10m")))));
    try {
      replaysWhole(vertx, own);
    } finally {
      own.close().await();
    }
  }

  private static void replaysWhole(Vertx vertx, SwitchboardNode node) {
    int count = ChannelRecovery.PAGE * 2 + 50;
    JsonArray many = new JsonArray();
    for (int i = 1; i <= count; i++) {
      many.add(new JsonObject().put("channel", "topic:long").put("message", i));
    }
    assertEquals(200, Http.post(vertx, node.port(), "/api/publish", many).status());
    WsClient c = WsClient.authed(vertx, node.port(), TestNodes.token("jan")).await();
    JsonObject ack = c.request("r", new JsonObject().put("type", "subscribe").put("channel", "topic:long")
        .put("since", new JsonObject().put("offset", 0)), WAIT).await();
    assertEquals(Boolean.TRUE, ack.getBoolean("recovered"), ack.encode());
    List<Long> offsets = c.received().stream().filter(f -> "message".equals(f.getString("type")))
        .map(f -> f.getLong("offset")).toList();
    assertEquals(LongStream.rangeClosed(1, count).boxed().toList(), offsets, "every message once, in order, before the ack");
  }
}
