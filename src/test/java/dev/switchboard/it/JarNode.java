package dev.switchboard.it;

import dev.switchboard.testing.TestNodes;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

/**
 * One Switchboard node in its own JVM, started from the built jar ({@code -Dswitchboard.jar}, set by the
 * failsafe configuration) the way an operator would: env vars only. Each cluster gets a unique cluster name
 * and free ports on loopback. Processes are stopped by the PID this class started, never by name.
 */
final class JarNode implements AutoCloseable {

  static final String SECRET = TestNodes.SECRET;
  static final String API_KEY = TestNodes.API_KEY;
  private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

  final String name;
  final int port;
  final int clusterPort;
  final Path log;
  private final Process process;

  private JarNode(String name, int port, int clusterPort, Path log, Process process) {
    this.name = name;
    this.port = port;
    this.clusterPort = clusterPort;
    this.log = log;
    this.process = process;
  }

  static Path jar() {
    String jar = System.getProperty("switchboard.jar");
    if (jar == null || !Files.isRegularFile(Path.of(jar))) {
      throw new IllegalStateException("system property switchboard.jar must name the built jar (run through "
          + "mvn verify, whose failsafe configuration sets it); got " + jar);
    }
    return Path.of(jar).toAbsolutePath();
  }

  /**
   * Starts n nodes at once (they find each other through the shared member list) and waits until all are ready.
   * Ports are probed free before the JVMs start, so another process on the machine can take one meanwhile: a
   * start that failed only for that is tried again on new ports, at most three times.
   */
  static List<JarNode> cluster(int n, Map<String, String> extraEnv) throws IOException, InterruptedException {
    for (int attempt = 1; ; attempt++) {
      try {
        return startCluster(n, extraEnv);
      } catch (IllegalStateException e) {
        if (attempt == 3 || e.getMessage() == null || !e.getMessage().contains("is in use")) {
          throw e;
        }
        System.err.println("JarNode: a port was taken before the node bound it, starting again on new ports: "
            + e.getMessage().lines().findFirst().orElse(""));
      }
    }
  }

