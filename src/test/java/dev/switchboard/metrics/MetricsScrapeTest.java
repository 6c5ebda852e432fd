package dev.switchboard.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.SwitchboardNode;
import dev.switchboard.testing.TestNodes;
import dev.switchboard.testing.WsClient;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import dev.switchboard.cluster.Http;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Scrapes {@code /metrics} before and after a known workload on one node and checks that every SPEC §7
 * series moved by exactly what the workload did.
 */
@ExtendWith(VertxExtension.class)
class MetricsScrapeTest {

  static SwitchboardNode node;

  @BeforeAll
  static void start() {
    // 1 message/s with a burst of 10: the abuser's 11th to 15th frames are rate_limited, everyone else fits.
    node = TestNodes.standalone(new JsonObject()
        .put("limits", new JsonObject().put("messages_per_second", 1).put("burst", 10)));
  }

  @AfterAll
  static void stop() {
    TestNodes.closeAll(List.of(node));
  }

  @Test
  void countersMoveByTheWorkload(Vertx vertx) {
    int port = node.port();
    Scrape before = Scrape.of(vertx, port);

    WsClient alice = WsClient.authed(vertx, port, TestNodes.token("alice", "lobby")).await();
    WsClient bob = WsClient.authed(vertx, port, TestNodes.token("bob", "lobby")).await();
    WsClient carol = WsClient.authed(vertx, port, TestNodes.token("carol", "lobby")).await();
    for (WsClient c : List.of(alice, bob, carol)) {
      assertEquals("ack", c.request("s", sub("room:lobby"), 5000).await().getString("type"));
    }
    for (int i = 0; i < 4; i++) {
      JsonObject ack = alice.request("b" + i, new JsonObject().put("type", "broadcast").put("channel", "room:lobby")
          .put("message", new JsonObject().put("n", i)), 5000).await();
      assertEquals("ack", ack.getString("type"), ack.encode());
    }
    for (WsClient c : List.of(alice, bob, carol)) {
      for (int i = 0; i < 4; i++) {
        c.next("message", 5000).await();
      }
    }
    // a direct message to a user with no session anywhere: dropped, reason no_session
    alice.request("dm", new JsonObject().put("type", "send").put("to", "nobody").put("message", "hi?"), 5000).await();
    alice.sendText("this is not json");
    alice.next(f -> "error".equals(f.getString("type")) && "bad_request".equals(f.getString("code")), 5000).await();

    WsClient abuser = WsClient.authed(vertx, port, TestNodes.token("mallory")).await();
    for (int i = 0; i < 15; i++) {
      abuser.sendText("{\"type\":\"ping\"}");
    }
    for (int i = 0; i < 10; i++) {
      abuser.next("pong", 5000).await();
    }
    for (int i = 0; i < 5; i++) {
      abuser.next(f -> "rate_limited".equals(f.getString("code")), 5000).await();
    }

    WsClient impostor = WsClient.connect(vertx, port, "token=not-a-jwt").await();
    assertEquals((short) 1008, impostor.closed(5000).await());

    Scrape during = Scrape.of(vertx, port);
    assertEquals(4, during.delta(before, "switchboard_connections"), "4 sessions open");
    bob.close().await();
    // The gauge drops when bob's close frame arrives, the disconnect counter when his socket has closed.
    Scrape after = awaitScrape(vertx, port, s -> s.delta(before, "switchboard_connections") == 3
        && s.delta(before, "switchboard_disconnects_total{code=\"1000\"}") == 1);

    assertEquals(4, after.delta(before, "switchboard_connects_total{result=\"ok\"}"));
    assertEquals(1, after.delta(before, "switchboard_connects_total{result=\"unauthorized\"}"));
    assertEquals(1, after.delta(before, "switchboard_disconnects_total{code=\"1008\"}"));
    assertEquals(1, after.delta(before, "switchboard_disconnects_total{code=\"1000\"}"));
    assertEquals(3, after.delta(before, "switchboard_messages_in_total{type=\"subscribe\"}"));
    assertEquals(4, after.delta(before, "switchboard_messages_in_total{type=\"broadcast\"}"));
    assertEquals(1, after.delta(before, "switchboard_messages_in_total{type=\"send\"}"));
    assertEquals(1, after.delta(before, "switchboard_messages_in_total{type=\"invalid\"}"));
    assertEquals(10, after.delta(before, "switchboard_messages_in_total{type=\"ping\"}"), "rate-limited frames are not counted in");
    assertEquals(12, after.delta(before, "switchboard_messages_delivered_total"), "4 messages × 3 subscribers");
    assertEquals(5, after.delta(before, "switchboard_messages_dropped_total{reason=\"rate_limited\"}"));
    assertEquals(1, after.delta(before, "switchboard_messages_dropped_total{reason=\"no_session\"}"));
    assertEquals(0, after.delta(before, "switchboard_messages_dropped_total{reason=\"slow_consumer\"}"));

    // one sample per publication per gateway instance that delivered it: 4 publications, 2 instances
    double samples = after.delta(before, "switchboard_publish_to_socket_seconds_count");
    assertTrue(samples >= 4 && samples <= 8, "histogram samples: " + samples);
    assertTrue(after.text().contains("# TYPE switchboard_publish_to_socket_seconds histogram"));
    // Fixed buckets, 0.5 ms to 10 s, and +Inf: a handful of series, not Micrometer's ~110.
    assertEquals(15, after.count("switchboard_publish_to_socket_seconds_bucket{"), "histogram buckets exposed");
    assertEquals(after.value("switchboard_publish_to_socket_seconds_count"),
        after.value("switchboard_publish_to_socket_seconds_bucket{le=\"+Inf\"}"));
    assertTrue(after.value("switchboard_publish_to_socket_seconds_sum") > 0);

    assertEquals(1, after.value("switchboard_cluster_nodes"));
    assertTrue(after.count("jvm_memory_used_bytes{area=\"heap\"") > 0, "JVM heap metrics");
    assertTrue(after.count("jvm_gc_") > 0 && after.count("jvm_threads_live_threads") == 1, "JVM GC and thread metrics");
    assertTrue(after.count("process_cpu_usage") == 1, "process metrics");
    assertTrue(after.count("switchboard_event_loop_lag_seconds{loop=\"0\"}") == 1, "event-loop lag per loop");
    // The probes run every 500 ms: a fast run scrapes before the first one.
    Scrape probed = awaitScrape(vertx, port, s -> s.value("switchboard_event_loop_delay_seconds_count") > 0);
    assertTrue(probed.value("switchboard_event_loop_delay_seconds_count") > 0, "event-loop probes ran");
    assertTrue(after.count("vertx_http_server_active_connections") > 0, "Vert.x HTTP server metrics");
    assertEquals(0, after.count("vertx_eventbus_"), "event-bus metrics are off (per-message cost)");

    for (WsClient c : List.of(alice, carol, abuser)) {
      c.close().await();
    }
  }

