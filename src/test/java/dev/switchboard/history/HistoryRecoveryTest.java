package dev.switchboard.history;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.SwitchboardNode;
import dev.switchboard.cluster.Http;
import dev.switchboard.testing.TestNodes;
import dev.switchboard.testing.WsClient;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * History and recovery on a three-node cluster (SPEC §3, §4): offsets and epochs on every message,
 * subscribe with {@code since}, {@code recovered}, the history request and GET /api/history.
 */
@ExtendWith(VertxExtension.class)
class HistoryRecoveryTest {

  static List<SwitchboardNode> nodes;

  @BeforeAll
  static void start() {
    nodes = TestNodes.cluster(3, new JsonObject()
        .put("channels", new JsonObject().put("namespaces", new JsonObject()
            .put("room", new JsonObject().put("subscribe", "claim").put("publish", "members").put("presence", true)
                .put("history_size", 1000).put("history_ttl", "10m"))
            .put("topic", new JsonObject().put("subscribe", "authenticated").put("publish", "none")
                .put("history_size", 10).put("history_ttl", "10m")))));
  }

  @AfterAll
  static void stop() {
    TestNodes.closeAll(nodes);
  }

  private static JsonObject subscribe(String channel) {
    return new JsonObject().put("type", "subscribe").put("channel", channel);
  }

  /** Publishes "<tag>-<i>" for i in [from, to) over HTTP on one node, one after the other. */
  private static Future<Void> publishRange(Vertx vertx, SwitchboardNode node, String channel, String tag, int from, int to) {
    Future<Void> chain = Future.succeededFuture();
    for (int i = from; i < to; i++) {
      JsonObject body = new JsonObject().put("channel", channel).put("message", new JsonObject().put("n", tag + "-" + i));
      chain = chain.compose(v -> Http.call(vertx, node.port(), HttpMethod.POST, "/api/publish", body)
          .compose(a -> a.status() == 200 ? Future.succeededFuture() : Future.failedFuture(a.body())));
    }
    return chain;
  }

  private static List<JsonObject> messages(WsClient c, String channel) {
    List<JsonObject> out = new ArrayList<>();
    for (JsonObject f : c.received()) {
      if ("message".equals(f.getString("type")) && channel.equals(f.getString("channel"))) {
        out.add(f);
      }
    }
    return out;
  }

