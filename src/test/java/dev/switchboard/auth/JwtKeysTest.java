package dev.switchboard.auth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.SwitchboardNode;
import dev.switchboard.testing.TestNodes;
import dev.switchboard.testing.WsClient;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Public-key verification on its own (no HS256 secret configured): ES256 from a PEM given inline, RS256
 * from a PEM file path, and a JWKS URL whose keys rotate — an unknown {@code kid} makes the node re-fetch
 * the JWKS, at most a few times however many made-up key ids arrive, and a failing endpoint keeps the keys
 * already known.
 */
class JwtKeysTest {

  static Vertx vertx;

  @BeforeAll
  static void start() {
    vertx = Vertx.vertx();
  }

  @AfterAll
  static void stop() {
    vertx.close().await();
  }

  static JsonObject publicKeyOnly(String pemOrPath) {
    return new JsonObject().put("auth", new JsonObject().putNull("jwt_secret").put("jwt_public_key", pemOrPath));
  }

  /** auth_success's user id, or the error code followed by the close code, e.g. "unauthorized/1008". */
  static String outcome(SwitchboardNode node, String token) {
    WsClient c = WsClient.connect(vertx, node.port(), null).await();
    try {
      c.send(new JsonObject().put("type", "auth").put("token", token));
      JsonObject first = c.next(f -> "auth_success".equals(f.getString("type")) || "error".equals(f.getString("type")), 5_000).await();
      if ("auth_success".equals(first.getString("type"))) {
        return first.getString("user_id");
      }
      return first.getString("code") + "/" + c.closed(5_000).await() + ": " + first.getString("message");
    } finally {
      c.close().await();
    }
  }

  @Test
  void es256FromAnInlinePem() {
    KeyPair ec = TestKeys.ec();
    SwitchboardNode node = TestNodes.standalone(publicKeyOnly(TestKeys.publicPem(ec)));
    try {
      JsonObject eve = new JsonObject().put("sub", "eve");
      assertEquals("eve", outcome(node, TestKeys.sign(vertx, "ES256", ec, null, eve)));
      assertTrue(outcome(node, TestKeys.sign(vertx, "ES256", TestKeys.ec(), null, eve)).startsWith("unauthorized/1008: invalid token signature"));
      // No secret is configured, so an HS256 token has no key at all — however it was made.
      assertTrue(outcome(node, TestNodes.token("eve")).startsWith("unauthorized/1008: token algorithm not accepted"));
      assertTrue(outcome(node, TestKeys.hs256(vertx, TestKeys.publicPem(ec), eve)).startsWith("unauthorized/1008"));
      assertTrue(outcome(node, TestKeys.unsecured(eve, true)).startsWith("unauthorized/1008"));
    } finally {
      node.close().await();
    }
  }

  @Test
  void es384AndEs512KeysVerifyTheirTokensAndAnEscapedPemIsRead() {
    JsonObject eve = new JsonObject().put("sub", "eve");
    for (String[] curveAlg : new String[][] {{"secp384r1", "ES384"}, {"secp521r1", "ES512"}}) {
      KeyPair ec = TestKeys.ec(curveAlg[0]);
      // As pasted into an env var or a Kubernetes secret: the line breaks written as \n.
      String escaped = TestKeys.publicPem(ec).replace("\n", "\\n");
      SwitchboardNode node = TestNodes.standalone(publicKeyOnly(escaped));
      try {
        assertEquals("eve", outcome(node, TestKeys.sign(vertx, curveAlg[1], ec, null, eve)), curveAlg[1]);
        assertTrue(outcome(node, TestKeys.sign(vertx, "ES256", TestKeys.ec(), null, eve)).startsWith("unauthorized/1008"));
      } finally {
        node.close().await();
      }
    }
  }

  @Test
  void rs256FromAPemFile() throws Exception {
    KeyPair rsa = TestKeys.rsa();
    Path pem = Files.createTempFile("sb-rsa", ".pem");
    Files.writeString(pem, TestKeys.publicPem(rsa));
    SwitchboardNode node = TestNodes.standalone(publicKeyOnly(pem.toString()));
    try {
      JsonObject eve = new JsonObject().put("sub", "eve");
      assertEquals("eve", outcome(node, TestKeys.sign(vertx, "RS256", rsa, null, eve)));
      assertTrue(outcome(node, TestKeys.sign(vertx, "RS256", TestKeys.rsa(), null, eve)).startsWith("unauthorized/1008: invalid token signature"));
      assertTrue(outcome(node, TestKeys.sign(vertx, "ES256", TestKeys.ec(), null, eve)).startsWith("unauthorized/1008: token algorithm not accepted"));
    } finally {
      node.close().await();
      Files.deleteIfExists(pem);
    }
  }