  @Test
  void grafanaDashboardUsesOnlyExposedMetrics(Vertx vertx) throws Exception {
    Path file = Path.of(System.getProperty("switchboard.basedir", System.getProperty("user.dir")), "conf/grafana-dashboard.json");
    JsonObject dash = new JsonObject(Files.readString(file));
    assertEquals("Switchboard", dash.getString("title"));
    Set<String> titles = new TreeSet<>();
    Set<String> used = new TreeSet<>();
    Matcher m;
    for (Object o : dash.getJsonArray("panels")) {
      JsonObject panel = (JsonObject) o;
      titles.add(panel.getString("title"));
      for (Object t : panel.getJsonArray("targets", new io.vertx.core.json.JsonArray())) {
        m = METRIC.matcher(((JsonObject) t).getString("expr"));
        while (m.find()) {
          used.add(m.group());
        }
      }
    }
    for (String needed : List.of("Connections per node", "Connect attempts by result", "Messages in / s by type",
        "Drops / s by reason", "Publish → socket latency", "Cluster nodes", "JVM heap")) {
      assertTrue(titles.contains(needed), "panel " + needed + " in " + titles);
    }
    Http.get(vertx, node.port(), "/health/live");  // so the HTTP request series exist
    System.gc();  // GC pause timers are registered at the first collection
    Scrape s = awaitScrape(vertx, node.port(), x -> x.count("jvm_gc_pause_seconds_sum") > 0);
    for (String metric : used) {
      assertTrue(s.count(metric) > 0 || s.count(metric + "{") > 0, metric + " is used by the dashboard but not exposed");
    }
    assertTrue(used.contains("switchboard_publish_to_socket_seconds_bucket"), used.toString());
  }

