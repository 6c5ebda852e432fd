package dev.switchboard.cluster;

import static dev.switchboard.cluster.Tally.waitFor;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.SwitchboardNode;
import dev.switchboard.bus.Addresses;
import dev.switchboard.client.Publisher;
import dev.switchboard.client.Switchboard;
import dev.switchboard.config.SwitchboardConfig;
import dev.switchboard.examples.ExampleBackend;
import dev.switchboard.testing.TestNodes;
import dev.switchboard.testing.WsClient;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.core.spi.cluster.RegistrationInfo;
import io.vertx.junit5.VertxExtension;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The undelivered check's view of "does any member hold a consumer for user:X" on a two-node cluster plus a
 * backend JVM (the example backend, using the Java helper): right as sessions come and go on the other node,
 * and answered from the event bus's routing table without a Hazelcast read per publish.
 */
@ExtendWith(VertxExtension.class)
class ConsumerDirectoryTest {

  static final DeliveryOptions LOCAL = new DeliveryOptions().setLocalOnly(true);
  static final int N = 50;
  static List<SwitchboardNode> nodes;
  static Vertx backend;
  static final List<JsonObject> undelivered = new CopyOnWriteArrayList<>();

  @BeforeAll
  static void start() {
    // Test clients send faster than a person would: lift the inbound rate limit.
    nodes = TestNodes.cluster(2, new JsonObject().put("limits", new JsonObject()
        .put("messages_per_second", 10_000).put("burst", 10_000)));
    SwitchboardConfig.Cluster c = nodes.get(0).context().config().cluster();
    backend = ExampleBackend.start(new SwitchboardConfig.Cluster(false, "127.0.0.1", TestNodes.freePort(),
        c.members(), c.config(), c.name(), null, 0)).await();
    backend.eventBus().<JsonObject>consumer(Addresses.UNDELIVERED, m -> undelivered.add(m.body())).completion().await();
    for (SwitchboardNode n : nodes) {
      waitFor(() -> n.context().members().size() == 3, 10_000, () -> "backend visible to " + n.name());
    }
  }

  @AfterAll
  static void stop() {
    if (backend != null) {
      backend.close().await();
    }
    TestNodes.closeAll(nodes);
  }

  static String unique(String prefix) {
    return prefix + "-" + UUID.randomUUID().toString().substring(0, 8);
  }

