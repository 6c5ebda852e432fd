package dev.switchboard.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.SwitchboardNode;
import dev.switchboard.bus.Addresses;
import dev.switchboard.testing.TestNodes;
import dev.switchboard.testing.WsClient;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryContext;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * SPEC §5.2: the HTTP API validates everything it reads. Each bad request gets its status and a JSON
 * {@code {"error":…}} whose reason a developer can act on; a subscriber sees that nothing of a refused
 * request was published, and that good single and array publishes arrive in order.
 */
class ApiValidationTest {

  static Vertx vertx;
  static SwitchboardNode node;
  static java.net.http.HttpClient http;
  static WsClient watcher;

  record Answer(int status, JsonObject body, String raw) {}

  @BeforeAll
  static void start() {
    vertx = Vertx.vertx();
    node = TestNodes.standalone();
    http = java.net.http.HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    watcher = WsClient.authed(vertx, node.port(), TestNodes.token("watcher", "api")).await();
    assertEquals("ack", watcher.request("s", new JsonObject().put("type", "subscribe").put("channel", "room:api"), 5_000)
        .await().getString("type"));
  }

  @AfterAll
  static void stop() {
    watcher.close().await();
    node.close().await();
    vertx.close().await();
  }

  /**
   * With the JDK's client: Vert.x 5.0.10's HttpClientResponse.body() can miss a response that ends before
   * it is called from another thread (eclipse-vertx/vert.x#6038), which hangs a test for no fault of the
   * server.
   */
  static Answer call(HttpMethod method, String path, String key, Buffer body) throws Exception {
    return call(method, path, key, body, null);
  }

