package dev.switchboard.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.SwitchboardNode;
import dev.switchboard.client.SwitchboardClient.Delivery;
import dev.switchboard.client.SwitchboardClient.State;
import dev.switchboard.client.SwitchboardClient.StateChange;
import dev.switchboard.client.SwitchboardClient.Subscribed;
import dev.switchboard.protocol.CloseCode;
import dev.switchboard.testing.TestNodes;
import dev.switchboard.testing.WsClient;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The Java client against real nodes: reconnect with backoff, resubscribe, close codes, requests. */
@ExtendWith(VertxExtension.class)
class SwitchboardClientTest {

  static SwitchboardNode shared;

  @BeforeAll
  static void start() {
    shared = TestNodes.standalone();
  }

  @AfterAll
  static void stop() {
    shared.close().await();
  }

  static String ws(int port) {
    return "ws://127.0.0.1:" + port + "/ws";
  }

  @Test
  void backoffIsFullJitterUnderTheCap() {
    assertEquals(0, SwitchboardClient.backoffDelay(0, 500, 30_000, 0.0));
    assertEquals(250, SwitchboardClient.backoffDelay(0, 500, 30_000, 0.5));
    assertEquals(2000, SwitchboardClient.backoffDelay(3, 500, 30_000, 0.5));
    assertEquals(15_000, SwitchboardClient.backoffDelay(7, 500, 30_000, 0.5));
    assertEquals(15_000, SwitchboardClient.backoffDelay(10_000, 500, 30_000, 0.5));
    assertEquals(CloseCode.Reconnect.AT_ONCE, SwitchboardClient.reconnectPolicy(1001));
    assertEquals(CloseCode.Reconnect.WITH_NEW_TOKEN, SwitchboardClient.reconnectPolicy(1008));
    assertEquals(CloseCode.Reconnect.WITH_BACKOFF, SwitchboardClient.reconnectPolicy(1006));
  }

  @Test
  void reconnectsWithBackoffToANodeThatRestartsAndResubscribes(Vertx vertx) {
    int port = TestNodes.freePort();
    JsonObject onPort = new JsonObject().put("server", new JsonObject().put("port", port));
    SwitchboardNode first = TestNodes.standalone(onPort);
    SwitchboardNode second = null;
    List<StateChange> changes = new CopyOnWriteArrayList<>();
    List<Subscribed> acks = new CopyOnWriteArrayList<>();
    BlockingQueue<Delivery> got = new LinkedBlockingQueue<>();
    SwitchboardClient client = SwitchboardClient.create(vertx, new SwitchboardClient.Options()
        .url(ws(port))
        .token(TestNodes.token("alice", "lobby"))
        .backoff(Duration.ofMillis(100), Duration.ofMillis(800)));
    client.onStateChange(changes::add).onSubscribed(acks::add);
    try {
      client.connect().await();
      client.subscribe("room:lobby", got::add).await();
      publishAs(vertx, port, "bob", "room:lobby", new JsonObject().put("n", 1));
      assertEquals(1, take(got).json().getInteger("n"));

      first.close().await();
      // Nothing listens on the port now: every attempt fails and the delay grows.
      await(() -> reconnects(changes).size() >= 4, 10_000, () -> "four reconnect attempts while the node is down: " + changes);
      List<StateChange> r = reconnects(changes);
      for (int i = 0; i < 4; i++) {
        StateChange c = r.get(i);
        assertEquals(i, c.attempt(), "consecutive failures are counted: " + r);
        long ceiling = Math.min(800, 100L << i);
        assertTrue(c.delayMs() >= 0 && c.delayMs() < ceiling, "attempt " + i + " waits under " + ceiling + " ms: " + c);
      }
      assertFalse(client.state() == State.CONNECTED);

      second = TestNodes.standalone(onPort);
      await(() -> client.state() == State.CONNECTED, 10_000, "reconnected to the restarted node");
      await(() -> acks.stream().anyMatch(a -> a.channel().equals("room:lobby") && a.resubscribed()), 10_000,
          "room:lobby resubscribed");
      publishAs(vertx, port, "bob", "room:lobby", new JsonObject().put("n", 2));
      Delivery after = take(got);
      assertEquals(2, after.json().getInteger("n"));
      assertEquals("bob", after.fromUser());
    } finally {
      client.close().await();
      first.close().await();
      if (second != null) {
        second.close().await();
      }
    }
  }