  @Test
  void aSubscriberThatMissesPartOfAStreamFromTwoNodesRecoversEveryNumberOnce(Vertx vertx) {
    String ch = "room:stream";
    int perNode = 60;
    WsClient before = WsClient.authed(vertx, nodes.get(2).port(), TestNodes.token("carol", "*")).await();
    before.request(1, subscribe(ch), 10_000).await();
    // First third from both nodes while connected.
    Future.all(publishRange(vertx, nodes.get(0), ch, "a", 0, perNode / 3),
        publishRange(vertx, nodes.get(1), ch, "b", 0, perNode / 3)).await();
    before.next(f -> "message".equals(f.getString("type")) && f.getLong("offset", 0L) >= 2L * (perNode / 3), 10_000).await();
    before.close().await();
    List<JsonObject> seenBefore = messages(before, ch);
    // The position to resume from is the highest offset below which nothing is missing: two nodes publish,
    // so a later offset can overtake an earlier one on the way (what switchboard.js and the Java client do).
    TreeMap<Long, JsonObject> beforeByOffset = new TreeMap<>();
    seenBefore.forEach(f -> beforeByOffset.put(f.getLong("offset"), f));
    long last = 0;
    while (beforeByOffset.containsKey(last + 1)) {
      last++;
    }
    String epoch = seenBefore.get(0).getString("epoch");
    // The rest is published while carol is away, and goes on while she reconnects.
    Future<Void> rest = Future.all(publishRange(vertx, nodes.get(0), ch, "a", perNode / 3, perNode),
        publishRange(vertx, nodes.get(1), ch, "b", perNode / 3, perNode)).mapEmpty();
    WsClient after = WsClient.authed(vertx, nodes.get(2).port(), TestNodes.token("carol", "*")).await();
    JsonObject ack = after.request(2, subscribe(ch).put("since", new JsonObject().put("offset", last).put("epoch", epoch)),
        10_000).await();
    assertEquals("ack", ack.getString("type"), ack.encode());
    assertTrue(ack.getBoolean("recovered"), ack.encode());
    rest.await();
    after.next(f -> "message".equals(f.getString("type")) && f.getLong("offset", 0L) == 2L * perNode, 15_000).await();

    TreeMap<Long, String> byOffset = new TreeMap<>();
    Map<String, Integer> counts = new HashMap<>();
    List<JsonObject> all = new ArrayList<>(beforeByOffset.headMap(last, true).values());
    for (JsonObject m : messages(after, ch)) {
      assertTrue(m.getLong("offset") > last, "only what came after the position is sent: " + m.encode());
      all.add(m);
    }
    for (JsonObject m : all) {
      assertEquals(epoch, m.getString("epoch"));
      String n = m.getJsonObject("message").getString("n");
      String prev = byOffset.put(m.getLong("offset"), n);
      assertTrue(prev == null, "offset " + m.getLong("offset") + " delivered twice");
      counts.merge(n, 1, Integer::sum);
    }
    assertEquals(2 * perNode, counts.size(), "every number arrives");
    counts.forEach((n, c) -> assertEquals(1, c, n + " arrives once"));
    assertEquals(1L, byOffset.firstKey());
    assertEquals(2L * perNode, byOffset.lastKey(), "offsets are gapless: 1.." + 2 * perNode);
    // Each node's own numbers keep their order when read in offset order.
    List<String> ordered = new ArrayList<>(byOffset.values());
    for (String tag : List.of("a", "b")) {
      List<Integer> seq = ordered.stream().filter(n -> n.startsWith(tag + "-"))
          .map(n -> Integer.parseInt(n.substring(2))).toList();
      for (int i = 1; i < seq.size(); i++) {
        assertTrue(seq.get(i) > seq.get(i - 1), tag + " out of order: " + seq);
      }
    }
    // The replayed part came before the ack, in offset order.
    List<Long> replayed = new ArrayList<>();
    for (JsonObject f : after.received()) {
      if (Integer.valueOf(2).equals(f.getValue("id"))) {
        break;
      }
      if ("message".equals(f.getString("type"))) {
        replayed.add(f.getLong("offset"));
      }
    }
    for (int i = 1; i < replayed.size(); i++) {
      assertTrue(replayed.get(i) > replayed.get(i - 1), "replay in offset order: " + replayed);
    }
    after.close().await();
  }

