package dev.switchboard.client;

import static dev.switchboard.client.SwitchboardClientTest.await;
import static dev.switchboard.client.SwitchboardClientTest.pause;
import static dev.switchboard.client.SwitchboardClientTest.ws;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.SwitchboardNode;
import dev.switchboard.client.SwitchboardClient.Delivery;
import dev.switchboard.client.SwitchboardClient.State;
import dev.switchboard.client.SwitchboardClient.Subscribed;
import dev.switchboard.cluster.Http;
import dev.switchboard.testing.TestNodes;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The Java client's subscriptions against real nodes: pacing and retry under the inbound limit, positions and recovery. */
@ExtendWith(VertxExtension.class)
class SwitchboardClientSubscriptionsTest {

  @Test
  void moreChannelsThanTheServersBurstAreAllSubscribedBeforeAndAfterAReconnect(Vertx vertx) {
    // A budget of 8 at once and 8/s: of 24 subscribes sent together, 16 would be refused rate_limited.
    SwitchboardNode node = TestNodes.standalone(new JsonObject()
        .put("limits", new JsonObject().put("messages_per_second", 8).put("burst", 8)));
    CuttableProxy proxy = CuttableProxy.start(vertx, node.port());
    Set<String> acked = ConcurrentHashMap.newKeySet();
    Set<String> reacked = ConcurrentHashMap.newKeySet();
    List<Throwable> errors = new CopyOnWriteArrayList<>();
    SwitchboardClient client = SwitchboardClient.create(vertx, new SwitchboardClient.Options()
        .url(ws(proxy.port()))
        .token(TestNodes.token("pat"))
        .backoff(Duration.ofMillis(50), Duration.ofMillis(400))
        .subscribeRetry(Duration.ofMillis(300)));
    client.onError(errors::add).onSubscribed(s -> (s.resubscribed() ? reacked : acked).add(s.channel()));
    List<String> channels = new ArrayList<>();
    for (int i = 0; i < 24; i++) {
      channels.add("topic:t" + i);
    }
    try {
      client.connect().await();
      for (String ch : channels) {
        client.subscribe(ch, m -> { });
      }
      await(() -> acked.size() == channels.size(), 20_000,
          () -> "every channel acked on the first connection, missing: " + missing(channels, acked));

      proxy.cut();
      await(() -> client.state() != State.CONNECTED, 5_000, "the client saw the cut");
      proxy.up();
      await(() -> reacked.size() == channels.size(), 20_000,
          () -> "every channel resubscribed after the reconnect, missing: " + missing(channels, reacked));
      assertEquals(List.of(), errors.stream().filter(e -> e instanceof SwitchboardException se
          && "rate_limited".equals(se.code())).toList(), "a refusal for now is retried, not reported");
    } finally {
      client.close().await();
      proxy.close().await();
      node.close().await();
    }
  }

  /**
   * An app that subscribes when it hears CONNECTED (a new channel on each connection, besides one subscribed
   * before connecting): each channel is subscribed once per connection, so one ack and one onSubscribed each.
   */
  @Test
  void aSubscribeMadeOnConnectedGoesOutOncePerConnection(Vertx vertx) {
    SwitchboardNode node = TestNodes.standalone();
    CuttableProxy proxy = CuttableProxy.start(vertx, node.port());
    List<Subscribed> acks = new CopyOnWriteArrayList<>();
    AtomicInteger connections = new AtomicInteger();
    SwitchboardClient client = SwitchboardClient.create(vertx, new SwitchboardClient.Options()
        .url(ws(proxy.port()))
        .token(TestNodes.token("cora"))
        .backoff(Duration.ofMillis(50), Duration.ofMillis(400)));
    client.onSubscribed(acks::add).onStateChange(change -> {
      if (change.state() == State.CONNECTED) {
        client.subscribe("topic:on-connect-" + connections.incrementAndGet(), m -> { });
      }
    });
    try {
      client.subscribe("topic:before", m -> { });
      client.connect().await();
      await(() -> acks.size() >= 2, 10_000, () -> "topic:before and topic:on-connect-1 acked: " + acks);

      cutWhile(client, proxy, () -> { });
      await(() -> acks.size() >= 5, 10_000, () -> "both resubscribed and topic:on-connect-2 acked: " + acks);
      pause(vertx, 300);
      Map<String, List<Boolean>> byChannel = acks.stream().collect(Collectors.groupingBy(Subscribed::channel,
          TreeMap::new, Collectors.mapping(Subscribed::resubscribed, Collectors.toList())));
      assertEquals(Map.of(
          "topic:before", List.of(false, true),
          "topic:on-connect-1", List.of(false, true),
          "topic:on-connect-2", List.of(false)), byChannel, "onSubscribed per channel (resubscribed): " + acks);
    } finally {
      client.close().await();
      proxy.close().await();
      node.close().await();
    }
  }

