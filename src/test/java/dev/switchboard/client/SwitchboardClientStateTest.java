package dev.switchboard.client;

import static dev.switchboard.client.SwitchboardClientTest.await;
import static dev.switchboard.client.SwitchboardClientTest.pause;
import static dev.switchboard.client.SwitchboardClientTest.ws;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.SwitchboardNode;
import dev.switchboard.client.SwitchboardClient.State;
import dev.switchboard.client.SwitchboardClient.StateChange;
import dev.switchboard.testing.TestNodes;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The state changes an app sees for one close: one DISCONNECTED carrying the final detail, then RECONNECTING or
 * CLOSED, or nothing more while the client waits for a token.
 */
@ExtendWith(VertxExtension.class)
class SwitchboardClientStateTest {

  private static final State CONNECTING = State.CONNECTING;
  private static final State CONNECTED = State.CONNECTED;
  private static final State DISCONNECTED = State.DISCONNECTED;
  private static final State RECONNECTING = State.RECONNECTING;
  private static final State CLOSED = State.CLOSED;
  private static final List<State> RECONNECTED = List.of(CONNECTING, CONNECTED, DISCONNECTED, RECONNECTING, CONNECTING, CONNECTED);

  /**
   * Every close code of SPEC §4, sent by a scripted server (the client's edge) right after auth_success on the
   * first connection; later connections stay open.
   */
  @ParameterizedTest(name = "close {0}, fixed token {1}")
  @CsvSource({
      "1000, true,  STAYS_CLOSED",
      "1009, true,  STAYS_CLOSED",
      "1001, true,  RECONNECTS",
      "4009, true,  RECONNECTS",
      "1011, true,  RECONNECTS",
      "4008, true,  RECONNECTS",
      "4029, true,  RECONNECTS",
      "1008, true,  WAITS_FOR_TOKEN",
      "4010, true,  WAITS_FOR_TOKEN",
      "1008, false, RECONNECTS",
      "4010, false, RECONNECTS",
  })
  void oneDisconnectedPerServerClose(int code, boolean fixedToken, String outcome, Vertx vertx) {
    ScriptedServer server = ScriptedServer.start(vertx, n -> n == 1 ? code : null);
    List<StateChange> changes = new CopyOnWriteArrayList<>();
    AtomicInteger tokens = new AtomicInteger();
    SwitchboardClient.Options options = new SwitchboardClient.Options()
        .url(ws(server.port()))
        .backoff(Duration.ofMillis(10), Duration.ofMillis(50));
    if (fixedToken) {
      options.token("t");
    } else {
      options.token(() -> Future.succeededFuture("t" + tokens.incrementAndGet()));
    }
    SwitchboardClient client = SwitchboardClient.create(vertx, options);
    client.onStateChange(changes::add);
    try {
      client.connect();
      List<State> expected = switch (outcome) {
        case "STAYS_CLOSED" -> List.of(CONNECTING, CONNECTED, DISCONNECTED, CLOSED);
        case "WAITS_FOR_TOKEN" -> List.of(CONNECTING, CONNECTED, DISCONNECTED);
        default -> RECONNECTED;
      };
      assertSettlesAs(vertx, changes, expected);
      StateChange closed = changes.get(2);
      assertEquals(code, closed.closeCode(), closed.toString());
      assertEquals(outcome.equals("WAITS_FOR_TOKEN"), closed.waitingForToken(), closed.toString());
    } finally {
      client.close().await();
      server.close().await();
    }
  }

  @Test
  void oneDisconnectedWhenTheServerStopsAnswering(Vertx vertx) {
    ScriptedServer server = ScriptedServer.start(vertx, n -> null);
    List<StateChange> changes = new CopyOnWriteArrayList<>();
    SwitchboardClient client = SwitchboardClient.create(vertx, new SwitchboardClient.Options()
        .url(ws(server.port()))
        .token("t")
        .ping(Duration.ofMillis(100), Duration.ofMillis(100))
        .backoff(Duration.ofMillis(10), Duration.ofMillis(50)));
    client.onStateChange(changes::add);
    try {
      client.connect().await();
      await(() -> changes.size() >= RECONNECTED.size(), 5_000, () -> "a ping timeout and a reconnect: " + changes);
      assertEquals(RECONNECTED, states(changes).subList(0, RECONNECTED.size()), changes.toString());
      assertEquals((int) SwitchboardClient.NO_PONG, changes.get(2).closeCode(), changes.toString());
    } finally {
      client.close().await();
      server.close().await();
    }
  }

