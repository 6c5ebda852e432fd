package dev.switchboard.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.switchboard.SwitchboardNode;
import dev.switchboard.testing.TestNodes;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.WebSocket;
import io.vertx.core.http.WebSocketClient;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The admin dashboard in a real browser: two clustered nodes, headless Chromium on node 1's {@code /admin}
 * (src/test/js/browser/admin.browser.mjs), and traffic generated here once the page shows both nodes:
 * subscribers on both nodes, publishers ramping from ~10 to ~60 messages/s, a client over its rate limit
 * (drops), a few direct messages to nobody (no_session drops). The script checks the page and saves
 * {@code <build dir>/admin-dashboard.png}.
 *
 * <p>Needs {@code node}, {@code /usr/bin/chromium} and {@code npm install} in src/test/js (CI does it).
 */
@ExtendWith(VertxExtension.class)
class AdminDashboardIT {

  static List<SwitchboardNode> nodes;

  @BeforeAll
  static void start() {
    nodes = TestNodes.cluster(2);
  }

  @AfterAll
  static void stop() {
    TestNodes.closeAll(nodes);
  }

  @Test
  void dashboardShowsBothNodesAndARisingMessageRate(Vertx vertx) throws Exception {
    Path base = Path.of(System.getProperty("switchboard.basedir", System.getProperty("user.dir")));
    Path script = base.resolve("src/test/js/browser/admin.browser.mjs");
    Path playwright = base.resolve("src/test/js/node_modules/playwright-core");
    assertTrue(Files.isDirectory(playwright), "playwright-core is not installed: run `npm install` in src/test/js");
    assertTrue(Files.isExecutable(Path.of("/usr/bin/chromium")), "/usr/bin/chromium is missing (apt-get install chromium)");
    Path shot = buildDir().resolve("admin-dashboard.png");
    Files.deleteIfExists(shot);

    String url = "http://127.0.0.1:" + nodes.get(0).port() + "/admin";
    Process proc = new ProcessBuilder("node", script.toString(), url, TestNodes.API_KEY, shot.toString(), "n1,n2")
        .redirectErrorStream(true).start();
    BlockingQueue<String> lines = new LinkedBlockingQueue<>();
    List<String> transcript = new ArrayList<>();
    Thread reader = new Thread(() -> {
      try (BufferedReader r = new BufferedReader(new InputStreamReader(proc.getInputStream(), StandardCharsets.UTF_8))) {
        for (String line = r.readLine(); line != null; line = r.readLine()) {
          synchronized (transcript) {
            transcript.add(line);
          }
          lines.add(line);
        }
      } catch (Exception ignored) {
        // the process ended
      }
    }, "admin-browser-output");
    reader.setDaemon(true);
    reader.start();

    Traffic traffic = new Traffic(vertx);
    try {
      // Connections first (so the page has something to count), the ramp once the page sees both nodes.
      traffic.connect().await();
      String ready = awaitLine(lines, "READY", 45_000, transcript);
      assertTrue(ready.contains("n1") && ready.contains("n2"), ready);
      traffic.ramp();
      assertTrue(proc.waitFor(60, TimeUnit.SECONDS), "browser script did not finish in 60 s: " + transcript);
      String summary;
      synchronized (transcript) {
        summary = transcript.stream().filter(l -> l.startsWith("OK ")).findFirst().orElse(null);
      }
      assertEquals(0, proc.exitValue(), "browser script failed: " + transcript);
      assertTrue(summary != null, "no OK line: " + transcript);
      JsonObject ok = new JsonObject(summary.substring(3));
      assertTrue(ok.getJsonArray("nodes").contains("n1") && ok.getJsonArray("nodes").contains("n2"), summary);
      assertTrue(ok.getJsonObject("rising").getDouble("to") > ok.getJsonObject("rising").getDouble("from"), summary);
      assertTrue(ok.getString("users", "").matches("\\d+–\\d+ users.*"),
          "a user on two nodes makes the users a range: " + summary);
      assertTrue(Files.size(shot) > 20_000, "screenshot too small: " + Files.size(shot));
      System.out.println("admin dashboard: " + summary);
    } finally {
      traffic.stop();
      if (proc.isAlive()) {
        proc.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
      }
    }
  }

  private static String awaitLine(BlockingQueue<String> lines, String prefix, long timeoutMs, List<String> transcript)
      throws InterruptedException {
    long deadline = System.currentTimeMillis() + timeoutMs;
    while (System.currentTimeMillis() < deadline) {
      String line = lines.poll(deadline - System.currentTimeMillis(), TimeUnit.MILLISECONDS);
      if (line == null) {
        break;
      }
      if (line.startsWith(prefix)) {
        return line;
      }
      if (line.startsWith("FAIL")) {
        fail("browser script failed: " + transcript);
      }
    }
    return fail("no " + prefix + " line within " + timeoutMs + " ms: " + transcript);
  }