  static Answer call(HttpMethod method, String path, String key, Buffer body, String contentType) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + node.port() + path))
        .timeout(Duration.ofSeconds(20))
        .method(method.name(), body == null ? HttpRequest.BodyPublishers.noBody()
            : HttpRequest.BodyPublishers.ofByteArray(body.getBytes()));
    if (key != null) {
      b.header("Authorization", key);
    }
    if (contentType != null) {
      b.header("Content-Type", contentType);
    }
    HttpResponse<String> resp = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    JsonObject json = null;
    try {
      json = new JsonObject(resp.body());
    } catch (RuntimeException notJson) {
      // asserted by the caller: every answer is JSON
    }
    return new Answer(resp.statusCode(), json, resp.body());
  }

  static Answer publish(String body) throws Exception {
    return call(HttpMethod.POST, "/api/publish", "Bearer " + TestNodes.API_KEY, Buffer.buffer(body));
  }

  static String item(Object channel, Object message) {
    JsonObject o = new JsonObject();
    if (channel != null) {
      o.put("channel", channel);
    }
    if (message != null) {
      o.put("message", message);
    }
    return o.encode();
  }

  static Stream<Arguments> badRequests() {
    String ok = item("room:api", new JsonObject().put("n", 0));
    String big = "x".repeat(70_000);
    return Stream.of(
        // key
        Arguments.of("missing_key", "POST", "/api/publish", null, ok, 401, "API key"),
        Arguments.of("wrong_key", "POST", "/api/publish", "Bearer nope", ok, 401, "API key"),
        Arguments.of("key_not_bearer", "POST", "/api/publish", "Basic " + TestNodes.API_KEY, ok, 401, "API key"),
        Arguments.of("key_prefix_only", "POST", "/api/publish", "Bearer " + TestNodes.API_KEY.substring(0, 4), ok, 401, "API key"),
        Arguments.of("wrong_key_on_nodes", "GET", "/api/nodes", "Bearer nope", null, 401, "API key"),
        Arguments.of("wrong_key_on_presence", "GET", "/api/presence/room:api", "Bearer nope", null, 401, "API key"),
        Arguments.of("wrong_key_on_disconnect", "POST", "/api/disconnect", "Bearer nope", "{\"user\":\"watcher\"}", 401, "API key"),
        // body
        Arguments.of("empty_body", "POST", "/api/publish", "k", "", 400, "body is empty"),
        Arguments.of("malformed_json", "POST", "/api/publish", "k", "{\"channel\":\"room:api\",", 400, "not valid JSON"),
        Arguments.of("malformed_json_location", "POST", "/api/publish", "k", "{\"channel\" \"room:api\"}", 400, "column"),
        Arguments.of("json_string", "POST", "/api/publish", "k", "\"hello\"", 400, "must be an object"),
        Arguments.of("json_number", "POST", "/api/publish", "k", "42", 400, "must be an object"),
        Arguments.of("empty_array", "POST", "/api/publish", "k", "[]", 400, "empty"),
        // fields
        Arguments.of("missing_channel", "POST", "/api/publish", "k", item(null, 1), 400, "missing field: channel"),
        Arguments.of("channel_number", "POST", "/api/publish", "k", item(5, 1), 400, "channel must be a string"),
        Arguments.of("missing_message", "POST", "/api/publish", "k", item("room:api", null), 400, "missing field: message"),
        Arguments.of("message_null", "POST", "/api/publish", "k", "{\"channel\":\"room:api\",\"message\":null}", 400, "missing field: message"),
        Arguments.of("from_user_number", "POST", "/api/publish", "k", "{\"channel\":\"room:api\",\"message\":1,\"from_user\":7}", 400, "from_user"),
        Arguments.of("channel_with_space", "POST", "/api/publish", "k", item("room:a b", 1), 400, "bad channel name"),
        Arguments.of("channel_broadcast_with_a_name", "POST", "/api/publish", "k", item("broadcast:x", 1), 400, "broadcast takes no name"),
        Arguments.of("channel_300_chars", "POST", "/api/publish", "k", item("room:" + "a".repeat(295), 1), 400, "longer than 255"),
        Arguments.of("channel_control_char", "POST", "/api/publish", "k", item("room:a\u0001", 1), 400, "bad channel name"),
        Arguments.of("channel_unknown_namespace", "POST", "/api/publish", "k", item("nope:x", 1), 400, "unknown channel namespace"),
        Arguments.of("segment_without_claim", "POST", "/api/publish", "k", item("segment:sales", 1), 400, "segment"),
        Arguments.of("system_channel", "POST", "/api/publish", "k", item("$sys:stats", new JsonObject().put("node", "forged")), 403, "written by the nodes"),
        // arrays: the reason names the item, and nothing before it is published
        Arguments.of("array_item_not_object", "POST", "/api/publish", "k", "[" + ok + ",5]", 400, "item 1"),
        Arguments.of("array_item_missing_message", "POST", "/api/publish", "k", "[" + ok + "," + ok + "," + item("room:api", null) + "]", 400, "item 2: missing field: message"),
        Arguments.of("array_item_bad_channel", "POST", "/api/publish", "k", "[" + ok + "," + item("room:é", 1) + "]", 400, "item 1: bad channel name"),
        Arguments.of("array_too_many_items", "POST", "/api/publish", "k", "[" + (ok + ",").repeat(1000) + ok + "]", 413, "at most 1000"),
        // sizes
        Arguments.of("message_over_max_message_size", "POST", "/api/publish", "k", item("room:api", big), 413, "max_message_size"),
        // 40,000 characters, 80,000 bytes of UTF-8: the limit is in bytes.
        Arguments.of("message_over_max_message_size_in_bytes", "POST", "/api/publish", "k", item("room:api", "\u00e9".repeat(40_000)), 413, "max_message_size"),
        Arguments.of("array_item_over_max_message_size", "POST", "/api/publish", "k", "[" + ok + "," + item("room:api", big) + "]", 413, "item 1"),
        Arguments.of("body_over_limit", "POST", "/api/publish", "k", "[" + ("\"" + "y".repeat(1_000_000) + "\",").repeat(5) + "1]", 413, "larger than"),
        // other routes
        Arguments.of("presence_bad_channel", "GET", "/api/presence/room:a%20b", "k", null, 400, "bad channel name"),
        Arguments.of("history_unknown_namespace", "GET", "/api/history/nope:x", "k", null, 400, "unknown channel namespace: nope"),
        Arguments.of("history_not_kept", "GET", "/api/history/room:x", "k", null, 400, "room:x keeps no history (channels.namespaces.room.history_size is 0)"),
        Arguments.of("presence_unknown_namespace", "GET", "/api/presence/nope:x", "k", null, 400, "unknown channel namespace: nope"),
        Arguments.of("presence_not_enabled", "GET", "/api/presence/topic:x", "k", null, 400, "presence is not enabled for topic"),
        Arguments.of("presence_of_broadcast", "GET", "/api/presence/broadcast", "k", null, 400, "presence is not enabled for broadcast"),
        Arguments.of("presence_without_channel", "GET", "/api/presence/", "k", null, 400, "channel is missing"),
        Arguments.of("unknown_route", "GET", "/api/nope", "k", null, 404, "no such API route"),
        Arguments.of("wrong_method", "GET", "/api/publish", "k", null, 405, "use POST"),
        Arguments.of("wrong_method_on_nodes", "DELETE", "/api/nodes", "k", null, 405, "use GET"),
        Arguments.of("disconnect_not_object", "POST", "/api/disconnect", "k", "[1]", 400, "user"),
        Arguments.of("disconnect_missing_user", "POST", "/api/disconnect", "k", "{}", 400, "missing field: user"),
        Arguments.of("disconnect_user_number", "POST", "/api/disconnect", "k", "{\"user\":5}", 400, "user must be a non-empty string"),
        Arguments.of("disconnect_user_empty", "POST", "/api/disconnect", "k", "{\"user\":\"\"}", 400, "user must be a non-empty string"),
        Arguments.of("disconnect_malformed", "POST", "/api/disconnect", "k", "{user", 400, "body is not valid JSON"),
        Arguments.of("disconnect_empty_body", "POST", "/api/disconnect", "k", "", 400, "body must be a JSON object {\"user\""),
        Arguments.of("presence_channel_with_slash", "GET", "/api/presence/room:a/b", "k", null, 400, "bad channel name: room:a/b"),
        Arguments.of("presence_channel_slash_inside_and_at_end", "GET", "/api/presence/room:a/b/", "k", null, 400,
            "bad channel name: room:a/b/ has"),
        Arguments.of("presence_channel_missing", "GET", "/api/presence/", "k", null, 400, "channel is missing"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("badRequests")
  void badRequestIsRefusedWithItsStatusAndAReason(String name, String method, String path, String key, String body,
                                                  int status, String reason) throws Exception {
    String auth = "k".equals(key) ? "Bearer " + TestNodes.API_KEY : key;
    Answer a = call(HttpMethod.valueOf(method), path, auth, body == null ? null : Buffer.buffer(body));
    assertEquals(status, a.status(), name + ": " + a.raw());
    assertNotNull(a.body(), "the answer is JSON: " + a.raw());
    String error = a.body().getString("error");
    assertNotNull(error, a.raw());
    assertTrue(error.contains(reason), name + ": expected a reason containing '" + reason + "', got '" + error + "'");
    // Nothing of a refused publish reached the subscriber: the next message it sees is the marker.
    if (path.equals("/api/publish")) {
      String marker = "after-" + name;
      assertEquals(200, publish(item("room:api", new JsonObject().put("marker", marker))).status());
      JsonObject next = watcher.next("message", 5_000).await();
      assertEquals(marker, next.getJsonObject("message").getString("marker"), name + " published something: " + next);
    }
  }

  /** A request with a wrong key, from its own loopback address, over a plain socket. */
  static int requestFrom(String sourceIp, String authorization) throws Exception {
    try (java.net.Socket sock = new java.net.Socket("127.0.0.1", node.port(), java.net.InetAddress.getByName(sourceIp), 0)) {
      sock.setSoTimeout(10_000);
      sock.getOutputStream().write(("POST /api/publish HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: " + authorization
          + "\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}").getBytes(java.nio.charset.StandardCharsets.US_ASCII));
      String status = new java.io.BufferedReader(new java.io.InputStreamReader(sock.getInputStream())).readLine();
      return Integer.parseInt(status.split(" ")[1]);
    }
  }

  /** Refusals of the address in the log: one per full line, plus the rest of each window from its summary. */
  static int loggedRefusals(dev.switchboard.testing.LogCapture logs, String ip) {
    int full = logs.containing("event=auth_failure ip=" + ip + " ").size();
    int more = 0;
    for (String summary : logs.containing("event=auth_failure_summary ip=" + ip + " ")) {
      more += Integer.parseInt(summary.replaceAll(".* refused=(\\d+) .*", "$1")) - 1;
    }
    return full + more;
  }

  @Test
  void aWrongKeyIsLoggedWithoutTheKeyAndAFloodAsOneLineASecond() throws Exception {
    String guess = "guess-" + java.util.UUID.randomUUID();
    try (dev.switchboard.testing.LogCapture logs = dev.switchboard.testing.LogCapture.of(dev.switchboard.gateway.ApiRoutes.class)) {
      for (int i = 0; i < 3; i++) {
        assertEquals(401, requestFrom("127.0.0.77", "Bearer " + guess));
      }
      // Each gateway instance keeps its own window, so the three may be one full line and a summary of 3, or
      // a line per instance: either way every refusal is accounted for, in full or in a summary.
      dev.switchboard.cluster.Tally.waitFor(() -> loggedRefusals(logs, "127.0.0.77") == 3, 10_000,
          () -> "3 refusals in the log: " + logs.messages());
      for (String line : logs.containing("event=auth_failure ip=127.0.0.77")) {
        assertEquals("event=auth_failure ip=127.0.0.77 route=\"POST /api/publish\" reason=\"invalid api key\"", line);
      }
      assertTrue(logs.containing("event=auth_failure ip=127.0.0.77").size() < 3, "a flood is summarised: " + logs.messages());
      assertTrue(logs.messages().stream().noneMatch(m -> m.contains(guess)), "the key is never logged");
    }
  }

  /**
   * {@code curl -d} labels a JSON body as a form. It is read as JSON all the same, at any size: a form
   * decoder refused such a body over 1,024 bytes with a bare 400, hiding even the 413s that say why.
   */
  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/plain"})
  void aJsonBodyIsReadAsJsonWhateverItsContentType(String contentType) throws Exception {
    String text = "t".repeat(5_000);
    Answer a = call(HttpMethod.POST, "/api/publish", "Bearer " + TestNodes.API_KEY,
        Buffer.buffer(item("room:api", new JsonObject().put("text", text))), contentType);
    assertEquals(200, a.status(), a.raw());
    assertEquals(text, watcher.next("message", 5_000).await().getJsonObject("message").getString("text"));
    Answer big = call(HttpMethod.POST, "/api/publish", "Bearer " + TestNodes.API_KEY,
        Buffer.buffer(item("room:api", "x".repeat(70_000))), contentType);
    assertEquals(413, big.status(), big.raw());
    assertTrue(big.body().getString("error").contains("max_message_size"), big.raw());
  }

  @Test
  void singleObjectPublishIsDelivered() throws Exception {
    Answer a = publish(item("room:api", new JsonObject().put("text", "one")));
    assertEquals(200, a.status(), a.raw());
    assertEquals(new JsonObject().put("ok", true), a.body(), "SPEC §5.2's answer, nothing more: " + a.raw());
    assertEquals("one", watcher.next("message", 5_000).await().getJsonObject("message").getString("text"));
  }

  @Test
  void arrayPublishIsDeliveredInOrder() throws Exception {
    JsonArray arr = new JsonArray();
    for (int i = 0; i < 20; i++) {
      arr.add(new JsonObject().put("channel", "room:api").put("message", new JsonObject().put("i", i)));
    }
    Answer a = publish(arr.encode());
    assertEquals(200, a.status(), a.raw());
    assertEquals(new JsonObject().put("ok", true), a.body(), "SPEC §5.2's answer for an array too: " + a.raw());
    for (int i = 0; i < 20; i++) {
      assertEquals(i, watcher.next("message", 5_000).await().getJsonObject("message").getInteger("i"));
    }
  }

  /**
   * An array whose publishing fails part-way (here the router refuses its third item as a node cut off from its
   * quorum would) answers with that failure and how many items went out, so the caller retries only the rest.
   */
  @Test
  void anArrayThatFailsPartWaySaysHowManyItemsWentOut() throws Exception {
    AtomicInteger seen = new AtomicInteger();
    Handler<DeliveryContext<Object>> refuseThird = ctx -> {
      if (Addresses.PUBLISH.equals(ctx.message().address()) && seen.incrementAndGet() == 3) {
        ctx.message().fail(503, "cut off from the cluster (test)");
      } else {
        ctx.next();
      }
    };
    node.vertx().eventBus().addOutboundInterceptor(refuseThird);
    try {
      JsonArray arr = new JsonArray();
      for (int i = 0; i < 5; i++) {
        arr.add(new JsonObject().put("channel", "room:api").put("message", new JsonObject().put("part", i)));
      }
      Answer a = publish(arr.encode());
      assertEquals(503, a.status(), a.raw());
      assertEquals(2, a.body().getInteger("published"), a.raw());
      assertEquals("item 2: cut off from the cluster (test)", a.body().getString("error"));
    } finally {
      node.vertx().eventBus().removeOutboundInterceptor(refuseThird);
    }
    assertEquals(0, watcher.next("message", 5_000).await().getJsonObject("message").getInteger("part"));
    assertEquals(1, watcher.next("message", 5_000).await().getJsonObject("message").getInteger("part"));
    assertEquals(200, publish(item("room:api", new JsonObject().put("marker", "after-part-way"))).status());
    assertEquals("after-part-way", watcher.next("message", 5_000).await().getJsonObject("message").getString("marker"),
        "nothing after the refused item went out");
  }

  @Test
  void goodRequestsOnTheOtherRoutesAreServed() throws Exception {
    Answer nodes = call(HttpMethod.GET, "/api/nodes", "Bearer " + TestNodes.API_KEY, null);
    assertEquals(200, nodes.status(), nodes.raw());
    Answer presence = call(HttpMethod.GET, "/api/presence/room:api", "Bearer " + TestNodes.API_KEY, null);
    assertEquals(200, presence.status(), presence.raw());
    assertEquals(List.of("watcher"), presence.body().getJsonArray("users").getList());
  }
}