  @Test
  void aRefusedFixedTokenWaitsForANewOne(Vertx vertx) {
    List<StateChange> changes = new CopyOnWriteArrayList<>();
    SwitchboardClient client = SwitchboardClient.create(vertx, new SwitchboardClient.Options()
        .url(ws(shared.port()))
        .token("not-a-valid-jwt")
        .backoff(Duration.ofMillis(20), Duration.ofMillis(100)));
    client.onStateChange(changes::add);
    try {
      SwitchboardException e = assertThrows(SwitchboardException.class, () -> client.connect().await());
      assertEquals("unauthorized", e.code());
      assertEquals(State.DISCONNECTED, client.state());
      assertTrue(changes.stream().anyMatch(c -> c.closeCode() != null && c.closeCode() == 1008), changes.toString());
      // With a 20 ms backoff, any reconnect would show within half a second.
      pause(vertx, 500);
      assertEquals(1, client.attempts(), "no reconnect after 1008: " + changes);
      assertTrue(reconnects(changes).isEmpty(), changes.toString());

      client.setToken(TestNodes.token("alice"));
      await(() -> client.state() == State.CONNECTED, 10_000, "connected with the new token");
      assertEquals(2, client.attempts());
      assertEquals("alice", client.userId());
    } finally {
      client.close().await();
    }
  }

  @Test
  void connectStartsAgainAfterTheServerClosedForGood(Vertx vertx) {
    List<Subscribed> acks = new CopyOnWriteArrayList<>();
    SwitchboardClient client = SwitchboardClient.create(vertx, new SwitchboardClient.Options()
        .url(ws(shared.port()))
        .token(TestNodes.token("uma")));
    client.onSubscribed(acks::add);
    try {
      client.connect().await();
      client.subscribe("topic:again", m -> { }).await();
      var a = dev.switchboard.cluster.Http.post(vertx, shared.port(), "/api/disconnect", new JsonObject().put("user", "uma"));
      assertEquals(200, a.status(), a.body());
      await(() -> client.state() == State.CLOSED, 5_000, "closed by the server with 1000");

      client.connect().await();
      assertEquals(State.CONNECTED, client.state());
      await(() -> acks.stream().anyMatch(s -> s.channel().equals("topic:again") && s.resubscribed()), 5_000,
          "topic:again restored: " + acks);
    } finally {
      client.close().await();
    }
  }

  @Test
  void renewalsGoOneAtATimeAndARefusedTokenIsNotKept(Vertx vertx) {
    CuttableProxy proxy = CuttableProxy.start(vertx, shared.port());
    List<Throwable> errors = new CopyOnWriteArrayList<>();
    SwitchboardClient client = SwitchboardClient.create(vertx, new SwitchboardClient.Options()
        .url(ws(proxy.port()))
        .token(TestNodes.token("vic"))
        .backoff(Duration.ofMillis(50), Duration.ofMillis(400)));
    client.onError(errors::add);
    try {
      client.connect().await();
      // Three at once: the server takes one auth at a time, so they must not all be sent together.
      Future.all(client.setToken(TestNodes.token("vic")), client.setToken(TestNodes.token("vic")),
          client.setToken(TestNodes.token("vic"))).await();
      assertEquals(List.of(), errors, "no renewal refused as 'authentication already in progress'");

      SwitchboardException refused = assertThrows(SwitchboardException.class,
          () -> client.setToken(TestNodes.token("wes")).await());
      assertEquals(1, errors.size(), "the refusal is also reported: " + errors);
      assertEquals(refused.code(), ((SwitchboardException) errors.get(0)).code());

      proxy.cut();
      await(() -> client.state() != State.CONNECTED, 5_000, "the client saw the cut");
      proxy.up();
      await(() -> client.state() == State.CONNECTED, 10_000, "reconnected");
      assertEquals("vic", client.userId(), "the reconnect used the token in use, not the refused one");
    } finally {
      client.close().await();
      proxy.close().await();
    }
  }