  @Test
  void jwksUrlIsRefreshedOnAnUnknownKidAtARateThatSparesTheProvider() {
    KeyPair k1 = TestKeys.ec();
    KeyPair k2 = TestKeys.rsa();
    AtomicReference<JsonObject> served = new AtomicReference<>(TestKeys.jwks(TestKeys.jwk(k1, "ES256", "k1")));
    AtomicInteger hits = new AtomicInteger();
    AtomicInteger status = new AtomicInteger(200);
    HttpServer jwksServer = vertx.createHttpServer().requestHandler(req -> {
      hits.incrementAndGet();
      req.response().setStatusCode(status.get()).putHeader("content-type", "application/json").end(served.get().encode());
    }).listen(0, "127.0.0.1").await();
    SwitchboardNode node = TestNodes.standalone(new JsonObject().put("auth", new JsonObject().putNull("jwt_secret")
        .put("jwks_url", "http://127.0.0.1:" + jwksServer.actualPort() + "/.well-known/jwks.json")));
    try {
      JsonObject eve = new JsonObject().put("sub", "eve");
      assertEquals(1, hits.get(), "fetched once at start");
      assertEquals("eve", outcome(node, TestKeys.sign(vertx, "ES256", k1, "k1", eve)));
      assertEquals(1, hits.get(), "a known kid needs no fetch");

      // The provider rotates in k2: the first token signed with it makes the node look again.
      served.set(TestKeys.jwks(TestKeys.jwk(k1, "ES256", "k1"), TestKeys.jwk(k2, "RS256", "k2")));
      assertEquals("eve", outcome(node, TestKeys.sign(vertx, "RS256", k2, "k2", eve)));
      assertEquals(2, hits.get());
      assertEquals("eve", outcome(node, TestKeys.sign(vertx, "RS256", k2, "k2", eve)));
      assertEquals(2, hits.get(), "k2 is cached now");

      // A flood of made-up key ids: refused, and the provider is asked at most once more (burst of 2).
      for (int i = 0; i < 10; i++) {
        String out = outcome(node, TestKeys.sign(vertx, "ES256", TestKeys.ec(), "made-up-" + i, eve));
        assertTrue(out.startsWith("unauthorized/1008: token key id is not known"), out);
      }
      assertTrue(hits.get() <= 3, "the JWKS endpoint was hit " + hits.get() + " times");

      // An endpoint that fails does not cost the keys already known.
      status.set(500);
      assertEquals("eve", outcome(node, TestKeys.sign(vertx, "ES256", k1, "k1", eve)));
    } finally {
      node.close().await();
      jwksServer.close().await();
    }
  }

  /** A JWKS document with an entry that is not a key object starts the node like the refresh takes it: skipped. */
  @Test
  void aJunkEntryIsSkippedAtStart() {
    KeyPair rsa = TestKeys.rsa();
    JsonObject doc = new JsonObject().put("keys", new JsonArray().add("junk").add(TestKeys.jwk(rsa, "RS256", "k2")));
    HttpServer jwksServer = vertx.createHttpServer()
        .requestHandler(req -> req.response().putHeader("content-type", "application/json").end(doc.encode()))
        .listen(0, "127.0.0.1").await();
    SwitchboardNode node = TestNodes.standalone(new JsonObject().put("auth", new JsonObject().putNull("jwt_secret")
        .put("jwks_url", "http://127.0.0.1:" + jwksServer.actualPort() + "/jwks.json")));
    try {
      assertEquals("eve", outcome(node, TestKeys.sign(vertx, "RS256", rsa, "k2", new JsonObject().put("sub", "eve"))));
    } finally {
      node.close().await();
      jwksServer.close().await();
    }
  }

  /**
   * A token naming a key the node holds but signed with another algorithm (ES256 with an RSA key's kid, or HS256
   * keyed with that key's public PEM) is refused for what it is, and costs no fetch: the kid is known.
   */
  @Test
  void anAlgorithmThatDoesNotMatchItsKeyIsNamedAndFetchesNothing() {
    KeyPair rsa = TestKeys.rsa();
    AtomicInteger hits = new AtomicInteger();
    HttpServer jwksServer = vertx.createHttpServer().requestHandler(req -> {
      hits.incrementAndGet();
      req.response().putHeader("content-type", "application/json").end(TestKeys.jwks(TestKeys.jwk(rsa, "RS256", "k2")).encode());
    }).listen(0, "127.0.0.1").await();
    SwitchboardNode node = TestNodes.standalone(new JsonObject().put("auth", new JsonObject().putNull("jwt_secret")
        .put("jwks_url", "http://127.0.0.1:" + jwksServer.actualPort() + "/jwks.json")));
    try {
      JsonObject eve = new JsonObject().put("sub", "eve");
      assertEquals("unauthorized/1008: token algorithm ES256 does not match key k2 (RS256)",
          outcome(node, TestKeys.sign(vertx, "ES256", TestKeys.ec(), "k2", eve)));
      assertEquals("unauthorized/1008: token algorithm HS256 does not match key k2 (RS256)",
          outcome(node, TestKeys.hs256(vertx, TestKeys.publicPem(rsa), "k2", eve)));
      assertEquals(1, hits.get(), "fetched at start only: the kid is known");
      String unknown = outcome(node, TestKeys.sign(vertx, "ES256", TestKeys.ec(), "k9", eve));
      assertTrue(unknown.startsWith("unauthorized/1008: token key id is not known"), unknown);
    } finally {
      node.close().await();
      jwksServer.close().await();
    }
  }
}
