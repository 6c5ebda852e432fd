package dev.switchboard.browser;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.testing.TestNodes;
import io.vertx.core.json.JsonObject;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The demo page in headless Chromium against two clustered nodes started from the built jar: two pages on
 * different nodes chat and exchange a direct message; then the node one page is on is killed (SIGKILL) and
 * that page reconnects to the other node with its subscriptions restored. The browser side is
 * src/test/js/browser/demo.browser.mjs (playwright-core, Debian's /usr/bin/chromium); screenshots land
 * in the build directory under browser/.
 */
class DemoBrowserIT {

  private final List<Process> started = new ArrayList<>();

  @AfterEach
  void killAll() {
    for (Process p : started) {
      p.destroyForcibly();
    }
  }

  @Test
  void twoPagesOnTwoNodesChatAndOneSurvivesItsNodeDying() throws Exception {
    Path jar = Path.of(System.getProperty("switchboard.jar", "target/switchboard.jar")).toAbsolutePath();
    Path basedir = Path.of(System.getProperty("switchboard.basedir", System.getProperty("basedir", "."))).toAbsolutePath();
    Path buildDir = jar.getParent();
    assertTrue(Files.isRegularFile(jar), "build the jar first (mvn package): " + jar);
    Path script = basedir.resolve("src/test/js/browser/demo.browser.mjs");
    assertTrue(Files.isDirectory(basedir.resolve("src/test/js/node_modules/playwright-core")),
        "run `npm install` in src/test/js first (.ci/run does)");

    int http1 = TestNodes.freePort();
    int http2 = TestNodes.freePort();
    int hz1 = TestNodes.freePort();
    int hz2 = TestNodes.freePort();
    String cluster = "browser-" + UUID.randomUUID();
    String members = "127.0.0.1:" + hz1 + ",127.0.0.1:" + hz2;
    Process node1 = startNode(jar, buildDir, "node-1", http1, hz1, members, cluster);
    Process node2 = startNode(jar, buildDir, "node-2", http2, hz2, members, cluster);
    awaitReady(http1, node1);
    awaitReady(http2, node2);

    Path out = buildDir.resolve("browser");
    ProcessBuilder pb = new ProcessBuilder("node", script.toString(),
        "--node1", "http://127.0.0.1:" + http1, "--node2", "http://127.0.0.1:" + http2, "--out", out.toString())
        .directory(basedir.toFile())
        .redirectErrorStream(true);
    Process browser = pb.start();
    started.add(browser);
    StringBuilder transcript = new StringBuilder();
    try (BufferedReader lines = new BufferedReader(new InputStreamReader(browser.getInputStream(), StandardCharsets.UTF_8));
         OutputStream stdin = browser.getOutputStream()) {
      // The script bounds each of its own steps; its end of output ends this loop.
      for (String line; (line = lines.readLine()) != null; ) {
        System.out.println("browser: " + line);
        transcript.append(line).append('\n');
        if (line.equals("@@kill node2")) {
          node2.destroyForcibly();
          assertTrue(node2.waitFor(20, TimeUnit.SECONDS), "node 2 did not die");
          stdin.write("killed\n".getBytes(StandardCharsets.UTF_8));
          stdin.flush();
        }
      }
    }
    assertTrue(browser.waitFor(30, TimeUnit.SECONDS), "the browser script did not exit:\n" + transcript);
    assertEquals(0, browser.exitValue(), "browser scenario failed:\n" + transcript);
    assertTrue(transcript.toString().contains("OK demo:"), transcript.toString());
    assertTrue(transcript.toString().contains("step: bob reconnected to node-1"), transcript.toString());
    assertTrue(Files.isRegularFile(out.resolve("demo-bob-after-failover.png")), "screenshot saved");
    assertTrue(node1.isAlive(), "node 1 survived");
  }

  private Process startNode(Path jar, Path buildDir, String id, int http, int hz, String members, String cluster)
      throws IOException {
    Path log = buildDir.resolve("browser-" + id + ".log");
    ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Djava.net.preferIPv4Stack=true",
        "-jar", jar.toString())
        // The build dir has no conf/: the node runs on the defaults shipped in the jar plus these.
        .directory(buildDir.toFile())
        .redirectErrorStream(true)
        .redirectOutput(log.toFile());
    pb.environment().putAll(Map.of(
        "SWITCHBOARD_NODE_ID", id,
        "SWITCHBOARD_PORT", String.valueOf(http),
        "SWITCHBOARD_CLUSTER_PORT", String.valueOf(hz),
        "SWITCHBOARD_CLUSTER_MEMBERS", members,
        "SWITCHBOARD_CLUSTER_NAME", cluster,
        "SWITCHBOARD_JWT_SECRET", TestNodes.SECRET,
        "SWITCHBOARD_API_KEYS", TestNodes.API_KEY,
        "SWITCHBOARD_DEMO_TOKENS", "true"));
    pb.environment().remove("SWITCHBOARD_CONF");
    Process p = pb.start();
    started.add(p);
    return p;
  }

  /** Polls /health/ready until the node is ready in a cluster of two. */
  private static void awaitReady(int port, Process node) throws Exception {
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    long deadline = System.currentTimeMillis() + 90_000;
    String last = "no answer";
    while (System.currentTimeMillis() < deadline) {
      assertTrue(node.isAlive(), "node on port " + port + " exited; see its log in the build dir");
      try {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/health/ready"))
            .timeout(Duration.ofSeconds(2)).build(), HttpResponse.BodyHandlers.ofString());
        last = r.statusCode() + " " + r.body();
        if (r.statusCode() == 200 && new JsonObject(r.body()).getInteger("members", 2) >= 2) {
          return;
        }
      } catch (IOException e) {
        last = e.toString();
      }
      Thread.sleep(200);
    }
    throw new AssertionError("node on port " + port + " not ready in a cluster of two within 90 s: " + last);
  }
}