  @Test
  void aTokenSupplierIsAskedAgainAfter1008(Vertx vertx) {
    List<String> tokens = new CopyOnWriteArrayList<>(List.of("bad-1", TestNodes.token("carol")));
    Supplier<Future<String>> supplier = () -> Future.succeededFuture(tokens.size() > 1 ? tokens.remove(0) : tokens.get(0));
    SwitchboardClient client = SwitchboardClient.create(vertx, new SwitchboardClient.Options()
        .url(ws(shared.port()))
        .token(supplier)
        .backoff(Duration.ofMillis(20), Duration.ofMillis(100)));
    try {
      client.connect().await();
      assertEquals("carol", client.userId());
      assertEquals(2, client.attempts());
    } finally {
      client.close().await();
    }
  }

  @Test
  void goingAwayReconnectsAtOnceToTheNextUrl(Vertx vertx) {
    JsonObject quickDrain = new JsonObject().put("drain", new JsonObject().put("period", "100ms"));
    SwitchboardNode a = TestNodes.standalone(quickDrain.copy().put("node", new JsonObject().put("id", "node-a")));
    SwitchboardNode b = TestNodes.standalone(quickDrain.copy().put("node", new JsonObject().put("id", "node-b")));
    List<StateChange> changes = new CopyOnWriteArrayList<>();
    SwitchboardClient client = SwitchboardClient.create(vertx, new SwitchboardClient.Options()
        .urls(ws(a.port()), ws(b.port()))
        .token(TestNodes.token("dave"))
        .backoff(Duration.ofSeconds(5), Duration.ofSeconds(30)));
    client.onStateChange(changes::add);
    try {
      client.connect().await();
      assertEquals("node-a", client.node());
      a.drain().await();
      await(() -> "node-b".equals(client.node()) && client.state() == State.CONNECTED, 5_000, "moved to node-b");
      StateChange r = reconnects(changes).get(0);
      assertEquals(1001, r.closeCode());
      assertEquals(0, r.delayMs(), "1001 reconnects at once, not after the 5 s backoff");
      assertEquals(ws(b.port()), r.url());
    } finally {
      client.close().await();
      a.close().await();
      b.close().await();
    }
  }

  @Test
  void requestsAreAnsweredByIdAndErrorsCarryTheCode(Vertx vertx) {
    var service = shared.vertx().eventBus().<JsonObject>consumer("service.echo",
        m -> m.reply(new JsonObject().put("echo", m.body()).put("user", m.headers().get("user_id"))));
    service.completion().await();
    WsClient bob = WsClient.authed(vertx, shared.port(), TestNodes.token("bob")).await();
    SwitchboardClient client = SwitchboardClient.create(vertx, new SwitchboardClient.Options()
        .url(ws(shared.port()))
        .token(TestNodes.token("erin", "lobby")));
    try {
      client.connect().await();
      JsonObject reply = (JsonObject) client.request("service.echo", new JsonObject().put("q", 1)).await();
      assertEquals(1, reply.getJsonObject("echo").getInteger("q"));
      assertEquals("erin", reply.getString("user"));

      SwitchboardException notAllowed = assertThrows(SwitchboardException.class,
          () -> client.request("billing.secret", new JsonObject()).await());
      assertEquals("forbidden", notAllowed.code());
      SwitchboardException noService = assertThrows(SwitchboardException.class,
          () -> client.request("service.nobody", new JsonObject()).await());
      assertEquals("timeout", noService.code());

      client.subscribe("room:lobby", m -> { }).await();
      SwitchboardClient.Presence p = client.presence("room:lobby").await();
      assertTrue(p.users().contains("erin"), p.toString());

      client.send("bob", new JsonObject().put("text", "psst")).await();
      JsonObject dm = bob.next("message", 5_000).await();
      assertEquals("user:bob", dm.getString("channel"));
      assertEquals("erin", dm.getString("from_user"));

      SwitchboardException forbidden = assertThrows(SwitchboardException.class,
          () -> client.subscribe("room:secret", m -> { }).await());
      assertEquals("forbidden", forbidden.code());
      assertNull(client.position("room:lobby").await(), "room: keeps no history by default");
    } finally {
      client.close().await();
      bob.close().await();
      service.unregister().await();
    }
  }