  /**
   * A session already receiving a channel asks to recover it again (subscribe with {@code since} on a live
   * subscription) while publications keep coming, round after round. A fan-out hands an idle socket its
   * frame without reading the session (SendGate.deliver), so the session must switch that off while it
   * recovers: otherwise a publication arriving during the history read goes out before the replay and is
   * missing after it.
   */
  @Test
  void aLiveSubscriberThatRecoversAgainGetsTheReplayThenTheHeldMessagesWithNoGap(Vertx vertx) {
    String ch = "room:again";
    int total = 300;
    WsClient c = WsClient.authed(vertx, nodes.get(0).port(), TestNodes.token("gina", "*")).await();
    c.request(1, subscribe(ch), 10_000).await();
    Future<Void> publishing = publishRange(vertx, nodes.get(1), ch, "p", 0, total);
    JsonObject first = c.next("message", 10_000).await();
    String epoch = first.getString("epoch");
    int rounds = 0;
    while (!publishing.isComplete() && rounds < 40) {
      rounds++;
      JsonObject ack = c.request(1 + rounds, subscribe(ch).put("since", new JsonObject().put("offset", 0).put("epoch", epoch)),
          10_000).await();
      assertEquals("ack", ack.getString("type"), ack.encode());
      assertTrue(ack.getBoolean("recovered"), ack.encode());
    }
    publishing.await();
    int starts = 1 + rounds;
    // Waits until the last round's stream has reached the last message (tested over all frames received).
    c.next(f -> {
      List<Long> offsets = messages(c, ch).stream().map(m -> m.getLong("offset")).toList();
      return offsets.stream().filter(o -> o == 1L).count() == starts && offsets.get(offsets.size() - 1) == total;
    }, 15_000).await();
    assertTrue(rounds >= 3, "publishing outlasted only " + rounds + " recovery rounds");

    // Every round replays from offset 1; from there the stream must run 1, 2, 3, ... with nothing missing
    // or repeated until the next round's replay starts again at 1.
    List<List<Long>> segments = new ArrayList<>();
    for (JsonObject m : messages(c, ch)) {
      long offset = m.getLong("offset");
      if (offset == 1L) {
        segments.add(new ArrayList<>());
      }
      assertFalse(segments.isEmpty(), "offset " + offset + " before any replay");
      segments.get(segments.size() - 1).add(offset);
    }
    assertEquals(1 + rounds, segments.size(), "the first subscription and each round start at offset 1");
    for (int i = 0; i < segments.size(); i++) {
      List<Long> seg = segments.get(i);
      for (int j = 0; j < seg.size(); j++) {
        assertEquals(j + 1L, seg.get(j), "round " + i + " runs 1.." + seg.size() + " without a gap: " + seg);
      }
    }
    assertEquals(total, segments.get(segments.size() - 1).size(), "the last round goes on to the last message");
    c.close().await();
  }

  @Test
  void aTrimmedHistoryOrAnotherEpochAnswersRecoveredFalse(Vertx vertx) {
    String ch = "topic:small";
    publishRange(vertx, nodes.get(0), ch, "x", 0, 3).await();
    JsonObject h = Http.get(vertx, nodes.get(1).port(), "/api/history/" + ch).json();
    String epoch = h.getString("epoch");
    assertEquals(3, h.getLong("offset"));
    publishRange(vertx, nodes.get(0), ch, "y", 0, 20).await();   // history_size 10: offsets 1..13 are gone

    WsClient c = WsClient.authed(vertx, nodes.get(1).port(), TestNodes.token("dave")).await();
    JsonObject trimmed = c.request(1, subscribe(ch).put("since", new JsonObject().put("offset", 3).put("epoch", epoch)),
        10_000).await();
    assertEquals("ack", trimmed.getString("type"));
    assertFalse(trimmed.getBoolean("recovered"), "offsets 4..13 were trimmed");
    assertEquals(23, trimmed.getLong("offset"));

    WsClient d = WsClient.authed(vertx, nodes.get(2).port(), TestNodes.token("erin")).await();
    JsonObject otherEpoch = d.request(1, subscribe(ch).put("since", new JsonObject().put("offset", 20).put("epoch", "not-" + epoch)),
        10_000).await();
    assertFalse(otherEpoch.getBoolean("recovered"), "a position of another epoch means nothing now");
    JsonObject sameEpoch = d.request(2, new JsonObject().put("type", "unsubscribe").put("channel", ch), 10_000)
        .compose(v -> d.request(3, subscribe(ch).put("since", new JsonObject().put("offset", 20).put("epoch", epoch)), 10_000))
        .await();
    assertTrue(sameEpoch.getBoolean("recovered"));
    List<Long> replayed = messages(d, ch).stream().map(f -> f.getLong("offset")).toList();
    assertEquals(List.of(21L, 22L, 23L), replayed);
    c.close().await();
    d.close().await();
  }