  @Test
  void oneDisconnectedWhenTheConnectionIsLost(Vertx vertx) {
    ScriptedServer server = ScriptedServer.start(vertx, n -> null);
    CuttableProxy proxy = CuttableProxy.start(vertx, server.port());
    List<StateChange> changes = new CopyOnWriteArrayList<>();
    SwitchboardClient client = SwitchboardClient.create(vertx, new SwitchboardClient.Options()
        .url(ws(proxy.port()))
        .token("t")
        .backoff(Duration.ofMillis(10), Duration.ofMillis(50)));
    client.onStateChange(changes::add);
    try {
      client.connect().await();
      proxy.cut();
      await(() -> states(changes).contains(RECONNECTING), 5_000, () -> "the client saw the cut: " + changes);
      proxy.up();
      await(() -> client.state() == CONNECTED, 5_000, () -> "reconnected: " + changes);
      // While the proxy was down each attempt failed once: every DISCONNECTED ends a CONNECTING or CONNECTED.
      List<State> states = states(changes);
      for (int i = 0; i < states.size(); i++) {
        if (states.get(i) == DISCONNECTED) {
          State before = states.get(i - 1);
          assertTrue(before == CONNECTING || before == CONNECTED, "one DISCONNECTED per close: " + changes);
        }
      }
      assertEquals(1006, changes.get(2).closeCode(), changes.toString());
    } finally {
      client.close().await();
      proxy.close().await();
      server.close().await();
    }
  }

  @Test
  void closingALiveClientReportsItsSocketDisconnectedThenClosed(Vertx vertx) {
    ScriptedServer server = ScriptedServer.start(vertx, n -> null);
    List<StateChange> changes = new CopyOnWriteArrayList<>();
    SwitchboardClient client = SwitchboardClient.create(vertx, new SwitchboardClient.Options()
        .url(ws(server.port()))
        .token("t"));
    client.onStateChange(changes::add);
    try {
      client.connect().await();
      client.close().await();
      assertSettlesAs(vertx, changes, List.of(CONNECTING, CONNECTED, DISCONNECTED, CLOSED));
      assertEquals(1000, changes.get(2).closeCode(), changes.toString());
    } finally {
      server.close().await();
    }
  }

  /**
   * A token supplier that never answers the first attempt: the connect timeout ends that attempt (reported as an
   * error "token", then RECONNECTING), the next one asks again and connects, and the first token, coming late,
   * changes nothing.
   */
  @Test
  void theConnectTimeoutIncludesTheTokenSuppliersAnswer(Vertx vertx) throws Exception {
    ScriptedServer server = ScriptedServer.start(vertx, n -> null);
    List<StateChange> changes = new CopyOnWriteArrayList<>();
    List<Throwable> errors = new CopyOnWriteArrayList<>();
    Promise<String> late = Promise.promise();
    AtomicInteger asked = new AtomicInteger();
    SwitchboardClient client = SwitchboardClient.create(vertx, new SwitchboardClient.Options()
        .url(ws(server.port()))
        .token(() -> asked.incrementAndGet() == 1 ? late.future() : Future.succeededFuture("t" + asked.get()))
        .connectTimeout(Duration.ofSeconds(1))
        .backoff(Duration.ofMillis(10), Duration.ofMillis(50)));
    client.onStateChange(changes::add).onError(errors::add);
    try {
      client.connect().await(5, TimeUnit.SECONDS);
      assertEquals(List.of(CONNECTING, RECONNECTING, CONNECTING, CONNECTED), states(changes), changes.toString());
      assertEquals(2, asked.get(), "the supplier is asked again for the next attempt");
      assertEquals(List.of("token"), errors.stream().map(e -> ((SwitchboardException) e).code()).toList(),
          errors.toString());
      assertTrue(changes.get(1).reason().contains("no token within 1000 ms"), changes.toString());

      late.complete("t1");
      client.position("any").await(); // after the late token's callback on the client's context
      assertSettlesAs(vertx, changes, List.of(CONNECTING, RECONNECTING, CONNECTING, CONNECTED));
      assertEquals(2, client.attempts());
    } finally {
      client.close().await();
      server.close().await();
    }
  }