  /** target/ (or the -DbuildDir of this build): where test-classes live. */
  private static Path buildDir() throws Exception {
    return Path.of(AdminDashboardIT.class.getProtectionDomain().getCodeSource().getLocation().toURI()).getParent();
  }

  /** Bounded load against both nodes, driven by one periodic timer on the test's Vert.x. */
  static final class Traffic {
    static final int SUBSCRIBERS_PER_NODE = 15;
    final Vertx vertx;
    final WebSocketClient client;
    final List<WebSocket> publishers = new ArrayList<>();
    final List<WebSocket> all = new ArrayList<>();
    WebSocket abuser;
    long timer = -1;
    long started;
    double carry;
    int seq;

    Traffic(Vertx vertx) {
      this.vertx = vertx;
      this.client = vertx.createWebSocketClient();
    }

    Future<WebSocket> open(SwitchboardNode node, String user) {
      return client.connect(new WebSocketConnectOptions().setHost("127.0.0.1").setPort(node.port())
              .setURI("/ws?token=" + TestNodes.token(user, "lobby")))
          .map(ws -> {
            ws.textMessageHandler(t -> { });
            all.add(ws);
            return ws;
          });
    }

    Future<Void> connect() {
      List<Future<WebSocket>> opening = new ArrayList<>();
      for (int n = 0; n < 2; n++) {
        SwitchboardNode node = nodes.get(n);
        for (int i = 0; i < SUBSCRIBERS_PER_NODE; i++) {
          opening.add(open(node, "sub" + n + "-" + i).compose(ws -> ws.writeTextMessage(
              new JsonObject().put("type", "subscribe").put("channel", "room:lobby").encode()).map(ws)));
        }
        for (int i = 0; i < 2; i++) {
          opening.add(open(node, "pub" + n + "-" + i).onSuccess(publishers::add));
        }
      }
      // One user on both nodes: each node counts it, so the tile must show a range, not a sum posing as exact.
      opening.add(open(nodes.get(0), "on-both-nodes"));
      opening.add(open(nodes.get(1), "on-both-nodes"));
      opening.add(openAbuser());
      // a refused token, so "connects by result" has more than ok in it
      client.connect(new WebSocketConnectOptions().setHost("127.0.0.1").setPort(nodes.get(1).port())
          .setURI("/ws?token=not-a-jwt")).onSuccess(ws -> ws.textMessageHandler(t -> { }));
      return Future.all(opening).mapEmpty();
    }

    /** Over its rate limit until closed with 4008, then back again a second later, like a buggy client. */
    Future<WebSocket> openAbuser() {
      return open(nodes.get(1), "abuser").onSuccess(ws -> {
        abuser = ws;
        ws.closeHandler(v -> {
          if (timer >= 0) {
            vertx.setTimer(1000, t -> openAbuser());
          }
        });
      });
    }

    /** ~10 msg/s for 3 s, then 40–80 msg/s: the rate the page must see rise. */
    void ramp() {
      started = System.currentTimeMillis();
      timer = vertx.setPeriodic(100, t -> {
        long elapsed = System.currentTimeMillis() - started;
        if (elapsed > 40_000) {
          stop();
          return;
        }
        // after the step, a slow swell so the charts have a shape to show
        double perSecond = elapsed < 3000 ? 10 : 60 + 20 * Math.sin(2 * Math.PI * (elapsed - 3000) / 12_000.0);
        carry += perSecond / 10;
        while (carry >= 1) {
          carry -= 1;
          WebSocket p = publishers.get(seq++ % publishers.size());
          p.writeTextMessage(new JsonObject().put("type", "broadcast").put("channel", "room:lobby")
              .put("message", new JsonObject().put("n", seq).put("text", "hello")).encode());
        }
        // 30 pings/s against a 20/s budget: about 10 rate_limited drops a second once the burst is spent
        for (int i = 0; i < 3; i++) {
          abuser.writeTextMessage("{\"type\":\"ping\"}");
        }
        if (seq % 20 == 0) {
          publishers.get(0).writeTextMessage(new JsonObject().put("type", "send").put("to", "nobody")
              .put("message", "are you there?").encode());
        }
      });
    }

    void stop() {
      if (timer >= 0) {
        vertx.cancelTimer(timer);
        timer = -1;
      }
      all.forEach(ws -> ws.close());
    }
  }
}