  /** Load balancers and uptime checks probe with HEAD: the same status and headers as GET, no body. */
  @Test
  void headIsAnsweredLikeGetWithoutABody() throws Exception {
    for (String path : List.of("/metrics", "/health/live", "/health/ready")) {
      HttpRequest.Builder get = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + node.port() + path))
          .timeout(Duration.ofSeconds(10));
      HttpResponse<String> full = HttpClient.newHttpClient().send(get.GET().build(), HttpResponse.BodyHandlers.ofString());
      HttpResponse<String> head = HttpClient.newHttpClient()
          .send(get.method("HEAD", HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
      assertEquals(full.statusCode(), head.statusCode(), "HEAD " + path);
      assertEquals(200, head.statusCode(), "HEAD " + path);
      assertEquals(full.headers().firstValue("content-type"), head.headers().firstValue("content-type"), path);
      assertEquals("", head.body(), "HEAD " + path + " has no body");
    }
  }

  /**
   * SPEC §7: the page is API-key protected. A client without the key gets 401; a browser (Accept: text/html)
   * gets the sign-in form, which holds no data; with the key, the page.
   */
  @Test
  void adminPageIsServedAndAsksForAKey(Vertx vertx) throws Exception {
    for (String path : List.of("/admin", "/admin.html")) {
      for (String auth : new String[] {null, "Bearer nope", "Basic " + TestNodes.API_KEY}) {
        HttpResponse<String> refused = adminPage(path, auth, null);
        assertEquals(401, refused.statusCode(), path + " with " + auth);
        assertTrue(refused.body().contains("API key"), refused.body());
      }
      HttpResponse<String> browser = adminPage(path, null, "text/html,application/xhtml+xml,*/*;q=0.8");
      assertEquals(200, browser.statusCode(), path + " opened by a browser");
      assertTrue(browser.body().contains("id=\"key\"") && browser.body().contains("/admin.js"), "sign-in form and script");
      HttpResponse<String> keyed = adminPage(path, "Bearer " + TestNodes.API_KEY, null);
      assertEquals(200, keyed.statusCode(), path + " with the key");
      assertTrue(keyed.body().contains("/admin.js"), keyed.body());
    }
    Http.Answer js = Http.get(vertx, node.port(), "/admin.js");
    assertEquals(200, js.status());
    assertTrue(js.body().contains("api_key") && js.body().contains("$sys:stats"), "authenticates with the key, reads the feed");
  }

  private HttpResponse<String> adminPage(String path, String authorization, String accept) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + node.port() + path))
        .timeout(Duration.ofSeconds(10));
    if (authorization != null) {
      b.header("Authorization", authorization);
    }
    if (accept != null) {
      b.header("Accept", accept);
    }
    return HttpClient.newHttpClient().send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  private static final Pattern METRIC = Pattern.compile("\\b(switchboard|jvm|process|vertx)_[a-z_]+");

  private static JsonObject sub(String channel) {
    return new JsonObject().put("type", "subscribe").put("channel", channel);
  }

  /** Scrapes until the condition holds (a close is counted when the server sees it), for at most 5 s. */
  private static Scrape awaitScrape(Vertx vertx, int port, java.util.function.Predicate<Scrape> ok) {
    long deadline = System.currentTimeMillis() + 5000;
    Scrape s = Scrape.of(vertx, port);
    while (!ok.test(s) && System.currentTimeMillis() < deadline) {
      vertx.timer(50).await();
      s = Scrape.of(vertx, port);
    }
    return s;
  }
}
