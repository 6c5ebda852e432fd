package dev.switchboard.gateway;

import static dev.switchboard.gateway.Frames.WAIT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.SwitchboardNode;
import dev.switchboard.bus.Publication;
import dev.switchboard.cluster.Http;
import dev.switchboard.history.HistoryStore;
import dev.switchboard.testing.RawWsClient;
import dev.switchboard.testing.TestNodes;
import dev.switchboard.testing.WsClient;
import io.micrometer.core.instrument.Counter;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.LongStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A {@code history} answer is one frame, so it is kept within half the session's write-queue bound
 * ({@code session.outbound_queue_bytes}, SPEC §6): the newest messages that fit, oldest first, and
 * {@code "truncated":true} when older ones the request asked for were left out. Before, a channel of large
 * messages answered with every one of them in one frame (60 MB for 1,000 messages of 60 KB), and a dozen such
 * requests that were never read ran a node out of heap. A replay ({@code subscribe} with {@code since}) is read
 * in pages of {@link ChannelRecovery#PAGE}, so it too holds a bounded part of the history at once, and is written at
 * the pace the client reads: whole and in order for a client that reads, 4009 for one that does not.
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
            .put("room", new JsonObject().put("history_size", 100).put("history_ttl", "10m"))
            .put("topic", new JsonObject().put("subscribe", "authenticated").put("history_size", 1000)
                .put("history_ttl", "10m")))));
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
    assertTrue(h.encode().length() <= QUEUE_BYTES / 2 + 256, "within half the bound: " + h.encode().length());
    JsonArray messages = h.getJsonArray("messages");
    assertTrue(messages.size() >= 5 && messages.size() < 40, "some, not all: " + messages.size());
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

  /**
   * Across pages, and at the pace the client reads: the replay is ~45 KiB against this node's 16 KiB write-queue
   * bound, so a replay written as fast as the store yields it cut this client, which reads, with 4009.
   */
  @Test
  void aReplayLargerThanTheWriteQueueIsWholeAndInOrderForAClientThatReads(Vertx vertx) {
    int count = ChannelRecovery.PAGE * 2 + 50;
    publish(vertx, node, "topic:long", count, 0);
    WsClient c = WsClient.authed(vertx, node.port(), TestNodes.token("jan")).await();
    JsonObject ack = resumeFromStart(c, "r", "topic:long").await();
    assertEquals(Boolean.TRUE, ack.getBoolean("recovered"), ack.encode());
    assertEquals(LongStream.rangeClosed(1, count).boxed().toList(), offsets(c, "topic:long"),
        "every message once, in order, before the ack");
  }

  /** Two replays at once, each waiting for its own frames to leave, both complete whole and in order. */
  @Test
  void twoReplaysWaitingAtOnceAreBothWhole(Vertx vertx) {
    int count = ChannelRecovery.PAGE * 2 + 50;
    publish(vertx, node, "topic:two-a", count, 0);
    publish(vertx, node, "topic:two-b", count, 0);
    WsClient c = WsClient.authed(vertx, node.port(), TestNodes.token("lea")).await();
    List<JsonObject> acks = Future.all(resumeFromStart(c, "a", "topic:two-a"), resumeFromStart(c, "b", "topic:two-b"))
        .await().list();
    for (JsonObject ack : acks) {
      assertEquals(Boolean.TRUE, ack.getBoolean("recovered"), ack.encode());
    }
    for (String ch : List.of("topic:two-a", "topic:two-b")) {
      assertEquals(LongStream.rangeClosed(1, count).boxed().toList(), offsets(c, ch), ch);
    }
  }

  /**
   * A client that reads nothing while its replay waits is a slow consumer after all: cut with 4009 once the replay
   * has waited {@link Session#REPLAY_DRAIN_WAIT_MS}, not left holding its page and its channel's live messages.
   */
  @Test
  void aClientThatDoesNotReadDuringItsReplayIsCutAsASlowConsumer(Vertx vertx) throws Exception {
    // 16 MiB: more than the node's queue and both sides' kernel buffers (4 MiB at most here) hold.
    publish(vertx, node, "topic:stuck", 1000, 16 * 1024);
    Counter cut = node.context().registry().find("switchboard.messages.dropped").tag("reason", "slow_consumer").counter();
    double before = cut == null ? 0 : cut.count();
    RawWsClient c = RawWsClient.connect(node.port(), "/ws?token=" + TestNodes.token("kim"), null, Map.of(), 4096);
    try {
      c.send(new JsonObject().put("type", "subscribe").put("id", "r").put("channel", "topic:stuck")
          .put("since", new JsonObject().put("offset", 0)));
      long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(Session.REPLAY_DRAIN_WAIT_MS + 15_000);
      Counter now = null;
      while ((now == null || now.count() <= before) && System.nanoTime() < deadline) {
        vertx.timer(100).await();
        now = node.context().registry().find("switchboard.messages.dropped").tag("reason", "slow_consumer").counter();
      }
      assertTrue(now != null && now.count() > before, "the waiting replay was never cut");
      RawWsClient.Frame f;
      do {
        f = c.read(10_000);
      } while (f.opcode() != 0x8);
      assertEquals(4009, f.closeCode(), f.closeReason());
      assertTrue(f.closeReason().contains("replay waited"), f.closeReason());
    } finally {
      c.close();
    }
  }

  /**
   * Messages trimmed between two pages of a replay (a full ringbuffer overwritten, or a short TTL, while a slow
   * client read the first page) leave a gap the replay cannot fill: it ends {@code "recovered":false}, where it
   * used to skip the gap and say {@code true}. The store here loses offsets 101–110 between the pages.
   */
  @Test
  void aGapThatOpensBetweenPagesEndsTheReplayUnrecovered(Vertx vertx) {
    SwitchboardNode own = TestNodes.standalone(new JsonObject().put("channels", new JsonObject().put("namespaces",
        new JsonObject().put("topic", new JsonObject().put("subscribe", "authenticated").put("history_size", 1000)
            .put("history_ttl", "10m")))));
    HistoryStore real = own.context().history();
    own.context().history(new HistoryStore() {
      @Override
      public Future<Publication> append(Publication pub) {
        return real.append(pub);
      }

      @Override
      public Future<Page> read(String channel, long afterOffset, int limit) {
        return real.read(channel, afterOffset, limit).map(page -> afterOffset < ChannelRecovery.PAGE ? page
            : new Page(page.publications().stream().filter(p -> p.offset() > afterOffset + 10).toList(),
                page.offset(), page.epoch(), afterOffset + 11));
      }

      @Override
      public Future<Page> readNewest(String channel, int limit, long maxBytes) {
        return real.readNewest(channel, limit, maxBytes);
      }
    });
    try {
      publish(vertx, own, "topic:gap", ChannelRecovery.PAGE * 2, 0);
      WsClient c = WsClient.authed(vertx, own.port(), TestNodes.token("mia")).await();
      JsonObject ack = resumeFromStart(c, "r", "topic:gap").await();
      assertEquals(Boolean.FALSE, ack.getBoolean("recovered"), ack.encode());
      assertEquals(LongStream.rangeClosed(1, ChannelRecovery.PAGE).boxed().toList(), offsets(c, "topic:gap"),
          "the first page, then nothing across the gap");
    } finally {
      own.close().await();
    }
  }

  /** A subscribe that resumes {@code channel} from offset 0: all that is kept is replayed before the ack. */
  private static Future<JsonObject> resumeFromStart(WsClient c, String id, String channel) {
    return c.request(id, new JsonObject().put("type", "subscribe").put("channel", channel)
        .put("since", new JsonObject().put("offset", 0)), WAIT);
  }

  /** The offsets of the messages {@code c} received on {@code channel}, in the order they came. */
  private static List<Long> offsets(WsClient c, String channel) {
    return c.received().stream()
        .filter(f -> "message".equals(f.getString("type")) && channel.equals(f.getString("channel")))
        .map(f -> f.getLong("offset")).toList();
  }

  /** Publishes {@code count} messages to {@code channel} over HTTP, each padded to about {@code pad} bytes. */
  private static void publish(Vertx vertx, SwitchboardNode node, String channel, int count, int pad) {
    String padding = "x".repeat(pad);
    for (int from = 1; from <= count; from += 100) {
      JsonArray batch = new JsonArray();
      for (int i = from; i < Math.min(from + 100, count + 1); i++) {
        batch.add(new JsonObject().put("channel", channel).put("message", new JsonObject().put("n", i).put("pad", padding)));
      }
      assertEquals(200, Http.post(vertx, node.port(), "/api/publish", batch).status());
    }
  }
}