  /** The README's "Use it from a JVM service" snippet, as written there (service.echo as in the example backend). */
  @Test
  void readmeSnippet(Vertx vertx) throws InterruptedException {
    var echo = shared.vertx().eventBus().<JsonObject>consumer("service.echo",
        m -> m.reply(new JsonObject().put("echo", m.body()).put("user", m.headers().get("user_id"))));
    echo.completion().await();
    String url = ws(shared.port());
    String token = TestNodes.token("svc-1", "lobby");
    try {
      // --- README: jvm ---
      BlockingQueue<String> seen = new LinkedBlockingQueue<>();
      SwitchboardClient client = SwitchboardClient.create(vertx, new SwitchboardClient.Options()
          .urls(url)                    // give several: each reconnect attempt tries the next
          .token(token));               // or .token(() -> futureOfAFreshToken()), asked again on reconnect
      client.onStateChange(change -> System.out.println("switchboard: " + change.state()));
      client.connect().await();         // .await() off the event loop; compose the futures inside a verticle

      client.subscribe("room:lobby", m -> seen.add(m.fromUser() + ": " + m.message())).await();
      client.publish("room:lobby", new JsonObject().put("text", "hello")).await();
      Object answer = client.request("service.echo", new JsonObject().put("q", 1)).await();
      String first = seen.poll(5, TimeUnit.SECONDS);   // svc-1: {"text":"hello"}
      System.out.println(first + " / " + answer);      // answer: {"echo":{"q":1},"user":"svc-1"}
      client.close().await();
      // --- end ---
      assertEquals(State.CLOSED, client.state());
      assertEquals("svc-1: {\"text\":\"hello\"}", first);
      assertEquals(new JsonObject().put("echo", new JsonObject().put("q", 1)).put("user", "svc-1"), answer);
    } finally {
      echo.unregister().await();
    }
  }

  // ---- helpers -----------------------------------------------------------------------------------

  static List<StateChange> reconnects(List<StateChange> changes) {
    return changes.stream().filter(c -> c.state() == State.RECONNECTING).toList();
  }

  static void publishAs(Vertx vertx, int port, String user, String channel, JsonObject message) {
    WsClient c = WsClient.authed(vertx, port, TestNodes.token(user, "lobby")).await();
    try {
      JsonObject ack = c.request("p", new JsonObject().put("type", "broadcast").put("channel", channel)
          .put("message", message), 10_000).await();
      assertEquals("ack", ack.getString("type"), ack.encode());
    } finally {
      c.close().await();
    }
  }

  static Delivery take(BlockingQueue<Delivery> q) {
    try {
      Delivery d = q.poll(10, TimeUnit.SECONDS);
      if (d == null) {
        throw new AssertionError("no delivery within 10 s");
      }
      return d;
    } catch (InterruptedException e) {
      throw new AssertionError(e);
    }
  }

  /** Polls an observable condition until it holds, failing after the deadline. */
  static void await(BooleanSupplier condition, long timeoutMs, String what) {
    await(condition, timeoutMs, () -> what);
  }

  static void await(BooleanSupplier condition, long timeoutMs, Supplier<String> what) {
    long deadline = System.currentTimeMillis() + timeoutMs;
    while (!condition.getAsBoolean()) {
      if (System.currentTimeMillis() > deadline) {
        throw new AssertionError("not within " + timeoutMs + " ms: " + what.get());
      }
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        throw new AssertionError(e);
      }
    }
  }

  /** A bounded wait for asserting that something does not happen. */
  static void pause(Vertx vertx, long ms) {
    Promise<Void> p = Promise.promise();
    vertx.setTimer(ms, t -> p.complete());
    p.future().await();
  }
}
