package dev.switchboard.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.core.transport.Transport;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A short {@code switchboard bench} run from the built jar, every scenario against both Switchboard and
 * the bare baseline, small N and a few seconds each: it keeps the tool working. It asserts only that
 * every run completed with every message delivered and every figure present — never a speed, since CI
 * machines differ and are shared.
 */
class BenchSmokeIT {

  @TempDir
  Path tmp;

  @Test
  void everyScenarioCompletesWithEveryMessageDelivered() throws Exception {
    String jarProperty = System.getProperty("switchboard.jar");
    assertNotNull(jarProperty, "system property switchboard.jar must name the built jar (failsafe sets it)");
    assertTrue(Files.isRegularFile(Path.of(jarProperty)), "no jar at " + jarProperty + ": run through mvn verify");
    String jar = Path.of(jarProperty).toAbsolutePath().toString();
    Path plots = tmp.resolve("plots");
    List<String> cmd = new ArrayList<>(List.of(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-jar", jar, "bench",
        "--scenario", "connect,fanout,direct,cluster", "--target", "both", "--quiet", "--json",
        "--connections", "200", "--steps", "2", "--subscribers", "30", "--sessions", "30", "--rate", "20",
        "--direct-rate", "100", "--cluster-direct-rate", "100", "--cluster-modes", "fanout",
        "--warmup", "1s", "--saturation", "1s", "--duration", "2s", "--node-jvm-opts", "-Xmx256m",
        "--work-dir", tmp.resolve("work").toString(), "--plots", plots.toString()));
    Path out = tmp.resolve("stdout.json");
    Path err = tmp.resolve("stderr.txt");
    Process p = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
    try {
      assertTrue(p.waitFor(300, TimeUnit.SECONDS), "bench did not finish within 300 s:\n" + tail(err));
      String stdout = Files.readString(out, StandardCharsets.UTF_8);
      assertEquals(0, p.exitValue(), "bench exit code; stderr:\n" + tail(err));
      JsonObject result = new JsonObject(stdout);
      assertTrue(result.getBoolean("complete"), "bench says a run was incomplete:\n" + tail(err));

      Set<String> names = new TreeSet<>();
      for (Object o : result.getJsonArray("scenarios")) {
        JsonObject sc = (JsonObject) o;
        names.add(sc.getString("name"));
        JsonArray runs = sc.getJsonArray("runs");
        assertEquals(2, runs.size(), sc.getString("name") + ": one run per target");
        for (Object r : runs) {
          JsonObject run = (JsonObject) r;
          String what = sc.getString("name") + "/" + run.getString("variant");
          assertTrue(run.getBoolean("complete"), what + " incomplete: " + run.getJsonArray("notes"));
          JsonObject f = run.getJsonObject("figures");
          if (sc.getString("name").equals("connect")) {
            assertEquals(200.0, f.getDouble("connections"), what);
            assertEquals(0.0, f.getDouble("failed"), what);
            assertTrue(f.getDouble("node_cpu_ms_per_connect") > 0, what + " node CPU measured");
            assertNotNull(f.getDouble("heap_kib_per_conn"), what + " heap measured");
          } else {
            assertEquals(0.0, f.getDouble("lost"), what + ": every message delivered");
            // the open loop sends what the schedule says, however its timer is paced
            double rate = sc.getString("name").equals("direct") ? 100 : 20;
            assertEquals(rate, f.getDouble("offered_msgs_per_s"), rate / 4, what + ": offered rate");
            assertTrue(f.getDouble("deliveries_per_s") > 0, what);
            assertNotNull(f.getDouble("p99_ms"), what);
            assertNotNull(f.getDouble("sat_deliveries_per_s"), what);
          }
        }
        assertFalse(sc.getJsonObject("median").isEmpty());
      }
      assertEquals(Set.of("cluster-fanout", "connect", "direct", "fanout"), names);
      assertTrue(Files.isRegularFile(plots.resolve("memory-per-connection.png")), "memory plot written");
      assertTrue(Files.isRegularFile(plots.resolve("latency-fanout.png")), "latency plot written");
    } finally {
      // SIGTERM first: the bench's shutdown hook stops the nodes it started; then anything left, by PID.
      List<ProcessHandle> children = p.descendants().toList();
      if (p.isAlive()) {
        p.destroy();
        if (!p.waitFor(20, TimeUnit.SECONDS)) {
          p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
      }
      children.stream().filter(ProcessHandle::isAlive).forEach(ProcessHandle::destroyForcibly);
    }
  }

  /**
   * {@code --publisher bus}: the bench joins the servers' cluster as a backend JVM and publishes on the event bus,
   * one node and three, against Switchboard and against bare servers clustered for it; every message arrives.
   */
  @Test
  void aPublisherOnTheEventBusReachesEverySubscriber() throws Exception {
    String jar = Path.of(System.getProperty("switchboard.jar")).toAbsolutePath().toString();
    Path work = tmp.resolve("work-bus");
    Path out = tmp.resolve("bus.json");
    Path err = tmp.resolve("stderr-bus.txt");
    Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-jar", jar,
        "bench", "--scenario", "fanout,cluster", "--cluster-modes", "fanout", "--publisher", "bus", "--target", "both",
        "--quiet", "--json", "--subscribers", "30", "--warmup", "1s", "--saturation", "1s", "--duration", "2s",
        "--node-jvm-opts", "-Xmx256m", "--work-dir", work.toString())
        .redirectOutput(out.toFile()).redirectError(err.toFile()).start();
    try {
      assertTrue(p.waitFor(300, TimeUnit.SECONDS), "bench did not finish within 300 s:\n" + tail(err));
      assertEquals(0, p.exitValue(), "bench exit code; stderr:\n" + tail(err));
      JsonObject result = new JsonObject(Files.readString(out, StandardCharsets.UTF_8));
      assertEquals("bus", result.getJsonObject("settings").getString("publisher"));
      assertTrue(result.getBoolean("complete"), "bench says a run was incomplete:\n" + tail(err));
      Set<String> names = new TreeSet<>();
      for (Object o : result.getJsonArray("scenarios")) {
        JsonObject sc = (JsonObject) o;
        names.add(sc.getString("name"));
        assertTrue(sc.getString("description").contains("on the clustered event bus"), sc.getString("description"));
        for (Object r : sc.getJsonArray("runs")) {
          JsonObject run = (JsonObject) r;
          String what = sc.getString("name") + "/" + run.getString("variant");
          assertTrue(run.getBoolean("complete"), what + " incomplete: " + run.getJsonArray("notes"));
          JsonObject f = run.getJsonObject("figures");
          assertEquals(0.0, f.getDouble("lost"), what + ": every message delivered");
          assertEquals(0.0, f.getDouble("out_of_order"), what + ": in the order published");
          assertTrue(f.getDouble("deliveries_per_s") > 0, what);
        }
      }
      assertEquals(Set.of("cluster-fanout", "fanout"), names);
    } finally {
      p.descendants().forEach(ProcessHandle::destroyForcibly);
      p.destroyForcibly();
    }
  }

