package dev.switchboard.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.hazelcast.cluster.MembershipEvent;
import com.hazelcast.cluster.MembershipListener;
import dev.switchboard.SwitchboardNode;
import dev.switchboard.testing.Cli;
import dev.switchboard.testing.TestNodes;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.spi.cluster.hazelcast.HazelcastClusterManager;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code switchboard run} with a value it cannot use exits with code 2 and prints the key, before starting
 * anything: as a flag (in this JVM), and as SWITCHBOARD_* env vars (a child JVM, the only way to set them).
 */
class StartupConfigErrorTest {

  @TempDir
  Path dir;

  @Test
  void aBadPortFlagExitsWith2NamingTheOption() {
    Cli.Result r = Cli.run("run", "--port", "notaport");
    assertEquals(2, r.code(), r.toString());
    assertTrue(r.err().contains("--port") && r.err().contains("notaport"), r.toString());
  }

  @Test
  void aBadValueInTheConfFileExitsWith2NamingTheKey() throws IOException {
    Path f = dir.resolve("bad.json");
    Files.writeString(f, "{\"session\":{\"heartbeat\":\"soon\"}}");
    Cli.Result r = Cli.run("run", "--conf", f.toString());
    assertEquals(2, r.code(), r.toString());
    assertTrue(r.err().contains("session.heartbeat"), r.toString());
  }

  @Test
  void aHeartbeatThatIsNotWholeSecondsExitsWith2NamingTheKey() throws IOException {
    Path f = dir.resolve("heartbeat.json");
    Files.writeString(f, "{\"session\":{\"heartbeat\":\"1500ms\"}}");
    Cli.Result r = Cli.run("run", "--standalone", "--conf", f.toString());
    assertEquals(2, r.code(), r.toString());
    assertTrue(r.err().contains("switchboard: config error: session.heartbeat: must be a whole number of seconds, "
        + "was 1500ms"), r.toString());
  }

  @Test
  void aNamespaceLimitOverTheSessionsExitsWith2NamingTheKey() throws IOException {
    Path f = dir.resolve("namespace.json");
    Files.writeString(f, "{\"channels\":{\"namespaces\":{\"room\":{\"max_message_size\":100000}}}}");
    Cli.Result r = Cli.run("run", "--standalone", "--conf", f.toString());
    assertEquals(2, r.code(), r.toString());
    assertTrue(r.err().contains("switchboard: config error: channels.namespaces.room.max_message_size: must not be "
        + "larger than session.max_message_size (65536 bytes), was 100000"), r.toString());
    Files.writeString(f, "{\"channels\":{\"namespaces\":{\"room\":{\"publish_rate\":\"fast\"}}}}");
    r = Cli.run("run", "--standalone", "--conf", f.toString());
    assertEquals(2, r.code(), r.toString());
    assertTrue(r.err().contains("switchboard: config error: channels.namespaces.room.publish_rate: must be a number"),
        r.toString());
  }

  @Test
  void aMinNodesThatIsNotAWholeNumberFromOneExitsWith2NamingTheKey() throws IOException {
    Path f = dir.resolve("quorum.json");
    for (Object bad : List.of(0, -1, "two", 1.5)) {
      Files.writeString(f, new JsonObject().put("cluster", new JsonObject().put("min_nodes", bad)).encode());
      Cli.Result r = Cli.run("run", "--conf", f.toString());
      assertEquals(2, r.code(), bad + ": " + r);
      assertTrue(r.err().contains("switchboard: config error: cluster.min_nodes: must be"), bad + ": " + r);
    }
    // A standalone node has no cluster to count: refused rather than a quorum silently ignored.
    Files.writeString(f, new JsonObject().put("cluster", new JsonObject().put("min_nodes", 2)).encode());
    Cli.Result r = Cli.run("run", "--standalone", "--conf", f.toString());
    assertEquals(2, r.code(), r.toString());
    assertTrue(r.err().contains("switchboard: config error: cluster.min_nodes: is 2, but a standalone node"), r.toString());
  }

  @Test
  void settingsOnlyStartUpCanJudgeExitWith2NamingTheKeyToo() throws IOException {
    Path missingXml = dir.resolve("cluster.json");
    Files.writeString(missingXml, "{\"cluster\":{\"config\":\"" + dir.resolve("nope.xml") + "\"}}");
    for (var c : List.of(
        Map.entry(new String[] {"run", "--standalone", "--redis-url", "notaurl"}, "redis.url"),
        Map.entry(new String[] {"run", "--standalone", "--redis-url", "http://x"}, "redis.url"),
        Map.entry(new String[] {"run", "--cluster-members", "127.0.0.1:abc"}, "cluster.members"),
        Map.entry(new String[] {"run", "--cluster-members", "127.0.0.1:99999"}, "cluster.members"),
        Map.entry(new String[] {"run", "--cluster-host", "192.0.2.77"}, "cluster.host"),
        Map.entry(new String[] {"run", "--conf", missingXml.toString()}, "cluster.config"))) {
      Cli.Result r = Cli.run(c.getKey());
      assertEquals(2, r.code(), String.join(" ", c.getKey()) + ": " + r);
      assertTrue(r.err().contains("switchboard: config error: " + c.getValue()), String.join(" ", c.getKey()) + ": " + r);
      assertTrue(!r.err().contains("\tat "), "no stack trace: " + r);
    }
  }