  /** A node whose topic: channels keep their last {@code size} messages, behind a proxy the test can cut. */
  static JsonObject topicHistory(int size) {
    return new JsonObject().put("channels", new JsonObject().put("namespaces", new JsonObject()
        .put("topic", new JsonObject().put("subscribe", "authenticated").put("publish", "none")
            .put("history_size", size).put("history_ttl", "1h"))));
  }

  static void httpPublish(Vertx vertx, int port, String channel, int n) {
    Http.Answer a = Http.post(vertx, port, "/api/publish",
        new JsonObject().put("channel", channel).put("message", new JsonObject().put("n", n)));
    assertEquals(200, a.status(), "POST /api/publish " + channel + ": " + a.body());
  }

  static void cutWhile(SwitchboardClient client, CuttableProxy proxy, Runnable meanwhile) {
    proxy.cut();
    await(() -> client.state() != State.CONNECTED, 5_000, "the client saw the cut");
    meanwhile.run();
    proxy.up();
  }

  static List<Integer> numbers(BlockingQueue<Delivery> q, int count) {
    List<Integer> got = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      got.add(SwitchboardClientTest.take(q).json().getInteger("n"));
    }
    return got;
  }

  @Test
  void aChannelWithNoMessageSeenYetIsRecoveredAfterAReconnect(Vertx vertx) {
    SwitchboardNode node = TestNodes.standalone(topicHistory(100));
    CuttableProxy proxy = CuttableProxy.start(vertx, node.port());
    BlockingQueue<Subscribed> acks = new LinkedBlockingQueue<>();
    BlockingQueue<Delivery> got = new LinkedBlockingQueue<>();
    SwitchboardClient client = SwitchboardClient.create(vertx, new SwitchboardClient.Options()
        .url(ws(proxy.port()))
        .token(TestNodes.token("quinn"))
        .backoff(Duration.ofMillis(50), Duration.ofMillis(400)));
    client.onSubscribed(acks::add);
    try {
      client.connect().await();
      client.subscribe("topic:quiet", got::add).await();
      assertEquals(0L, client.position("topic:quiet").await().getLong("offset"), "the ack gave the position");

      cutWhile(client, proxy, () -> {
        httpPublish(vertx, node.port(), "topic:quiet", 1);
        httpPublish(vertx, node.port(), "topic:quiet", 2);
      });
      Subscribed again = take(acks, "topic:quiet", true);
      assertEquals(true, again.recovered(), again.toString());
      assertEquals(List.of(1, 2), numbers(got, 2), "what was published while away arrives");
      assertEquals(2L, client.position("topic:quiet").await().getLong("offset"));
    } finally {
      client.close().await();
      proxy.close().await();
      node.close().await();
    }
  }

  @Test
  void afterRecoveredFalseTheNextOutageIsRecovered(Vertx vertx) {
    SwitchboardNode node = TestNodes.standalone(topicHistory(3));
    CuttableProxy proxy = CuttableProxy.start(vertx, node.port());
    BlockingQueue<Subscribed> acks = new LinkedBlockingQueue<>();
    BlockingQueue<Delivery> got = new LinkedBlockingQueue<>();
    SwitchboardClient client = SwitchboardClient.create(vertx, new SwitchboardClient.Options()
        .url(ws(proxy.port()))
        .token(TestNodes.token("rene"))
        .backoff(Duration.ofMillis(50), Duration.ofMillis(400)));
    client.onSubscribed(acks::add);
    try {
      client.connect().await();
      client.subscribe("topic:news", got::add).await();
      httpPublish(vertx, node.port(), "topic:news", 1);
      assertEquals(List.of(1), numbers(got, 1));

      // Five while away, three kept (4..6): offset 1 cannot be resumed from.
      cutWhile(client, proxy, () -> {
        for (int n = 2; n <= 6; n++) {
          httpPublish(vertx, node.port(), "topic:news", n);
        }
      });
      Subscribed lost = take(acks, "topic:news", true);
      assertEquals(false, lost.recovered(), lost.toString());
      assertEquals(6L, client.position("topic:news").await().getLong("offset"), "the ack's position is taken");

      cutWhile(client, proxy, () -> {
        httpPublish(vertx, node.port(), "topic:news", 7);
        httpPublish(vertx, node.port(), "topic:news", 8);
      });
      Subscribed recovered = take(acks, "topic:news", true);
      assertEquals(true, recovered.recovered(), recovered.toString());
      assertEquals(List.of(7, 8), numbers(got, 2), "the second outage is recovered from the position of the first ack");
    } finally {
      client.close().await();
      proxy.close().await();
      node.close().await();
    }
  }

  @Test
  void directMessagesSentDuringAReconnectAreRecoveredWhenTheUserNamespaceKeepsHistory(Vertx vertx) {
    SwitchboardNode node = TestNodes.standalone(new JsonObject().put("channels", new JsonObject().put("namespaces",
        new JsonObject().put("user", new JsonObject().put("subscribe", "owner").put("publish", "none")
            .put("history_size", 100).put("history_ttl", "1h")))));
    CuttableProxy proxy = CuttableProxy.start(vertx, node.port());
    BlockingQueue<Subscribed> acks = new LinkedBlockingQueue<>();
    BlockingQueue<Delivery> got = new LinkedBlockingQueue<>();
    SwitchboardClient client = SwitchboardClient.create(vertx, new SwitchboardClient.Options()
        .url(ws(proxy.port()))
        .token(TestNodes.token("sam"))
        .backoff(Duration.ofMillis(50), Duration.ofMillis(400)));
    client.onSubscribed(acks::add);
    try {
      client.connect().await();
      Subscribed first = client.subscribe("user:sam", got::add).await().acked();
      assertTrue(first.automatic(), first.toString());
      assertEquals(0L, client.position("user:sam").await().getLong("offset"), "the ack gave the position");
      // broadcast is automatic too, but the server refuses its subscribe: the handler is simply kept.
      assertTrue(client.subscribe("broadcast", m -> { }).await().acked().automatic());

      cutWhile(client, proxy, () -> httpPublish(vertx, node.port(), "user:sam", 1));
      Subscribed again = take(acks, "user:sam", true);
      assertEquals(true, again.recovered(), again.toString());
      assertEquals(List.of(1), numbers(got, 1), "the direct message sent while away arrives");
    } finally {
      client.close().await();
      proxy.close().await();
      node.close().await();
    }
  }

  static Subscribed take(BlockingQueue<Subscribed> acks, String channel, boolean resubscribed) {
    long deadline = System.currentTimeMillis() + 10_000;
    try {
      while (System.currentTimeMillis() < deadline) {
        Subscribed s = acks.poll(deadline - System.currentTimeMillis(), TimeUnit.MILLISECONDS);
        if (s != null && s.channel().equals(channel) && s.resubscribed() == resubscribed) {
          return s;
        }
      }
    } catch (InterruptedException e) {
      throw new AssertionError(e);
    }
    throw new AssertionError("no ack of " + channel + " (resubscribed " + resubscribed + ") within 10 s");
  }

  static List<String> missing(List<String> wanted, Set<String> got) {
    return wanted.stream().filter(c -> !got.contains(c)).collect(Collectors.toList());
  }
}