  /** --transport reaches the node's config: its ready line names the transport it runs on. */
  @Test
  void theTransportOptionReachesTheNode() throws Exception {
    String transport = io.vertx.core.transport.Transport.IO_URING.available() ? "io_uring" : "nio";
    String jar = Path.of(System.getProperty("switchboard.jar")).toAbsolutePath().toString();
    Path work = tmp.resolve("work-transport");
    Path err = tmp.resolve("stderr-transport.txt");
    Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-jar", jar,
        "bench", "--scenario", "fanout", "--target", "switchboard", "--quiet", "--transport", transport,
        "--subscribers", "20", "--warmup", "1s", "--saturation", "0", "--duration", "1s", "--node-jvm-opts", "-Xmx256m",
        "--work-dir", work.toString())
        .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(err.toFile()).start();
    try {
      assertTrue(p.waitFor(120, TimeUnit.SECONDS), "bench did not finish within 120 s:\n" + tail(err));
      assertEquals(0, p.exitValue(), "bench exit code; stderr:\n" + tail(err));
      String nodeLog = Files.readString(work.resolve("switchboard-1.log"), StandardCharsets.UTF_8);
      assertTrue(nodeLog.contains("transport=" + transport), "node log names " + transport + ":\n" + nodeLog);
    } finally {
      p.descendants().forEach(ProcessHandle::destroyForcibly);
      p.destroyForcibly();
    }
  }

  /**
   * --client-transport picks the load generator's own transport, and on io_uring --client-uring its set-up; a
   * name either does not know is refused.
   */
  @Test
  void theLoadGeneratorRunsOnTheTransportItIsGiven() throws Exception {
    String jar = Path.of(System.getProperty("switchboard.jar")).toAbsolutePath().toString();
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    JsonObject nio = shortBareFanout(jar, java, "nio", "--client-transport", "nio");
    assertEquals("nio", nio.getJsonObject("settings").getString("client_transport"));
    assertTrue(Files.readString(tmp.resolve("stderr-nio.txt")).contains("load generator transport nio"));
    if (Transport.IO_URING.available()) {
      // on io_uring the load generator reads through multishot receives on provided buffers (LoadTransport)
      JsonObject uring = shortBareFanout(jar, java, "uring", "--client-transport", "io_uring");
      assertEquals("tuned", uring.getJsonObject("settings").getString("client_uring"));
      assertTrue(Files.readString(tmp.resolve("stderr-uring.txt")).contains("load generator transport io_uring (tuned)"));
    }

    assertRefused(jar, java, "--client-transport: one of auto, io_uring, epoll, nio, not uring", "--client-transport", "uring");
    assertRefused(jar, java, "--client-uring: tuned or plain, not fast", "--client-uring", "fast");
  }

  /** A one-second bare fanout with {@code args} added; its JSON result, after checking every message arrived. */
  private JsonObject shortBareFanout(String jar, String java, String tag, String... args) throws Exception {
    Path err = tmp.resolve("stderr-" + tag + ".txt");
    Path out = tmp.resolve(tag + ".json");
    List<String> cmd = new ArrayList<>(List.of(java, "-jar", jar, "bench", "--scenario", "fanout", "--target", "bare",
        "--json", "--subscribers", "20", "--warmup", "1s", "--saturation", "1s", "--duration", "1s",
        "--node-jvm-opts", "-Xmx256m", "--work-dir", tmp.resolve("work-" + tag).toString()));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
    try {
      assertTrue(p.waitFor(120, TimeUnit.SECONDS), "bench did not finish within 120 s:\n" + tail(err));
      assertEquals(0, p.exitValue(), "bench exit code; stderr:\n" + tail(err));
      JsonObject result = new JsonObject(Files.readString(out, StandardCharsets.UTF_8));
      assertTrue(result.getBoolean("complete"), "every message delivered with " + String.join(" ", args));
      return result;
    } finally {
      p.descendants().forEach(ProcessHandle::destroyForcibly);
      p.destroyForcibly();
    }
  }

  /** The bench refuses {@code args} before starting anything, saying {@code why}. */
  private static void assertRefused(String jar, String java, String why, String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(java, "-jar", jar, "bench"));
    cmd.addAll(List.of(args));
    Process bad = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(bad.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(bad.waitFor(60, TimeUnit.SECONDS));
    assertTrue(bad.exitValue() != 0, String.join(" ", args) + " is refused:\n" + out);
    assertTrue(out.contains(why), out);
  }

  private static String tail(Path file) throws IOException {
    List<String> lines = Files.exists(file) ? Files.readAllLines(file) : List.of();
    return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
  }
}
