package dev.switchboard.testing;

import dev.switchboard.SwitchboardNode;
import dev.switchboard.auth.TokenIssuer;
import dev.switchboard.config.ConfigLoader;
import dev.switchboard.config.SwitchboardConfig;
import io.micrometer.core.instrument.Gauge;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * Starts real Switchboard nodes for tests: standalone, or clustered over Hazelcast on loopback with free
 * ports and a unique cluster name per call, so concurrent or leftover clusters never join each other.
 */
public final class TestNodes {

  public static final String SECRET = "test-secret-0123456789-0123456789-abcdef";
  public static final String API_KEY = "test-api-key";

  private static final java.util.Set<Integer> HANDED_OUT = java.util.concurrent.ConcurrentHashMap.newKeySet();

  private TestNodes() {}

  /**
   * A port that is free now, picked below the kernel's ephemeral range (32768+): ports handed out for
   * port 0 binds and outgoing connections come from that range, so a port chosen up front for a node
   * started later is not taken meanwhile by some other socket. A port is handed out once per JVM: the probe
   * closes at once, so without that two calls (a node's HTTP port and another node's cluster port) could get
   * the same port and the slower node fail to bind it (seen in CI).
   */
  public static int freePort() {
    java.util.concurrent.ThreadLocalRandom rnd = java.util.concurrent.ThreadLocalRandom.current();
    for (int attempt = 0; attempt < 200; attempt++) {
      int port = rnd.nextInt(20_000, 32_000);
      if (!HANDED_OUT.add(port)) {
        continue;
      }
      try (ServerSocket s = new ServerSocket(port, 50, InetAddress.getByName("127.0.0.1"))) {
        return port;
      } catch (IOException taken) {
        // try another
      }
    }
    throw new IllegalStateException("no free port found in 20000-32000");
  }

  /**
   * Test defaults: port 0 (free), known secret and API key, two gateway instances. The system property
   * {@code switchboard.test.transport} runs every node of the suite on that transport
   * ({@code mvn test -Dswitchboard.test.transport=io_uring}).
   */
  public static JsonObject base() {
    JsonObject server = new JsonObject().put("port", 0).put("instances", 2);
    String transport = System.getProperty("switchboard.test.transport");
    if (transport != null && !transport.isBlank()) {
      server.put("transport", transport);
    }
    return new JsonObject()
        .put("server", server)
        .put("auth", new JsonObject().put("jwt_secret", SECRET))
        .put("api", new JsonObject().put("keys", new JsonArray().add(API_KEY)))
        .put("logging", new JsonObject().put("message_sample_rate", 0));
  }

  public static SwitchboardConfig config(JsonObject overrides) {
    JsonObject tree = base();
    merge(tree, overrides);
    return ConfigLoader.fromJson(tree);
  }

  public static SwitchboardNode standalone() {
    return standalone(new JsonObject());
  }

  public static SwitchboardNode standalone(JsonObject overrides) {
    JsonObject o = overrides.copy();
    merge(o, new JsonObject().put("cluster", new JsonObject().put("standalone", true)));
    return SwitchboardNode.start(config(o)).await();
  }

  /** n clustered nodes that see each other; started one after the other. */
  public static List<SwitchboardNode> cluster(int n) {
    return cluster(n, new JsonObject());
  }

  public static List<SwitchboardNode> cluster(int n, JsonObject overrides) {
    String name = "test-" + UUID.randomUUID();
    List<Integer> ports = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      ports.add(freePort());
    }
    JsonArray members = new JsonArray();
    ports.forEach(p -> members.add("127.0.0.1:" + p));
    List<SwitchboardNode> nodes = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      JsonObject o = overrides.copy();
      merge(o, new JsonObject()
          .put("node", new JsonObject().put("id", "n" + (i + 1)))
          .put("cluster", new JsonObject().put("standalone", false).put("name", name).put("host", "127.0.0.1")
              .put("port", ports.get(i)).put("members", members)));
      nodes.add(SwitchboardNode.start(config(o)).await());
    }
    return nodes;
  }

  /** The worst lateness, over the node's event loops, of the lag probe in its last one-second window, in seconds. */
  public static double worstLoopLagSeconds(SwitchboardNode node) {
    return node.context().registry().find("switchboard.event.loop.lag").gauges().stream()
        .mapToDouble(Gauge::value).max().orElse(0);
  }

  public static void closeAll(List<SwitchboardNode> nodes) {
    List<Future<Void>> all = new ArrayList<>();
    for (SwitchboardNode n : nodes) {
      all.add(n.close());
    }
    Future.join(all).await();
  }

  private static TokenIssuer issuer;

  public static synchronized String token(String sub, String... rooms) {
    if (issuer == null) {
      issuer = new TokenIssuer(Vertx.vertx(), SECRET);
    }
    return issuer.issue(sub, List.of(rooms), List.of(), Map.of(), Duration.ofHours(1));
  }

  public static synchronized String token(String sub, List<String> rooms, Map<String, String> claims, Duration ttl) {
    if (issuer == null) {
      issuer = new TokenIssuer(Vertx.vertx(), SECRET);
    }
    return issuer.issue(sub, rooms, List.of(), claims, ttl);
  }

  static void merge(JsonObject into, JsonObject from) {
    ConfigLoader.deepMerge(into, from);
  }

}
