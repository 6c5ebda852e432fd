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
 * already known. With several trusted issuers ({@code auth.issuers}), each has its own keys and endpoint.
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

  /** A JWKS endpoint serving what {@code served} holds, counting its requests. */
  record JwksEndpoint(HttpServer server, AtomicReference<JsonObject> served, AtomicInteger hits) {
    static JwksEndpoint serving(JsonObject jwks) {
      AtomicReference<JsonObject> served = new AtomicReference<>(jwks);
      AtomicInteger hits = new AtomicInteger();
      HttpServer server = vertx.createHttpServer().requestHandler(req -> {
        hits.incrementAndGet();
        req.response().putHeader("content-type", "application/json").end(served.get().encode());
      }).listen(0, "127.0.0.1").await();
      return new JwksEndpoint(server, served, hits);
    }

    String url() {
      return "http://127.0.0.1:" + server.actualPort() + "/jwks.json";
    }
  }

  static JsonObject trusted(String issuer, JwksEndpoint endpoint) {
    return new JsonObject().put("issuer", issuer).put("jwks_url", endpoint.url());
  }

  /**
   * SPEC §6: keys are cached per issuer and endpoint as well as key id. Two providers each publish a key with kid
   * k1: a token's iss picks whose keys verify it, so a token of A signed with B's k1 is refused, and an unknown kid
   * re-reads only its own issuer's endpoint, within that endpoint's own rate budget.
   */
  @Test
  void eachTrustedIssuerHasItsOwnKeysAndEndpoint() {
    String a = "https://a.example";
    String b = "https://b.example";
    KeyPair a1 = TestKeys.ec();
    KeyPair b1 = TestKeys.ec();
    JwksEndpoint ja = JwksEndpoint.serving(TestKeys.jwks(TestKeys.jwk(a1, "ES256", "k1")));
    JwksEndpoint jb = JwksEndpoint.serving(TestKeys.jwks(TestKeys.jwk(b1, "ES256", "k1")));
    SwitchboardNode node = TestNodes.standalone(new JsonObject().put("auth", new JsonObject().putNull("jwt_secret")
        .put("issuers", new JsonArray().add(trusted(a, ja)).add(trusted(b, jb)))));
    try {
      assertEquals(1, ja.hits().get(), "A read once at start");
      assertEquals(1, jb.hits().get(), "B read once at start");
      JsonObject ofA = new JsonObject().put("sub", "eve").put("iss", a);
      JsonObject ofB = new JsonObject().put("sub", "eve").put("iss", b);
      assertEquals("eve", outcome(node, TestKeys.sign(vertx, "ES256", a1, "k1", ofA)));
      assertEquals("eve", outcome(node, TestKeys.sign(vertx, "ES256", b1, "k1", ofB)));

      // The same kid at the other issuer is another key: neither verifies the other's tokens, and both kids are
      // known, so neither endpoint is asked again.
      assertEquals("unauthorized/1008: invalid token signature", outcome(node, TestKeys.sign(vertx, "ES256", b1, "k1", ofA)));
      assertEquals("unauthorized/1008: invalid token signature", outcome(node, TestKeys.sign(vertx, "ES256", a1, "k1", ofB)));
      assertEquals(1, ja.hits().get());
      assertEquals(1, jb.hits().get());

      // An issuer that is not listed is refused by name, whatever key signed it; so is a token that names none.
      assertEquals("unauthorized/1008: token issuer https://evil.example is not trusted",
          outcome(node, TestKeys.sign(vertx, "ES256", a1, "k1", new JsonObject().put("sub", "eve").put("iss", "https://evil.example"))));
      // One with a quote is not echoed: it would end the log line's reason="…" field early.
      assertEquals("unauthorized/1008: token issuer is not trusted", outcome(node, TestKeys.sign(vertx, "ES256", a1, "k1",
          new JsonObject().put("sub", "eve").put("iss", "x\"ip=10.0.0.1"))));
      assertEquals("unauthorized/1008: token has no iss claim, and this node trusts only the issuers it lists",
          outcome(node, TestKeys.sign(vertx, "ES256", a1, "k1", new JsonObject().put("sub", "eve"))));

      // A rotates in k2: a token of A with it re-reads A only.
      KeyPair a2 = TestKeys.rsa();
      ja.served().set(TestKeys.jwks(TestKeys.jwk(a1, "ES256", "k1"), TestKeys.jwk(a2, "RS256", "k2")));
      assertEquals("eve", outcome(node, TestKeys.sign(vertx, "RS256", a2, "k2", ofA)));
      assertEquals(2, ja.hits().get());
      assertEquals(1, jb.hits().get(), "an unknown kid of A does not touch B's endpoint");
      // ... and B does not know A's k2: a token of B naming it is refused after a look at B's endpoint.
      assertTrue(outcome(node, TestKeys.sign(vertx, "RS256", a2, "k2", ofB)).startsWith("unauthorized/1008: token key id is not known"));
      assertEquals(2, jb.hits().get());

      // A flood of made-up kids at B spends B's budget (a burst of 2, the first spent just above) and not A's.
      for (int i = 0; i < 10; i++) {
        String out = outcome(node, TestKeys.sign(vertx, "ES256", TestKeys.ec(), "made-up-" + i, ofB));
        assertTrue(out.startsWith("unauthorized/1008: token key id is not known"), out);
      }
      assertTrue(jb.hits().get() <= 4, "B's endpoint was hit " + jb.hits().get() + " times");
      KeyPair a3 = TestKeys.ec();
      ja.served().set(TestKeys.jwks(TestKeys.jwk(a1, "ES256", "k1"), TestKeys.jwk(a3, "ES256", "k3")));
      assertEquals("eve", outcome(node, TestKeys.sign(vertx, "ES256", a3, "k3", ofA)), "A's budget is its own");
      assertEquals(3, ja.hits().get());
    } finally {
      node.close().await();
      ja.server().close().await();
      jb.server().close().await();
    }
  }

  /**
   * The one-issuer form beside the list: the node's own secret verifies tokens of auth.issuer (or with no iss, when
   * auth.issuer is not set), never a token that names a listed issuer, whose keys alone verify it.
   */
  @Test
  void theNodesOwnKeysStayWithTheirIssuerBesideTheList() {
    String own = "https://own.example";
    String a = "https://a.example";
    KeyPair a1 = TestKeys.ec();
    JwksEndpoint ja = JwksEndpoint.serving(TestKeys.jwks(TestKeys.jwk(a1, "ES256", "k1")));
    SwitchboardNode node = TestNodes.standalone(new JsonObject().put("auth", new JsonObject().put("issuer", own)
        .put("issuers", new JsonArray().add(trusted(a, ja)))));
    try {
      assertEquals("eve", outcome(node, TestKeys.hs256(vertx, TestNodes.SECRET, new JsonObject().put("sub", "eve").put("iss", own))));
      assertEquals("eve", outcome(node, TestKeys.sign(vertx, "ES256", a1, "k1", new JsonObject().put("sub", "eve").put("iss", a))));
      String forged = outcome(node, TestKeys.hs256(vertx, TestNodes.SECRET, new JsonObject().put("sub", "eve").put("iss", a)));
      assertTrue(forged.startsWith("unauthorized/1008: token algorithm not accepted"), forged);
      assertEquals("unauthorized/1008: token issuer not accepted",
          outcome(node, TestKeys.hs256(vertx, TestNodes.SECRET, new JsonObject().put("sub", "eve"))));
    } finally {
      node.close().await();
      ja.server().close().await();
    }
  }

  /**
   * An issuer's own audience replaces auth.audience for its tokens alone: a token of A carrying B's audience (or the
   * global one) is refused as an audience mismatch is today, and an issuer without one, like the node's own keys,
   * still requires auth.audience.
   */
  @Test
  void anIssuersOwnAudienceReplacesTheGlobalOneForItsTokensOnly() {
    String own = "https://own.example";
    String a = "https://a.example";
    String b = "https://b.example";
    String c = "https://c.example";
    KeyPair ka = TestKeys.ec();
    KeyPair kb = TestKeys.ec();
    KeyPair kc = TestKeys.ec();
    JwksEndpoint ja = JwksEndpoint.serving(TestKeys.jwks(TestKeys.jwk(ka, "ES256", "k1")));
    JwksEndpoint jb = JwksEndpoint.serving(TestKeys.jwks(TestKeys.jwk(kb, "ES256", "k1")));
    JwksEndpoint jc = JwksEndpoint.serving(TestKeys.jwks(TestKeys.jwk(kc, "ES256", "k1")));
    SwitchboardNode node = TestNodes.standalone(new JsonObject().put("auth", new JsonObject()
        .put("issuer", own).put("audience", "push")
        .put("issuers", new JsonArray()
            .add(trusted(a, ja).put("audience", "push-a"))
            .add(trusted(b, jb).put("audience", "push-b"))
            .add(trusted(c, jc)))));
    try {
      String refused = "unauthorized/1008: token audience not accepted";
      assertEquals("eve", outcome(node, TestKeys.sign(vertx, "ES256", ka, "k1", claims(a, "push-a"))));
      assertEquals("eve", outcome(node, TestKeys.sign(vertx, "ES256", kb, "k1", claims(b, "push-b"))));
      assertEquals(refused, outcome(node, TestKeys.sign(vertx, "ES256", ka, "k1", claims(a, "push-b"))), "A with B's audience");
      assertEquals(refused, outcome(node, TestKeys.sign(vertx, "ES256", kb, "k1", claims(b, "push-a"))), "B with A's audience");
      assertEquals(refused, outcome(node, TestKeys.sign(vertx, "ES256", ka, "k1", claims(a, "push"))), "A with the global audience");
      assertEquals(refused, outcome(node, TestKeys.sign(vertx, "ES256", ka, "k1", new JsonObject().put("sub", "eve").put("iss", a))),
          "A with no aud");
      // Without an audience of its own, an issuer's tokens need auth.audience, as before; so do the node's own.
      assertEquals("eve", outcome(node, TestKeys.sign(vertx, "ES256", kc, "k1", claims(c, "push"))));
      assertEquals(refused, outcome(node, TestKeys.sign(vertx, "ES256", kc, "k1", claims(c, "push-a"))), "C with A's audience");
      assertEquals("eve", outcome(node, TestKeys.hs256(vertx, TestNodes.SECRET, claims(own, "push"))));
      assertEquals(refused, outcome(node, TestKeys.hs256(vertx, TestNodes.SECRET, claims(own, "push-a"))), "own with A's audience");
    } finally {
      node.close().await();
      ja.server().close().await();
      jb.server().close().await();
      jc.server().close().await();
    }
  }

  private static JsonObject claims(String iss, String aud) {
    return new JsonObject().put("sub", "eve").put("iss", iss).put("aud", aud);
  }
}