  @Test
  void aPlainSubscribeIsAckedWithThePositionAResumeRecoversFrom(Vertx vertx) {
    String quiet = "topic:quiet-until-later";
    String busy = "topic:busy-before";
    publishRange(vertx, nodes.get(0), busy, "old", 0, 4).await();

    WsClient c = WsClient.authed(vertx, nodes.get(1).port(), TestNodes.token("gina")).await();
    JsonObject quietAck = c.request(1, subscribe(quiet), 10_000).await();
    JsonObject busyAck = c.request(2, subscribe(busy), 10_000).await();
    assertEquals(0, quietAck.getLong("offset"), "nothing published there yet: " + quietAck);
    assertEquals(4, busyAck.getLong("offset"), busyAck.encode());
    assertTrue(busyAck.getString("epoch") != null && !busyAck.getString("epoch").isEmpty(), busyAck.encode());
    c.close().await();

    // Missed while away, on a channel the client never saw a message on, and on one it had a position for.
    publishRange(vertx, nodes.get(2), quiet, "q", 0, 2).await();
    publishRange(vertx, nodes.get(2), busy, "b", 0, 3).await();

    WsClient d = WsClient.authed(vertx, nodes.get(0).port(), TestNodes.token("gina")).await();
    JsonObject quietResume = d.request(1, subscribe(quiet).put("since", new JsonObject()
        .put("offset", quietAck.getLong("offset")).put("epoch", quietAck.getString("epoch"))), 10_000).await();
    JsonObject busyResume = d.request(2, subscribe(busy).put("since", new JsonObject()
        .put("offset", busyAck.getLong("offset")).put("epoch", busyAck.getString("epoch"))), 10_000).await();
    assertTrue(quietResume.getBoolean("recovered"), quietResume.encode());
    assertTrue(busyResume.getBoolean("recovered"), busyResume.encode());
    assertEquals(List.of("q-0", "q-1"), messages(d, quiet).stream()
        .map(f -> f.getJsonObject("message").getString("n")).toList());
    assertEquals(List.of(5L, 6L, 7L), messages(d, busy).stream().map(f -> f.getLong("offset")).toList());
    d.close().await();
  }

  @Test
  void historyRequestAndHttpApiReturnTheNewestMessagesOldestFirst(Vertx vertx) {
    String ch = "room:hist";
    publishRange(vertx, nodes.get(2), ch, "h", 0, 5).await();
    WsClient c = WsClient.authed(vertx, nodes.get(0).port(), TestNodes.token("fred", "hist")).await();
    JsonObject h = c.request(7, new JsonObject().put("type", "history").put("channel", ch).put("limit", 3), 10_000).await();
    assertEquals("history", h.getString("type"), h.encode());
    assertEquals(ch, h.getString("channel"));
    assertEquals(5, h.getLong("offset"));
    JsonArray msgs = h.getJsonArray("messages");
    assertEquals(List.of("h-2", "h-3", "h-4"),
        msgs.stream().map(o -> ((JsonObject) o).getJsonObject("message").getString("n")).toList());
    assertEquals(3L, msgs.getJsonObject(0).getLong("offset"));
    JsonObject forbidden = c.request(8, new JsonObject().put("type", "history").put("channel", "room:other"), 10_000).await();
    assertEquals("forbidden", forbidden.getString("code"), "history needs the right to subscribe");

    Http.Answer api = Http.get(vertx, nodes.get(1).port(), "/api/history/" + ch + "?limit=2");
    assertEquals(200, api.status(), api.body());
    assertEquals(2, api.json().getJsonArray("messages").size());
    assertEquals(h.getString("epoch"), api.json().getString("epoch"));
    assertEquals(400, Http.get(vertx, nodes.get(1).port(), "/api/history/user:fred").status(), "user: keeps no history");
    // Live messages carry their position too.
    c.request(9, subscribe(ch), 10_000).await();
    publishRange(vertx, nodes.get(1), ch, "live", 0, 1).await();
    JsonObject live = c.next("message", 10_000).await();
    assertEquals(6, live.getLong("offset"));
    assertEquals(h.getString("epoch"), live.getString("epoch"));
    c.close().await();
  }
}