  @Test
  void badEnvVarsExitWith2NamingTheKey() throws Exception {
    Path bad = dir.resolve("bad.json");
    Files.writeString(bad, "{\"server\":{\"port\":0},\"limits\":{\"burst\":-1}}");
    for (var c : List.of(Map.entry(Map.of("SWITCHBOARD_CONF", bad.toString()), "limits.burst"),
        Map.entry(Map.of("SWITCHBOARD_PORT", "notaport"), "server.port"),
        Map.entry(Map.of("SWITCHBOARD_AUTH_ISSUERS", "[{\"issuer\":"), "switchboard: config error: SWITCHBOARD_AUTH_ISSUERS: is not valid JSON"),
        Map.entry(Map.of("SWITCHBOARD_HEADER_TIMEOUT", "a while"), "server.header_timeout"),
        Map.entry(Map.of("SWITCHBOARD_BODY_TIMEOUT", "a while"), "server.body_timeout"))) {
      Path err = dir.resolve("stderr.txt");
      Process p = runInChildJvm(c.getKey(), err);
      try {
        boolean exited = p.waitFor(30, TimeUnit.SECONDS);
        String printed = Files.readString(err);
        assertTrue(exited, "the child JVM did not exit; it printed: " + printed);
        assertEquals(2, p.exitValue(), printed);
        assertTrue(printed.contains(c.getValue()), c.getValue() + " missing from: " + printed);
      } finally {
        p.destroyForcibly();
      }
    }
  }