  /** n publishes to the user through node A's own router, each acknowledged. */
  static void publishFromA(String user, String tag, int n) {
    List<Future<?>> acks = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      acks.add(nodes.get(0).vertx().eventBus().request(Addresses.PUBLISH, new JsonObject()
          .put("channel", "user:" + user).put("message", new JsonObject().put("tag", tag).put("i", i)), LOCAL));
    }
    Future.all(acks).await();
  }

  static long reports(String user, String tag) {
    return undelivered.stream().filter(u -> ("user:" + user).equals(u.getString("channel"))
        && tag.equals(u.getJsonObject("message").getString("tag"))).count();
  }

  /**
   * Reports are published in the order the checks complete; a check answered from the table completes
   * during the publish. So once a later report for an absent user has arrived, an earlier report, had
   * there been one, would have arrived too.
   */
  static void awaitMarkerFromA() {
    String marker = unique("marker");
    publishFromA(marker, "marker", 1);
    waitFor(() -> reports(marker, "marker") == 1, 10_000, () -> "marker report for " + marker);
  }

  /** Get operations on the subscription MultiMap, summed over every member (each counts the keys it owns). */
  static long subsMapGets() {
    List<Vertx> members = new ArrayList<>(List.of(backend));
    nodes.forEach(n -> members.add(n.vertx()));
    return SubscriptionTable.gets(members);
  }

  /**
   * Blocking tasks node A's worker pool has run: vertx-hazelcast reads the subscription table on it, and a
   * read of a key with no entry does not show in the MultiMap's own statistics.
   */
  static long workerTasksOnA() {
    return (long) nodes.get(0).context().registry().getMeters().stream()
        .filter(m -> m.getId().getName().endsWith("pool.usage") && "worker".equals(m.getId().getTag("pool_type")))
        .mapToDouble(m -> ((io.micrometer.core.instrument.Timer) m).count()).sum();
  }

  static boolean hasConsumer(ConsumerDirectory d, String user) {
    return d.hasConsumer(Addresses.channel(dev.switchboard.protocol.Channel.parse("user:" + user).channel()))
        .await();
  }

  @Test
  void theDirectoryUsesTheEventBusRoutingTableOnNodesAndBackends() {
    for (SwitchboardNode n : nodes) {
      assertTrue(ConsumerDirectory.of(n.vertx()).usesEventBusTable(), n.name()
          + ": the event bus's routing table was not reachable; every user: publish would read Hazelcast");
    }
    assertTrue(ConsumerDirectory.of(backend).usesEventBusTable(), "backend JVM");
    for (Vertx v : List.of(nodes.get(0).vertx(), nodes.get(1).vertx(), backend)) {
      ConsumerDirectory d = ConsumerDirectory.of(v);
      waitFor(() -> d.watches(Addresses.INBOUND) && d.watches(Addresses.UNDELIVERED), 5_000,
          () -> "service addresses watched");
      // The backend consumes switchboard.undelivered (see start()); nobody consumes switchboard.inbound.
      waitFor(() -> d.mayHaveConsumer(Addresses.UNDELIVERED) && !d.mayHaveConsumer(Addresses.INBOUND), 2_000,
          () -> "watched flags");
    }
    Vertx standalone = Vertx.vertx();
    try {
      assertEquals(null, ConsumerDirectory.of(standalone), "standalone Vert.x has no cluster directory");
    } finally {
      standalone.close().await();
    }
  }

  @Test
  void aSessionOnAnotherNodeSilencesReportsAndItsDepartureBringsThemBack(Vertx vertx) {
    String user = unique("roamer");
    ConsumerDirectory onA = ConsumerDirectory.of(nodes.get(0).vertx());
    Publisher helper = Switchboard.publisher(backend);

    // Connected on node B: publishes from node A and from the backend reach it and are not reported.
    WsClient session = WsClient.authed(vertx, nodes.get(1).port(), TestNodes.token(user)).await();
    publishFromA(user, "while-connected", N);
    for (int i = 0; i < N; i++) {
      helper.toUser(user, new JsonObject().put("tag", "while-connected-helper").put("i", i)).await();
    }
    for (int i = 0; i < N; i++) {
      final int seq = i;
      session.next(m -> "message".equals(m.getString("type"))
          && "while-connected".equals(m.getJsonObject("message").getString("tag"))
          && m.getJsonObject("message").getInteger("i") == seq, 5_000).await();
    }
    awaitMarkerFromA();
    String helperMarker = unique("helper-marker");
    helper.toUser(helperMarker, new JsonObject().put("tag", "marker")).await();
    waitFor(() -> reports(helperMarker, "marker") == 1, 10_000, () -> "helper marker report");
    assertEquals(0, reports(user, "while-connected"), "publishes from node A to a user connected on B");
    assertEquals(0, reports(user, "while-connected-helper"), "helper publishes to a user connected on B");

    // The user leaves B: once node A's view has seen it, the very next publish is reported.
    long departed = System.nanoTime();
    session.close().await();
    waitFor(() -> !hasConsumer(onA, user), 2_000, () -> "node A's view still has a consumer for " + user);
    long viewMs = (System.nanoTime() - departed) / 1_000_000;
    publishFromA(user, "after-leaving", 1);
    waitFor(() -> reports(user, "after-leaving") == 1, 5_000, () -> "report after the user left (view took "
        + viewMs + " ms)");
    helper.toUser(user, new JsonObject().put("tag", "after-leaving-helper")).await();
    waitFor(() -> reports(user, "after-leaving-helper") == 1, 5_000, () -> "helper report after the user left");

    // Back on B: seen at once, no report.
    WsClient again = WsClient.authed(vertx, nodes.get(1).port(), TestNodes.token(user)).await();
    publishFromA(user, "reconnected", 1);
    again.next(m -> "message".equals(m.getString("type"))
        && "reconnected".equals(m.getJsonObject("message").getString("tag")), 5_000).await();
    awaitMarkerFromA();
    assertEquals(0, reports(user, "reconnected"), "a user who came back is not reported");
    again.close().await();
  }

  @Test
  void aConnectedUsersPublishesAreAnsweredWithoutAHazelcastReadEach(Vertx vertx) {
    String user = unique("busy");
    ConsumerDirectory onA = ConsumerDirectory.of(nodes.get(0).vertx());
    WsClient session = WsClient.authed(vertx, nodes.get(1).port(), TestNodes.token(user)).await();
    publishFromA(user, "warm", 1);
    session.next("message", 5_000).await();

    // The observable works: a direct lookup in the subscription table is counted.
    long before = subsMapGets();
    Promise<List<RegistrationInfo>> p = Promise.promise();
    nodes.get(0).context().clusterManager().getRegistrations(
        Addresses.channel(dev.switchboard.protocol.Channel.parse("user:" + user).channel()), p);
    p.future().await();
    waitFor(() -> subsMapGets() > before, 2_000, () -> "Hazelcast counts MultiMap gets");

    long gets = subsMapGets();
    long fromTable = onA.answeredFromTable();
    publishFromA(user, "hot", N);
    for (int i = 0; i < N; i++) {
      final int seq = i;
      session.next(m -> "message".equals(m.getString("type"))
          && "hot".equals(m.getJsonObject("message").getString("tag"))
          && m.getJsonObject("message").getInteger("i") == seq, 5_000).await();
    }
    long extraGets = subsMapGets() - gets;
    assertTrue(extraGets < N / 5, N + " publishes to a connected user made " + extraGets
        + " reads of the subscription table (at most a few from unrelated registration changes expected)");
    assertTrue(onA.answeredFromTable() - fromTable >= N,
        "every check answered from the routing table: " + (onA.answeredFromTable() - fromTable) + " of " + N);
    assertEquals(0, reports(user, "hot"));
    session.close().await();
  }

  @Test
  void clientSendsMakeNoHazelcastReadWhileNobodyConsumesInbound(Vertx vertx) {
    ConsumerDirectory onA = ConsumerDirectory.of(nodes.get(0).vertx());
    waitFor(() -> onA.watches(Addresses.INBOUND), 5_000, () -> "node A watches switchboard.inbound");
    waitFor(() -> !onA.mayHaveConsumer(Addresses.INBOUND), 2_000, () -> "node A learns nobody consumes inbound");
    String user = unique("target");
    WsClient target = WsClient.authed(vertx, nodes.get(1).port(), TestNodes.token(user)).await();
    WsClient sender = WsClient.authed(vertx, nodes.get(0).port(), TestNodes.token(unique("sender"))).await();
    sendAll(sender, user, "warm", 1);
    target.next("message", 5_000).await();

    // One at a time: concurrent publishes on an address without consumers share Vert.x's in-flight lookup.
    long gets = subsMapGets();
    long tasks = workerTasksOnA();
    for (int i = 0; i < N; i++) {
      JsonObject ack = sender.request(UUID.randomUUID().toString(), new JsonObject().put("type", "send")
          .put("to", user).put("message", new JsonObject().put("tag", "hot").put("i", i)), 10_000).await();
      assertEquals("ack", ack.getString("type"), ack::encode);
    }
    for (int i = 0; i < N; i++) {
      final int seq = i;
      target.next(m -> "message".equals(m.getString("type"))
          && "hot".equals(m.getJsonObject("message").getString("tag"))
          && m.getJsonObject("message").getInteger("i") == seq, 5_000).await();
    }
    long extraGets = subsMapGets() - gets;
    long extraTasks = workerTasksOnA() - tasks;
    assertTrue(extraGets < N / 5 && extraTasks < N / 5, N + " client sends to a connected user made " + extraGets
        + " reads of the subscription table and ran " + extraTasks + " blocking tasks (lookups) on node A");
    closeAll(List.of(target, sender));
  }

  @Test
  void aBackendThatStartsConsumingInboundIsSeenAndItsDepartureToo(Vertx vertx) {
    ConsumerDirectory onA = ConsumerDirectory.of(nodes.get(0).vertx());
    waitFor(() -> !onA.mayHaveConsumer(Addresses.INBOUND), 2_000, () -> "node A learns nobody consumes inbound");
    List<JsonObject> inbound = new CopyOnWriteArrayList<>();
    var consumer = backend.eventBus().<JsonObject>consumer(Addresses.INBOUND, m -> inbound.add(m.body()));
    consumer.completion().await();
    long registered = System.nanoTime();
    waitFor(() -> onA.mayHaveConsumer(Addresses.INBOUND), 2_000, () -> "node A sees the backend's inbound consumer");
    long seenMs = (System.nanoTime() - registered) / 1_000_000;

    String user = unique("target");
    WsClient target = WsClient.authed(vertx, nodes.get(1).port(), TestNodes.token(user)).await();
    WsClient sender = WsClient.authed(vertx, nodes.get(0).port(), TestNodes.token(unique("sender"))).await();
    sendAll(sender, user, "copied", 1);
    waitFor(() -> inbound.stream().anyMatch(m -> ("user:" + user).equals(m.getString("channel"))), 5_000,
        () -> "the backend gets the client's send on switchboard.inbound (seen after " + seenMs + " ms)");

    consumer.unregister().await();
    waitFor(() -> !onA.mayHaveConsumer(Addresses.INBOUND), 2_000, () -> "node A sees the consumer gone");
    closeAll(List.of(target, sender));
  }

  static void sendAll(WsClient sender, String to, String tag, int n) {
    List<Future<JsonObject>> acks = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      acks.add(sender.request(UUID.randomUUID().toString(), new JsonObject().put("type", "send").put("to", to)
          .put("message", new JsonObject().put("tag", tag).put("i", i)), 10_000));
    }
    for (Future<JsonObject> ack : acks) {
      JsonObject answer = ack.await();
      assertEquals("ack", answer.getString("type"), answer::encode);
    }
  }

  static void closeAll(List<WsClient> clients) {
    Future.join(clients.stream().map(WsClient::close).toList()).await();
  }
}