  /** The real gateway: a refused token at connect (1008) and an expired one (4010) are each one DISCONNECTED. */
  @Test
  void aRefusedOrExpiredFixedTokenIsOneDisconnected(Vertx vertx) {
    SwitchboardNode node = TestNodes.standalone(new JsonObject().put("auth", new JsonObject().put("expiry_grace", "1s")));
    List<StateChange> refused = new CopyOnWriteArrayList<>();
    List<StateChange> expired = new CopyOnWriteArrayList<>();
    SwitchboardClient bad = SwitchboardClient.create(vertx, new SwitchboardClient.Options()
        .url(ws(node.port()))
        .token("not-a-valid-jwt"));
    SwitchboardClient shortLived = SwitchboardClient.create(vertx, new SwitchboardClient.Options()
        .url(ws(node.port()))
        // exp is whole seconds: 3 s leaves the token valid at connect, and it ends within 5 s with the grace.
        .token(TestNodes.token("tess", List.of(), Map.of(), Duration.ofSeconds(3))));
    bad.onStateChange(refused::add);
    shortLived.onStateChange(expired::add);
    try {
      bad.connect();
      shortLived.connect().await();
      await(() -> states(expired).contains(DISCONNECTED), 10_000, () -> "closed 4010 after exp + grace: " + expired);
      assertSettlesAs(vertx, refused, List.of(CONNECTING, DISCONNECTED));
      assertSettlesAs(vertx, expired, List.of(CONNECTING, CONNECTED, DISCONNECTED));
      assertEquals(1008, refused.get(1).closeCode(), refused.toString());
      assertTrue(refused.get(1).waitingForToken(), refused.toString());
      assertEquals(4010, expired.get(2).closeCode(), expired.toString());
      assertTrue(expired.get(2).waitingForToken(), expired.toString());
    } finally {
      bad.close().await();
      shortLived.close().await();
      node.close().await();
    }
  }

  /** Waits for the expected number of changes, then asserts that they are exactly these and that no more follow. */
  private static void assertSettlesAs(Vertx vertx, List<StateChange> changes, List<State> expected) {
    await(() -> changes.size() >= expected.size(), 5_000, () -> expected + " expected, got " + changes);
    pause(vertx, 300);
    assertEquals(expected, states(changes), changes.toString());
  }

  private static List<State> states(List<StateChange> changes) {
    return changes.stream().map(StateChange::state).toList();
  }

  /**
   * A WebSocket endpoint that authenticates every connection and then closes the n-th one with the code the
   * script gives for it (null: keeps it open and answers nothing, not even pings).
   */
  private static final class ScriptedServer {
    private final HttpServer server;

    private ScriptedServer(HttpServer server) {
      this.server = server;
    }

    static ScriptedServer start(Vertx vertx, Function<Integer, Integer> closeCodeOfConnection) {
      AtomicInteger connections = new AtomicInteger();
      HttpServer server = vertx.createHttpServer().webSocketHandler(ws -> {
        ws.writeTextMessage(new JsonObject().put("type", "auth_success").put("user_id", "u").put("node", "scripted")
            .put("channels", new JsonArray()).put("heartbeat", 25).encode());
        Integer code = closeCodeOfConnection.apply(connections.incrementAndGet());
        if (code != null) {
          ws.close(code.shortValue(), "scripted close");
        }
      });
      server.listen(0, "127.0.0.1").await();
      return new ScriptedServer(server);
    }

    int port() {
      return server.actualPort();
    }

    Future<Void> close() {
      return server.close();
    }
  }
}