  private static List<JarNode> startCluster(int n, Map<String, String> extraEnv) throws IOException, InterruptedException {
    String clusterName = "it-" + UUID.randomUUID();
    List<Integer> clusterPorts = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      clusterPorts.add(TestNodes.freePort());
    }
    String members = String.join(",", clusterPorts.stream().map(p -> "127.0.0.1:" + p).toList());
    Path dir = Files.createTempDirectory("switchboard-it-");
    List<JarNode> nodes = new ArrayList<>();
    try {
      for (int i = 0; i < n; i++) {
        String name = "n" + (i + 1);
        int port = TestNodes.freePort();
        Path log = dir.resolve(name + ".log");
        ProcessBuilder pb = new ProcessBuilder(javaBin(), "-Xmx160m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
            "-Djava.net.preferIPv4Stack=true", "-jar", jar().toString())
            .directory(dir.toFile()).redirectErrorStream(true).redirectOutput(log.toFile());
        Map<String, String> env = pb.environment();
        env.keySet().removeIf(k -> k.startsWith("SWITCHBOARD_"));
        env.put("SWITCHBOARD_NODE_ID", name);
        env.put("SWITCHBOARD_PORT", String.valueOf(port));
        env.put("SWITCHBOARD_CLUSTER_PORT", String.valueOf(clusterPorts.get(i)));
        env.put("SWITCHBOARD_CLUSTER_MEMBERS", members);
        env.put("SWITCHBOARD_CLUSTER_NAME", clusterName);
        env.put("SWITCHBOARD_JWT_SECRET", SECRET);
        env.put("SWITCHBOARD_API_KEYS", API_KEY);
        env.putAll(extraEnv);
        nodes.add(new JarNode(name, port, clusterPorts.get(i), log, pb.start()));
      }
      for (JarNode node : nodes) {
        node.awaitReady(90_000);
      }
      for (JarNode node : nodes) {
        node.awaitMembers(n, 30_000);
      }
      return nodes;
    } catch (IOException | InterruptedException | RuntimeException e) {
      nodes.forEach(JarNode::close);
      throw e;
    }
  }

  private static String javaBin() {
    return Path.of(System.getProperty("java.home"), "bin", "java").toString();
  }

  long pid() {
    return process.pid();
  }

  boolean alive() {
    return process.isAlive();
  }

  /** kill -9: the node vanishes without a word to the cluster. */
  void kill9() throws InterruptedException {
    process.destroyForcibly();
    process.waitFor(10, TimeUnit.SECONDS);
  }

  /** SIGSTOP / SIGCONT: the JVM freezes (as in a long GC or VM pause) and goes on where it was. */
  void signal(String name) throws IOException, InterruptedException {
    Process kill = new ProcessBuilder("kill", "-" + name, String.valueOf(process.pid())).inheritIO().start();
    if (!kill.waitFor(10, TimeUnit.SECONDS) || kill.exitValue() != 0) {
      throw new IllegalStateException("kill -" + name + " " + process.pid() + " failed");
    }
  }

  /** SIGTERM: the node drains (see RunCommand). */
  void terminate() {
    process.destroy();
  }

  /** Waits for the process to exit; returns its exit code, or -1 if it is still running at the deadline. */
  int awaitExit(long timeoutMs) throws InterruptedException {
    return process.waitFor(timeoutMs, TimeUnit.MILLISECONDS) ? process.exitValue() : -1;
  }

  @Override
  public void close() {
    if (process.isAlive()) {
      process.destroyForcibly();
      try {
        process.waitFor(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /** Status and body of a GET/POST with the API key; status -1 when the node does not answer. */
  record Answer(int status, String body) {}

  Answer get(String path) {
    return call(HttpRequest.newBuilder(uri(path)).GET());
  }

  Answer post(String path, String json) {
    return call(HttpRequest.newBuilder(uri(path)).POST(HttpRequest.BodyPublishers.ofString(json))
        .header("Content-Type", "application/json"));
  }

  private URI uri(String path) {
    return URI.create("http://127.0.0.1:" + port + path);
  }

  private static Answer call(HttpRequest.Builder b) {
    try {
      HttpResponse<String> r = HTTP.send(b.header("Authorization", "Bearer " + API_KEY)
          .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
      return new Answer(r.statusCode(), r.body());
    } catch (IOException e) {
      return new Answer(-1, e.toString());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new Answer(-1, "interrupted");
    }
  }

  private void awaitReady(long timeoutMs) throws InterruptedException {
    long deadline = System.currentTimeMillis() + timeoutMs;
    while (get("/health/ready").status() != 200) {
      if (!process.isAlive()) {
        throw new IllegalStateException(name + " exited with " + process.exitValue() + ":\n" + tail());
      }
      if (System.currentTimeMillis() > deadline) {
        throw new IllegalStateException(name + " not ready within " + timeoutMs + " ms:\n" + tail());
      }
      Thread.sleep(100);
    }
  }

  private void awaitMembers(int n, long timeoutMs) throws InterruptedException {
    long deadline = System.currentTimeMillis() + timeoutMs;
    while (true) {
      Answer a = get("/api/nodes");
      if (a.status() == 200 && new io.vertx.core.json.JsonObject(a.body()).getInteger("count") == n) {
        return;
      }
      if (System.currentTimeMillis() > deadline) {
        throw new IllegalStateException(name + " does not see " + n + " nodes: " + a + "\n" + tail());
      }
      Thread.sleep(100);
    }
  }

  /** The last lines of the node's output, for failure messages. */
  String tail() {
    try {
      List<String> lines = Files.readAllLines(log);
      return String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size()));
    } catch (IOException e) {
      return "(no log: " + e + ")";
    }
  }
}