  /**
   * A JWKS endpoint that cannot be read at start stops the node at once, naming auth.jwks_url: nothing listening,
   * HTTP 500, and one that takes the connection but never answers (the read gives up after its 5 s timeout).
   * Before, the failure reached an event loop already closed, and the node hung for 120 s then exited 1.
   */
  @Test
  void aJwksUrlThatCannotBeReadAtStartExitsWith2NamingTheKey() throws Exception {
    Vertx vertx = Vertx.vertx();
    int closedPort;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      closedPort = s.getLocalPort();
    }
    // Accepted by the kernel (the backlog) and never read: a connection that gets no answer.
    try (ServerSocket silent = new ServerSocket(0, 8, InetAddress.getLoopbackAddress())) {
      HttpServer failing = vertx.createHttpServer().requestHandler(req -> req.response().setStatusCode(500).end())
          .listen(0, "127.0.0.1").await();
      for (var c : List.of(
          Map.entry(closedPort, "refused"),
          Map.entry(failing.actualPort(), "HTTP 500"),
          Map.entry(silent.getLocalPort(), "timeout"))) {
        Path conf = dir.resolve("jwks.json");
        Files.writeString(conf, new JsonObject().put("server", new JsonObject().put("port", 0))
            .put("auth", new JsonObject().putNull("jwt_secret").put("jwks_url", "http://127.0.0.1:" + c.getKey() + "/jwks.json"))
            .encode());
        Path err = dir.resolve("stderr.txt");
        long t0 = System.nanoTime();
        Process p = runInChildJvm(Map.of("SWITCHBOARD_CONF", conf.toString()), err);
        try {
          boolean exited = p.waitFor(40, TimeUnit.SECONDS);
          long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - t0);
          String printed = Files.readString(err);
          assertTrue(exited, c.getValue() + ": the child JVM did not exit; it printed: " + printed);
          assertEquals(2, p.exitValue(), c.getValue() + ": " + printed);
          assertTrue(printed.contains("switchboard: config error: auth.jwks_url: cannot fetch JWKS: "), c.getValue() + ": " + printed);
          assertTrue(printed.toLowerCase(Locale.ROOT).contains(c.getValue().toLowerCase(Locale.ROOT)), c.getValue() + ": " + printed);
          assertTrue(!printed.contains("\tat ") && !printed.contains("RejectedExecutionException"), c.getValue() + ": " + printed);
          // JVM start plus the 5 s read timeout at most, with room for a busy machine; the bug took 120 s.
          assertTrue(seconds < 30, c.getValue() + ": took " + seconds + " s");
        } finally {
          p.destroyForcibly();
        }
      }
    } finally {
      vertx.close().await();
    }
  }

  /**
   * With several trusted issuers, the one whose JWKS endpoint cannot be read is named by its place in
   * auth.issuers, the others being fine.
   */
  @Test
  void aTrustedIssuersEndpointThatCannotBeReadAtStartExitsWith2NamingItsKey() throws Exception {
    Vertx vertx = Vertx.vertx();
    try {
      HttpServer good = vertx.createHttpServer().requestHandler(req -> req.response()
              .putHeader("content-type", "application/json").end("{\"keys\":[]}"))
          .listen(0, "127.0.0.1").await();
      HttpServer failing = vertx.createHttpServer().requestHandler(req -> req.response().setStatusCode(500).end())
          .listen(0, "127.0.0.1").await();
      JsonArray issuers = new JsonArray()
          .add(new JsonObject().put("issuer", "https://a.example").put("jwks_url", "http://127.0.0.1:" + good.actualPort() + "/jwks"))
          .add(new JsonObject().put("issuer", "https://b.example").put("jwks_url", "http://127.0.0.1:" + failing.actualPort() + "/jwks"));
      Path conf = dir.resolve("issuers.json");
      Files.writeString(conf, new JsonObject().put("server", new JsonObject().put("port", 0))
          .put("auth", new JsonObject().putNull("jwt_secret").put("issuers", issuers)).encode());
      Path err = dir.resolve("stderr.txt");
      Process p = runInChildJvm(Map.of("SWITCHBOARD_CONF", conf.toString()), err);
      try {
        boolean exited = p.waitFor(40, TimeUnit.SECONDS);
        String printed = Files.readString(err);
        assertTrue(exited, "the child JVM did not exit; it printed: " + printed);
        assertEquals(2, p.exitValue(), printed);
        assertTrue(printed.contains("switchboard: config error: auth.issuers[1].jwks_url: cannot fetch JWKS: HTTP 500 from "), printed);
        assertTrue(!printed.contains("\tat "), printed);
      } finally {
        p.destroyForcibly();
      }
    } finally {
      vertx.close().await();
    }
  }

  /**
   * The same failure on a clustered node: it joined before reading the JWKS, so failing must also leave the
   * cluster, and promptly, so the members do not count a node that never served.
   */
  @Test
  void aClusteredNodeWhoseJwksUrlFailsLeavesTheClusterAndFailsNamingTheKey() throws Exception {
    int closedPort;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      closedPort = s.getLocalPort();
    }
    SwitchboardNode n1 = TestNodes.cluster(1).get(0);
    try {
      SwitchboardConfig.Cluster c1 = n1.context().config().cluster();
      AtomicInteger joined = new AtomicInteger();
      AtomicInteger left = new AtomicInteger();
      ((HazelcastClusterManager) n1.context().clusterManager()).getHazelcastInstance().getCluster()
          .addMembershipListener(new MembershipListener() {
            @Override
            public void memberAdded(MembershipEvent e) {
              joined.incrementAndGet();
            }

            @Override
            public void memberRemoved(MembershipEvent e) {
              left.incrementAndGet();
            }
          });
      int port2 = TestNodes.freePort();
      SwitchboardConfig config = TestNodes.config(new JsonObject()
          .put("node", new JsonObject().put("id", "n2"))
          .put("auth", new JsonObject().putNull("jwt_secret").put("jwks_url", "http://127.0.0.1:" + closedPort + "/jwks.json"))
          .put("cluster", new JsonObject().put("standalone", false).put("name", c1.name()).put("host", "127.0.0.1")
              .put("port", port2).put("members", new JsonArray().add("127.0.0.1:" + c1.port()).add("127.0.0.1:" + port2))));
      ExecutionException failed = assertThrows(ExecutionException.class,
          () -> SwitchboardNode.start(config).toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS));
      assertTrue(failed.getCause() instanceof ConfigException, String.valueOf(failed.getCause()));
      assertTrue(failed.getCause().getMessage().startsWith("auth.jwks_url: cannot fetch JWKS: "), failed.getCause().getMessage());
      assertEquals(1, joined.get(), "n2 joined before it read the JWKS");
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (left.get() == 0 && System.nanoTime() < deadline) {
        Thread.sleep(50);
      }
      assertEquals(1, left.get(), "n2 left the cluster");
      assertEquals(1, n1.context().members().size());
    } finally {
      n1.close().await();
    }
  }

  /**
   * {@code java -cp <test classpath> dev.switchboard.Main run --standalone}: nothing clusters if it started
   * after all. No --port flag, since a flag would mask SWITCHBOARD_PORT.
   */
  private Process runInChildJvm(Map<String, String> env, Path stderr) throws IOException {
    String java = Paths.get(System.getProperty("java.home"), "bin", "java").toString();
    ProcessBuilder pb = new ProcessBuilder(java, "-Xmx128m", "-XX:TieredStopAtLevel=1", "-cp",
        System.getProperty("java.class.path"), "dev.switchboard.Main", "run", "--standalone");
    pb.environment().keySet().removeIf(k -> k.startsWith("SWITCHBOARD_"));
    pb.environment().putAll(env);
    pb.redirectOutput(stderr.resolveSibling("stdout.txt").toFile());
    pb.redirectError(stderr.toFile());
    return pb.start();
  }
}
