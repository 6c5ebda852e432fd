package dev.switchboard.browser;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.SwitchboardNode;
import dev.switchboard.testing.TestNodes;
import dev.switchboard.testing.WsClient;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The demo page's files and its opt-in token endpoint. */
@ExtendWith(VertxExtension.class)
class DemoRoutesTest {

  private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  static HttpResponse<String> get(int port, String path) throws IOException, InterruptedException {
    return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
        .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void tokensAreOffByDefaultButTheClientAndDemoAreServed() throws Exception {
    SwitchboardNode node = TestNodes.standalone();
    try {
      assertEquals(404, get(node.port(), "/demo/token?user=alice").statusCode());
      HttpResponse<String> config = get(node.port(), "/demo/config");
      assertEquals(200, config.statusCode(), "the page asks this instead of a token request that fails");
      assertEquals(false, new JsonObject(config.body()).getBoolean("demo_tokens"));
      HttpResponse<String> js = get(node.port(), "/switchboard.js");
      assertEquals(200, js.statusCode());
      assertTrue(js.headers().firstValue("content-type").orElse("").contains("javascript"), js.headers().toString());
      assertTrue(js.body().contains("export function connect("));
      assertEquals(200, get(node.port(), "/switchboard.d.ts").statusCode());
      HttpResponse<String> index = get(node.port(), "/");
      assertEquals(200, index.statusCode());
      assertTrue(index.body().contains("/demo.js"));
      assertEquals(200, get(node.port(), "/demo.js").statusCode());
    } finally {
      node.close().await();
    }
  }

  @Test
  void whenEnabledItMintsATokenForTheNameThatOpensASession(Vertx vertx) throws Exception {
    SwitchboardNode node = TestNodes.standalone(new JsonObject().put("api", new JsonObject().put("demo_tokens", true)));
    try {
      assertEquals(true, new JsonObject(get(node.port(), "/demo/config").body()).getBoolean("demo_tokens"));
      HttpResponse<String> r = get(node.port(), "/demo/token?user=alice");
      assertEquals(200, r.statusCode(), r.body());
      JsonObject body = new JsonObject(r.body());
      assertEquals("alice", body.getString("user"));
      assertEquals(3600, body.getInteger("expires_in"));
      WsClient c = WsClient.authed(vertx, node.port(), body.getString("token")).await();
      JsonObject ack = c.request(1, new JsonObject().put("type", "subscribe").put("channel", "room:anything"), 10_000).await();
      assertEquals("ack", ack.getString("type"), "demo tokens may join any room: " + ack.encode());
      c.close().await();

      assertEquals(400, get(node.port(), "/demo/token").statusCode());
      assertEquals(400, get(node.port(), "/demo/token?user=a%20b").statusCode());
      assertEquals(400, get(node.port(), "/demo/token?user=a:b").statusCode());
    } finally {
      node.close().await();
    }
  }
}
