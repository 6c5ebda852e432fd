package dev.switchboard.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.auth.JwtTokenVerifier;
import dev.switchboard.auth.Principal;
import dev.switchboard.testing.Cli;
import dev.switchboard.testing.TestNodes;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** {@code switchboard token}: prints a JWT that the node's own verifier accepts, with the claims asked for. */
@ExtendWith(VertxExtension.class)
class TokenCommandTest {

  static Principal verify(Vertx vertx, String secret, String token) {
    JsonObject conf = new JsonObject().put("auth", new JsonObject().put("jwt_secret", secret));
    return new JwtTokenVerifier(vertx, TestNodes.config(conf).auth(), List.of("dept", "tenant", "role"), null)
        .verify(token).await();
  }

  /** The one line of output that is a JWT. */
  static String jwtIn(Cli.Result r) {
    assertEquals(0, r.code(), r.toString());
    return r.out().lines().filter(l -> l.matches("[\\w-]+\\.[\\w-]+\\.[\\w-]+")).findFirst()
        .orElseThrow(() -> new AssertionError("no JWT printed: " + r));
  }

  @Test
  void printsATokenTheVerifierAcceptsWithThoseClaims(Vertx vertx) {
    String token = jwtIn(Cli.run("token", "--sub", "alice", "--rooms", "lobby", "--claim", "dept=sales",
        "--ttl", "1h", "--secret", TestNodes.SECRET));
    Principal p = verify(vertx, TestNodes.SECRET, token);
    assertEquals("alice", p.userId());
    assertEquals(Set.of("lobby"), p.rooms());
    assertEquals(Map.of("dept", List.of("sales")), p.segments());
    long left = p.expiresAt() - System.currentTimeMillis() / 1000;
    assertTrue(left > 3590 && left <= 3600, "exp about 1 h ahead: " + left);
  }

  @Test
  void severalRoomsChannelPatternsAndNoExpiry(Vertx vertx) {
    String token = jwtIn(Cli.run("token", "--sub", "bob", "--rooms", "lobby,ops", "--channels", "topic:news.*",
        "--claim", "tenant=acme", "--claim", "role=admin", "--ttl", "none", "--secret", TestNodes.SECRET));
    Principal p = verify(vertx, TestNodes.SECRET, token);
    assertEquals(Set.of("lobby", "ops"), p.rooms());
    assertEquals(List.of("topic:news.*"), p.channelPatterns());
    assertEquals(Map.of("tenant", List.of("acme"), "role", List.of("admin")), p.segments());
    assertNull(p.expiresAt());
  }

  @Test
  void withoutSecretItSignsWithTheConfiguredOne(Vertx vertx, @TempDir Path dir) throws IOException {
    String secret = "from-the-conf-file-0123456789-0123456789";
    Path conf = dir.resolve("conf.json");
    Files.writeString(conf, new JsonObject().put("auth", new JsonObject().put("jwt_secret", secret)).encode());
    String token = jwtIn(Cli.run("token", "--sub", "carol", "--ttl", "90s", "--conf", conf.toString()));
    Principal p = verify(vertx, secret, token);
    assertEquals("carol", p.userId());
    long left = p.expiresAt() - System.currentTimeMillis() / 1000;
    assertTrue(left > 80 && left <= 90, "exp about 90 s ahead: " + left);
  }

  @Test
  void aNodeWithIssuerAndAudienceAcceptsItsTokens(Vertx vertx, @TempDir Path dir) throws IOException {
    String secret = "issuer-and-audience-0123456789-0123456789";
    JsonObject auth = new JsonObject().put("jwt_secret", secret).put("issuer", "https://id.example").put("audience", "push");
    Path conf = dir.resolve("ia.json");
    Files.writeString(conf, new JsonObject().put("auth", auth).encode());
    String token = jwtIn(Cli.run("token", "--sub", "ivy", "--conf", conf.toString()));
    Principal p = new JwtTokenVerifier(vertx, TestNodes.config(new JsonObject().put("auth", auth)).auth(), List.of(), null)
        .verify(token).await();
    assertEquals("ivy", p.userId());
  }

  @Test
  void withTheShippedConfigStdoutIsTheTokenAlone() {
    // TOKEN=$(switchboard token …) in README's walkthrough: no warning about the dev secret may land in it.
    Cli.Result r = Cli.run("token", "--sub", "walker");
    assertEquals(0, r.code(), r.toString());
    assertTrue(r.out().strip().matches("[\\w-]+\\.[\\w-]+\\.[\\w-]+"), r.toString());
  }

  @Test
  void anEmptySubIsRefusedAndAMissingFileNamesTheFlag() {
    Cli.Result empty = Cli.run("token", "--sub", "", "--secret", TestNodes.SECRET);
    assertEquals(2, empty.code(), empty.toString());
    assertTrue(empty.err().contains("--sub is empty"), empty.toString());
    Cli.Result missing = Cli.run("token", "--sub", "a", "--conf", "/nonexistent/switchboard.json");
    assertEquals(2, missing.code(), missing.toString());
    assertTrue(missing.err().contains("--conf: cannot read /nonexistent/switchboard.json"), missing.toString());
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
      "--sub alice --ttl soon          | --ttl",
      "--sub alice --ttl -5m           | --ttl",
      "--sub alice --claim dept        | --claim",
      "--sub alice --claim sub=root    | --claim cannot set sub",
      "--rooms lobby                   | --sub",
      "--sub bob.smith! --rooms lobby  | --sub has a character outside",
  })
  void unusableArgumentsExitWith2AndSayWhich(String args, String named) {
    String[] argv = ("token " + args + " --secret " + TestNodes.SECRET).split(" +");
    Cli.Result r = Cli.run(argv);
    assertEquals(2, r.code(), r.toString());
    assertTrue(r.err().contains(named), r.toString());
    assertTrue(r.out().isBlank(), "no token on a usage error: " + r);
  }
}
