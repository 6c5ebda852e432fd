package dev.switchboard.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Config is read once: jar defaults → file → SWITCHBOARD_* env → flags; a bad value names its key. */
class ConfigLoaderTest {

  @TempDir
  Path dir;

  Path file(String json) throws IOException {
    Path f = Files.createTempFile(dir, "switchboard", ".json");
    Files.writeString(f, json);
    return f;
  }

  @Test
  void theShippedDefaultsAreTheSpecsDefaults() {
    SwitchboardConfig c = ConfigLoader.fromJson(new JsonObject());
    assertEquals(8080, c.server().port());
    assertEquals("/ws", c.server().wsPath());
    assertTrue(c.server().compression());
    assertEquals(SwitchboardConfig.Transport.AUTO, c.server().transport());
    assertEquals(0, c.server().eventLoops());
    assertEquals(0, c.server().maxConnections());
    assertEquals(Duration.ofSeconds(10), c.server().headerTimeout());
    assertEquals(Duration.ofSeconds(30), c.server().bodyTimeout());
    assertEquals(Duration.ofSeconds(10), c.auth().authTimeout());
    assertEquals(Duration.ofSeconds(25), c.auth().expiryGrace());
    assertEquals(Duration.ofSeconds(25), c.session().heartbeat());
    assertEquals(Duration.ofSeconds(60), c.session().idleTimeout());
    assertEquals(64 * 1024, c.session().maxMessageSize());
    assertEquals(128, c.session().maxSubscriptions());
    assertEquals(1024 * 1024, c.session().outboundQueueBytes());
    assertEquals(20, c.limits().messagesPerSecond());
    assertEquals(40, c.limits().burst());
    assertEquals(1000, c.limits().connectionsPerIp());
    assertEquals(20, c.limits().connectionsPerUser());
    assertEquals(50, c.limits().connectRatePerIp());
    assertEquals(Duration.ofSeconds(10), c.drain().period());
    assertEquals("127.0.0.1", c.cluster().host());
    assertEquals(SwitchboardConfig.PublishPolicy.NONE, c.channels().namespaces().get("topic").publish());
    assertEquals(SwitchboardConfig.SubscribePolicy.CLAIM, c.channels().namespaces().get("room").subscribe());
    assertTrue(c.channels().directMessages());
  }

  @Test
  void flagsBeatEnvWhichBeatsTheFileWhichBeatsTheDefaults() throws IOException {
    String f = file("{\"server\":{\"port\":9001},\"session\":{\"heartbeat\":\"5s\",\"idle_timeout\":\"15s\"}}").toString();
    Map<String, String> env = Map.of("SWITCHBOARD_PORT", "9002");
    Map<String, Object> flags = Map.of("server.port", 9003);

    assertEquals(9001, ConfigLoader.load(f, Map.of(), Map.of()).server().port());
    assertEquals(9002, ConfigLoader.load(f, env, Map.of()).server().port());
    SwitchboardConfig all = ConfigLoader.load(f, env, flags);
    assertEquals(9003, all.server().port());
    assertEquals(Duration.ofSeconds(5), all.session().heartbeat(), "the file still applies where nothing overrides it");
    assertEquals(40, all.limits().burst(), "the default still applies where nothing sets it");
  }

  @Test
  void switchboardConfNamesTheFileUnlessTheFlagDoes() throws IOException {
    String viaEnv = file("{\"server\":{\"port\":9100}}").toString();
    String viaFlag = file("{\"server\":{\"port\":9200}}").toString();
    Map<String, String> env = Map.of("SWITCHBOARD_CONF", viaEnv);
    assertEquals(9100, ConfigLoader.load(null, env, Map.of()).server().port());
    assertEquals(9200, ConfigLoader.load(viaFlag, env, Map.of()).server().port());
  }

  @Test
  void theSpecsEnvVarsReachTheirKeys() {
    Map<String, String> env = new HashMap<>();
    env.put("SWITCHBOARD_PORT", "8181");
    env.put("SWITCHBOARD_CLUSTER_PORT", "5801");
    env.put("SWITCHBOARD_CLUSTER_MEMBERS", "10.0.0.1:5801, 10.0.0.2:5801");
    env.put("SWITCHBOARD_CLUSTER_HOST", "10.0.0.1");
    env.put("SWITCHBOARD_JWT_SECRET", "from-env-secret-0123456789-0123456789");
    env.put("SWITCHBOARD_API_KEYS", "k1,k2");
    env.put("SWITCHBOARD_REDIS_URL", "redis://127.0.0.1:6379");
    env.put("SWITCHBOARD_STANDALONE", "true");
    SwitchboardConfig c = ConfigLoader.load(null, env, Map.of());
    assertEquals(8181, c.server().port());
    assertEquals(5801, c.cluster().port());
    assertEquals(List.of("10.0.0.1:5801", "10.0.0.2:5801"), c.cluster().members());
    assertEquals("10.0.0.1", c.cluster().host());
    assertEquals("from-env-secret-0123456789-0123456789", c.auth().jwtSecret());
    assertEquals(List.of("k1", "k2"), c.api().keys());
    assertEquals("redis://127.0.0.1:6379", c.redis().url());
    assertTrue(c.cluster().standalone());
  }

  @Test
  void theHeaderTimeoutIsSetByEnvAndABadOneNamesItsKey() {
    assertEquals(Duration.ofSeconds(30),
        ConfigLoader.load(null, Map.of("SWITCHBOARD_HEADER_TIMEOUT", "30s"), Map.of()).server().headerTimeout());
    ConfigException e = assertThrows(ConfigException.class,
        () -> ConfigLoader.load(null, Map.of("SWITCHBOARD_HEADER_TIMEOUT", "0"), Map.of()));
    assertTrue(e.getMessage().startsWith("server.header_timeout:"), e.getMessage());
  }

  @Test
  void theBodyTimeoutIsSetByEnvAndABadOneNamesItsKey() {
    assertEquals(Duration.ofMinutes(2),
        ConfigLoader.load(null, Map.of("SWITCHBOARD_BODY_TIMEOUT", "2m"), Map.of()).server().bodyTimeout());
    ConfigException e = assertThrows(ConfigException.class,
        () -> ConfigLoader.load(null, Map.of("SWITCHBOARD_BODY_TIMEOUT", "0"), Map.of()));
    assertEquals("server.body_timeout: must be at least 1s, was 0ms", e.getMessage());
  }

  @Test
  void minNodesIsOffByDefaultAndSetByEnv() {
    assertEquals(1, ConfigLoader.fromJson(new JsonObject()).cluster().minNodes());
    assertEquals(3, ConfigLoader.load(null, Map.of("SWITCHBOARD_CLUSTER_MIN_NODES", "3"), Map.of()).cluster().minNodes());
    for (String bad : List.of("0", "-2", "two", "1.5")) {
      ConfigException e = assertThrows(ConfigException.class,
          () -> ConfigLoader.load(null, Map.of("SWITCHBOARD_CLUSTER_MIN_NODES", bad), Map.of()), bad);
      assertTrue(e.getMessage().startsWith("cluster.min_nodes: "), e.getMessage());
    }
  }

  @Test
  void theTransportIsChosenByEnvInAnyCase() {
    SwitchboardConfig c = ConfigLoader.load(null, Map.of("SWITCHBOARD_TRANSPORT", "IO_URING"), Map.of());
    assertEquals(SwitchboardConfig.Transport.IO_URING, c.server().transport());
    assertEquals(SwitchboardConfig.Transport.NIO,
        ConfigLoader.fromJson(new JsonObject().put("server", new JsonObject().put("transport", "nio"))).server().transport());
  }

  @Test
  void theEventLoopPoolIsSizedByFileOrEnv() {
    assertEquals(3, ConfigLoader.load(null, Map.of("SWITCHBOARD_EVENT_LOOPS", "3"), Map.of()).server().eventLoops());
    assertEquals(1,
        ConfigLoader.fromJson(new JsonObject().put("server", new JsonObject().put("event_loops", 1))).server().eventLoops());
  }

  @Test
  void aPublicKeyFromEnvReplacesTheShippedDevSecret() {
    SwitchboardConfig c = ConfigLoader.load(null, Map.of("SWITCHBOARD_JWT_PUBLIC_KEY", "/etc/switchboard/jwt.pem"), Map.of());
    assertNull(c.auth().jwtSecret());
    assertEquals("/etc/switchboard/jwt.pem", c.auth().jwtPublicKey());
  }

  @Test
  void aPublicKeyInTheFileOrAFlagReplacesTheShippedDevSecretToo(@TempDir Path dir) throws IOException {
    // The shipped file with only the key added: the dev secret it still holds must not verify tokens.
    JsonObject file = ConfigLoader.defaults();
    file.getJsonObject("auth").put("jwt_public_key", "/etc/switchboard/jwt.pem");
    Path conf = dir.resolve("rs256.json");
    Files.writeString(conf, file.encode());
    assertNull(ConfigLoader.load(conf.toString(), Map.of(), Map.of()).auth().jwtSecret());
    file.getJsonObject("auth").remove("jwt_public_key");
    file.getJsonObject("auth").put("jwks_file", "/etc/switchboard/jwks.json");
    Files.writeString(conf, file.encode());
    assertNull(ConfigLoader.load(conf.toString(), Map.of(), Map.of()).auth().jwtSecret());
    // A secret of the deployer's own stays beside a key: both verify, as configured.
    file.getJsonObject("auth").put("jwt_secret", "a-secret-of-our-own-0123456789-0123456789");
    Files.writeString(conf, file.encode());
    assertEquals("a-secret-of-our-own-0123456789-0123456789",
        ConfigLoader.load(conf.toString(), Map.of(), Map.of()).auth().jwtSecret());
  }

  @Test
  void theDevSecretAWeakSecretAndTheDevOrNoApiKeyAreWarnedAbout() {
    Map<String, String> shipped = ConfigLoader.warnings(ConfigLoader.load(null, Map.of(), Map.of()));
    assertTrue(shipped.get("auth.jwt_secret").contains("development secret"), shipped.toString());
    assertTrue(shipped.get("api.keys").contains("development key"), shipped.toString());
    Map<String, String> weak = ConfigLoader.warnings(ConfigLoader.load(null,
        Map.of("SWITCHBOARD_JWT_SECRET", "short", "SWITCHBOARD_API_KEYS", ","), Map.of()));
    assertTrue(weak.get("auth.jwt_secret").contains("shorter than 32 bytes"), weak.toString());
    assertTrue(weak.get("api.keys").contains("refuse every request"), weak.toString());
    assertEquals(Map.of(), ConfigLoader.warnings(ConfigLoader.load(null,
        Map.of("SWITCHBOARD_JWT_SECRET", "a-secret-of-our-own-0123456789-0123456789", "SWITCHBOARD_API_KEYS", "k1"), Map.of())));
  }

  @ParameterizedTest(name = "{0} → {1}")
  @CsvSource(delimiter = '|', value = {
      "{\"server\":{\"port\":\"notaport\"}}                                | server.port",
      "{\"server\":{\"port\":70000}}                                       | server.port",
      "{\"server\":{\"port\":80.5}}                                        | server.port",
      "{\"server\":{\"compression\":\"maybe\"}}                            | server.compression",
      "{\"server\":{\"ws_path\":\"ws\"}}                                   | server.ws_path",
      "{\"server\":{\"transport\":\"kqueue\"}}                            | server.transport",
      "{\"server\":{\"event_loops\":-1}}                                | server.event_loops",
      "{\"server\":{\"event_loops\":1000}}                              | server.event_loops",
      "{\"server\":{\"tls\":{\"cert\":\"/etc/cert.pem\"}}}                 | server.tls",
      "{\"server\":{\"header_timeout\":\"soon\"}}                        | server.header_timeout",
      "{\"server\":{\"header_timeout\":\"500ms\"}}                       | server.header_timeout",
      "{\"server\":{\"body_timeout\":\"soon\"}}                          | server.body_timeout",
      "{\"server\":{\"body_timeout\":\"999ms\"}}                         | server.body_timeout",
      "{\"session\":{\"heartbeat\":\"soon\"}}                              | session.heartbeat",
      "{\"session\":{\"heartbeat\":\"500ms\"}}                             | session.heartbeat",
      "{\"session\":{\"heartbeat\":\"1500ms\"}}                            | session.heartbeat",
      "{\"session\":{\"heartbeat\":1.5}}                                   | session.heartbeat",
      "{\"session\":{\"heartbeat\":\"3000000000s\",\"idle_timeout\":\"4000000000s\"}} | session.heartbeat",
      "{\"session\":{\"heartbeat\":\"30s\",\"idle_timeout\":\"20s\"}}      | session.idle_timeout",
      "{\"session\":{\"heartbeat\":\"5s\",\"idle_timeout\":\"5500ms\"}}  | session.idle_timeout",
      "{\"session\":{\"max_message_size\":10}}                             | session.max_message_size",
      "{\"limits\":{\"burst\":0}}                                          | limits.burst",
      "{\"limits\":{\"messages_per_second\":\"lots\"}}                     | limits.messages_per_second",
      "{\"limits\":{\"messages_per_second\":\"NaN\"}}                      | limits.messages_per_second",
      "{\"logging\":{\"message_sample_rate\":\"NaN\"}}                     | logging.message_sample_rate",
      "{\"api\":{\"keys\":5}}                                              | api.keys",
      "{\"auth\":{\"auth_timeout\":\"0s\"}}                                | auth.auth_timeout",
      "{\"auth\":{\"expiry_grace\":\"-5\"}}                                | auth.expiry_grace",
      "{\"rpc\":{\"timeout\":\"0\"}}                                       | rpc.timeout",
      "{\"rpc\":{\"allowed\":[1,2]}}                                       | rpc.allowed",
      "{\"channels\":{\"namespaces\":{\"room\":{\"subscribe\":\"everyone\"}}}} | channels.namespaces.room.subscribe",
      "{\"channels\":{\"namespaces\":{\"room\":5}}}                        | channels.namespaces.room",
      "{\"channels\":{\"namespaces\":{\"room\":{\"max_message_size\":0}}}}     | channels.namespaces.room.max_message_size",
      "{\"channels\":{\"namespaces\":{\"room\":{\"max_message_size\":-5}}}}    | channels.namespaces.room.max_message_size",
      "{\"channels\":{\"namespaces\":{\"room\":{\"max_message_size\":\"1k\"}}}} | channels.namespaces.room.max_message_size",
      "{\"channels\":{\"namespaces\":{\"room\":{\"max_message_size\":70000}}}} | channels.namespaces.room.max_message_size",
      "{\"channels\":{\"namespaces\":{\"room\":{\"publish_rate\":0}}}}         | channels.namespaces.room.publish_rate",
      "{\"channels\":{\"namespaces\":{\"room\":{\"publish_rate\":-1}}}}        | channels.namespaces.room.publish_rate",
      "{\"channels\":{\"namespaces\":{\"room\":{\"publish_rate\":\"fast\"}}}} | channels.namespaces.room.publish_rate",
      "{\"channels\":{\"namespaces\":{\"room\":{\"publish_rate\":\"NaN\"}}}}  | channels.namespaces.room.publish_rate",
      "{\"channels\":{\"direct_messages\":\"perhaps\"}}                    | channels.direct_messages",
      "{\"logging\":{\"message_sample_rate\":2}}                           | logging.message_sample_rate",
      "{\"drain\":{\"period\":\"forever\"}}                                | drain.period",
  })
  void aBadValueStopsLoadingAndNamesItsKey(String json, String key) {
    ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.fromJson(new JsonObject(json)));
    assertTrue(e.getMessage().startsWith(key + ":"), "message should start with " + key + ": " + e.getMessage());
  }

  /** auth_success carries the heartbeat in whole seconds, and the node pings on a one-second tick. */
  @Test
  void aHeartbeatIsAWholeNumberOfSeconds() {
    String msg = assertThrows(ConfigException.class, () -> ConfigLoader.fromJson(new JsonObject(
        "{\"session\":{\"heartbeat\":\"1500ms\"}}"))).getMessage();
    assertEquals("session.heartbeat: must be a whole number of seconds, was 1500ms", msg);
    assertEquals(Duration.ofSeconds(2), ConfigLoader.fromJson(new JsonObject(
        "{\"session\":{\"heartbeat\":\"2000ms\"}}")).session().heartbeat());
    assertEquals(Duration.ofSeconds(60), ConfigLoader.fromJson(new JsonObject(
        "{\"session\":{\"heartbeat\":\"1m\",\"idle_timeout\":\"90500ms\"}}")).session().heartbeat());
  }

  /** The first ping may come half a tick after the heartbeat; the idle check runs on the tick before it. */
  @Test
  void anIdleTimeoutIsAtLeastATickLongerThanTheHeartbeat() {
    String msg = assertThrows(ConfigException.class, () -> ConfigLoader.fromJson(new JsonObject(
        "{\"session\":{\"heartbeat\":\"5s\",\"idle_timeout\":\"5500ms\"}}"))).getMessage();
    assertEquals("session.idle_timeout: must be at least session.heartbeat + 1s (6s), was 5500ms", msg);
    assertEquals(Duration.ofSeconds(6), ConfigLoader.fromJson(new JsonObject(
        "{\"session\":{\"heartbeat\":\"5s\",\"idle_timeout\":\"6s\"}}")).session().idleTimeout());
  }

  /** The reader's own bounds would say "between 1 and 2147483647" or "between 0.0 and 1.0E9": not the real ones. */
  @Test
  void aNamespaceLimitOutOfRangeIsToldItsRealRange() {
    String size = assertThrows(ConfigException.class, () -> ConfigLoader.fromJson(new JsonObject(
        "{\"channels\":{\"namespaces\":{\"room\":{\"max_message_size\":0}}}}"))).getMessage();
    assertTrue(size.contains("must be at least 1 byte, was 0"), size);
    String rate = assertThrows(ConfigException.class, () -> ConfigLoader.fromJson(new JsonObject(
        "{\"channels\":{\"namespaces\":{\"room\":{\"publish_rate\":-1}}}}"))).getMessage();
    assertTrue(rate.contains("must be a number of publishes per second above 0, was -1"), rate);
  }

  @Test
  void aNamespaceMayHaveASizeLimitAndAPublishRateOfItsOwn() {
    SwitchboardConfig c = ConfigLoader.fromJson(new JsonObject().put("channels", new JsonObject().put("namespaces",
        new JsonObject().put("chat", new JsonObject().put("max_message_size", 1024).put("publish_rate", 1.5))
            .put("slow", new JsonObject().put("publish_rate", "0.2")))));
    SwitchboardConfig.NamespaceRules chat = c.channels().namespaces().get("chat");
    assertEquals(1024, chat.maxMessageSize());
    assertEquals(1.5, chat.publishRate());
    assertEquals(3, chat.publishBurst(), "twice the rate");
    assertEquals(1, c.channels().namespaces().get("slow").publishBurst(), "rounded up, at least one");
    // Absent: no limit of the namespace's own (session.max_message_size and the inbound bucket still apply).
    assertEquals(0, c.channels().namespaces().get("room").maxMessageSize());
    assertEquals(0, c.channels().namespaces().get("room").publishRate());
    // Up to the session's limit, which is what a namespace's limit is measured against.
    assertEquals(65536, ConfigLoader.fromJson(new JsonObject("{\"channels\":{\"namespaces\":{\"room\":"
        + "{\"max_message_size\":65536}}}}")).channels().namespaces().get("room").maxMessageSize());
    ConfigException over = assertThrows(ConfigException.class, () -> ConfigLoader.fromJson(new JsonObject(
        "{\"session\":{\"max_message_size\":4096},\"channels\":{\"namespaces\":{\"room\":{\"max_message_size\":8192}}}}")));
    assertEquals("channels.namespaces.room.max_message_size: must not be larger than session.max_message_size "
        + "(4096 bytes), was 8192: raise session.max_message_size as well, or leave this key out", over.getMessage());
    ConfigException zero = assertThrows(ConfigException.class, () -> ConfigLoader.fromJson(new JsonObject(
        "{\"channels\":{\"namespaces\":{\"room\":{\"publish_rate\":0}}}}")));
    assertTrue(zero.getMessage().contains("leave the key out for no limit"), zero.getMessage());
    // Read like the namespace's other keys, so a misspelt one is named with the key it meant.
    assertEquals(List.of("channels.namespaces.room.publish_rte (did you mean channels.namespaces.room.publish_rate?)"),
        ConfigLoader.unknownKeys(new JsonObject("{\"channels\":{\"namespaces\":{\"room\":{\"publish_rte\":5}}}}")));
  }

  @Test
  void aBadEnvValueNamesTheKeyItSets() {
    ConfigException e = assertThrows(ConfigException.class,
        () -> ConfigLoader.load(null, Map.of("SWITCHBOARD_PORT", "notaport"), Map.of()));
    assertTrue(e.getMessage().startsWith("server.port:"), e.getMessage());
    assertTrue(e.getMessage().contains("notaport"), e.getMessage());
  }

  @Test
  void aFlagUnderSomethingThatIsNotAnObjectNamesTheParent() throws IOException {
    String f = file("{\"server\":\"everywhere\"}").toString();
    ConfigException e = assertThrows(ConfigException.class,
        () -> ConfigLoader.load(f, Map.of(), Map.of("server.port", 9000)));
    assertTrue(e.getMessage().startsWith("server:"), e.getMessage());
  }

  @Test
  void aFileThatCannotBeUsedNamesSwitchboardConfAndThePath() throws IOException {
    for (String path : List.of(dir.resolve("missing.json").toString(), file("{not json").toString(), file("[1,2]").toString())) {
      ConfigException byEnv = assertThrows(ConfigException.class, () -> ConfigLoader.load(null, Map.of("SWITCHBOARD_CONF", path), Map.of()));
      assertTrue(byEnv.getMessage().startsWith("SWITCHBOARD_CONF:") && byEnv.getMessage().contains(path), byEnv.getMessage());
      // Named as the user named it: the flag when the flag did.
      ConfigException byFlag = assertThrows(ConfigException.class, () -> ConfigLoader.load(path, Map.of(), Map.of()));
      assertTrue(byFlag.getMessage().startsWith("--conf:") && byFlag.getMessage().contains(path), byFlag.getMessage());
    }
  }

  @Test
  void keysThatAreNotSettingsAreNamedWithTheSettingTheyProbablyMeant() {
    JsonObject typos = new JsonObject()
        .put("session", new JsonObject().put("heartbeet", "5s").put("idle_timeout", "30s"))
        .put("server", new JsonObject().put("tls", new JsonObject().put("crt", "x.pem")))
        .put("channels", new JsonObject().put("namespaces", new JsonObject()
            .put("game", new JsonObject().put("subscribe", "claim").put("histroy_size", 10))))
        .put("metrics", new JsonObject().put("enabled", true));
    assertEquals(List.of(
            "server.tls.crt (did you mean server.tls.cert?)",
            "session.heartbeet (did you mean session.heartbeat?)",
            "channels.namespaces.game.histroy_size (did you mean channels.namespaces.game.history_size?)",
            "metrics"),
        ConfigLoader.unknownKeys(typos));
    // The typo is ignored, not fatal: the setting keeps its default.
    assertEquals(Duration.ofSeconds(25), ConfigLoader.fromJson(typos).session().heartbeat());
  }

  @Test
  void theShippedConfigHasOnlySettings() throws IOException {
    assertEquals(List.of(), ConfigLoader.unknownKeys(new JsonObject()));
    assertEquals(List.of(), ConfigLoader.unknownKeys(new JsonObject(Files.readString(Path.of("conf/switchboard.json")))));
  }

  static JsonObject issuer(String iss, String source, String value) {
    return new JsonObject().put("issuer", iss).put(source, value);
  }

  @Test
  void trustedIssuersAreReadEachWithItsSourceAndReplaceTheShippedDevSecret(@TempDir Path dir) throws IOException {
    JsonObject file = ConfigLoader.defaults();
    file.getJsonObject("auth").put("issuers", new io.vertx.core.json.JsonArray()
        .add(issuer("https://a.example", "jwks_url", "http://127.0.0.1:9/a/jwks"))
        .add(issuer("https://b.example", "jwks_file", "/etc/switchboard/b-jwks.json").put("audience", "push-b")));
    Path conf = dir.resolve("issuers.json");
    Files.writeString(conf, file.encode());
    SwitchboardConfig.Auth auth = ConfigLoader.load(conf.toString(), Map.of(), Map.of()).auth();
    assertEquals(List.of(
            new SwitchboardConfig.TrustedIssuer("https://a.example", "http://127.0.0.1:9/a/jwks", null, null, "auth.issuers[0]"),
            new SwitchboardConfig.TrustedIssuer("https://b.example", null, "/etc/switchboard/b-jwks.json", "push-b", "auth.issuers[1]")),
        auth.issuers());
    assertEquals("auth.issuers[1].jwks_file", auth.issuers().get(1).sourceKey());
    assertNull(auth.jwtSecret(), "the shipped dev secret must not verify tokens beside trusted issuers");
    // The one-issuer form is as it was, and has no list.
    SwitchboardConfig.Auth single = ConfigLoader.load(null, Map.of("SWITCHBOARD_JWKS_URL", "http://127.0.0.1:9/jwks"), Map.of()).auth();
    assertEquals("http://127.0.0.1:9/jwks", single.jwksUrl());
    assertEquals(List.of(), single.issuers());
    // Beside the list, the one-issuer form names its issuer and is one more trusted source.
    SwitchboardConfig.Auth both = ConfigLoader.load(conf.toString(), Map.of("SWITCHBOARD_JWKS_URL", "http://127.0.0.1:9/jwks"),
        Map.of("auth.issuer", "https://own.example")).auth();
    assertEquals("https://own.example", both.issuer());
    assertEquals(2, both.issuers().size());
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "{\"issuers\":{\"issuer\":\"https://a\"}}|auth.issuers: must be a list",
      "{\"issuers\":[\"https://a\"]}|auth.issuers[0]: must be an object",
      "{\"issuers\":[{\"jwks_url\":\"http://x/jwks\"}]}|auth.issuers[0].issuer: is required",
      "{\"issuers\":[{\"issuer\":\"https://a\"}]}|auth.issuers[0]: set one of jwks_url or jwks_file for issuer https://a",
      "{\"issuers\":[{\"issuer\":\"https://a\",\"jwks_url\":\"http://x\",\"jwks_file\":\"/x\"}]}|auth.issuers[0]: set one of",
      "{\"issuers\":[{\"issuer\":\"https://a\",\"jwks_uri\":\"http://x\"}]}|auth.issuers[0].jwks_uri: is not a setting of a trusted issuer",
      "{\"issuers\":[{\"issuer\":\"https://a\",\"jwks_url\":7}]}|auth.issuers[0].jwks_url: must be a string",
      "{\"issuers\":[{\"issuer\":\"https://a\",\"jwks_url\":\"http://x\",\"audience\":[\"push\"]}]}|auth.issuers[0].audience: must be a string",
      "{\"issuers\":[{\"issuer\":\"https://a\",\"jwks_url\":\"http://x\"},{\"issuer\":\"https://a\",\"jwks_url\":\"http://y\"}]}|auth.issuers[1].issuer: https://a is trusted twice",
      "{\"issuer\":\"https://a\",\"issuers\":[{\"issuer\":\"https://a\",\"jwks_url\":\"http://y\"}]}|auth.issuers[0].issuer: https://a is trusted twice (in auth.issuers and as auth.issuer)",
      "{\"jwks_url\":\"http://own\",\"issuers\":[{\"issuer\":\"https://a\",\"jwks_url\":\"http://y\"}]}|auth.issuer: must be set when auth.jwks_url is used beside auth.issuers",
      "{\"jwt_public_key\":\"-----BEGIN PUBLIC KEY-----\",\"issuers\":[{\"issuer\":\"https://a\",\"jwks_url\":\"http://y\"}]}|auth.issuer: must be set when auth.jwt_public_key is used beside auth.issuers",
  })
  void aTrustedIssuerThatCannotBeUsedIsNamed(String auth, String message) {
    ConfigException e = assertThrows(ConfigException.class,
        () -> ConfigLoader.fromJson(new JsonObject().put("auth", new JsonObject(auth))));
    assertTrue(e.getMessage().startsWith(message), e.getMessage());
  }

  static final String ENV = "SWITCHBOARD_AUTH_ISSUERS";

  /** SWITCHBOARD_AUTH_ISSUERS holds the file's list as JSON, read by the same rules, its entries named in it. */
  @Test
  void trustedIssuersAreReadFromTheirEnvVar() {
    String json = new io.vertx.core.json.JsonArray()
        .add(issuer("https://a.example", "jwks_url", "http://127.0.0.1:9/a/jwks").put("audience", "push-a"))
        .add(issuer("https://b.example", "jwks_file", "/etc/switchboard/b-jwks.json")).encode();
    SwitchboardConfig.Auth auth = ConfigLoader.load(null, Map.of(ENV, json), Map.of()).auth();
    assertEquals(List.of(
            new SwitchboardConfig.TrustedIssuer("https://a.example", "http://127.0.0.1:9/a/jwks", null, "push-a", ENV + "[0]"),
            new SwitchboardConfig.TrustedIssuer("https://b.example", null, "/etc/switchboard/b-jwks.json", null, ENV + "[1]")),
        auth.issuers());
    // Start-up names an endpoint it cannot read by the variable that lists it.
    assertEquals(ENV + "[1].jwks_file", auth.issuers().get(1).sourceKey());
    assertNull(auth.jwtSecret(), "the shipped dev secret must not verify tokens beside trusted issuers");
  }

  /** As every other env var, it overrides the file: the variable's list replaces the file's, whole. */
  @Test
  void theEnvVarsListReplacesTheFilesList() throws IOException {
    JsonObject file = ConfigLoader.defaults();
    file.getJsonObject("auth").put("issuers", new io.vertx.core.json.JsonArray()
        .add(issuer("https://a.example", "jwks_url", "http://127.0.0.1:9/a/jwks"))
        .add(issuer("https://b.example", "jwks_url", "http://127.0.0.1:9/b/jwks")));
    String conf = file(file.encode()).toString();
    String fromEnv = "[{\"issuer\":\"https://c.example\",\"jwks_url\":\"http://127.0.0.1:9/c/jwks\"}]";
    SwitchboardConfig.Auth auth = ConfigLoader.load(conf, Map.of(ENV, fromEnv), Map.of()).auth();
    assertEquals(List.of("https://c.example"), auth.issuers().stream().map(SwitchboardConfig.TrustedIssuer::issuer).toList());
    assertEquals(ENV + "[0]", auth.issuers().get(0).key());
    // Without the variable the file's list stands, named as the file's.
    assertEquals("auth.issuers[1]", ConfigLoader.load(conf, Map.of(), Map.of()).auth().issuers().get(1).key());
    // Set but blank, as a blank SWITCHBOARD_API_KEYS is: an empty list, so the file's issuers are no longer trusted.
    SwitchboardConfig.Auth blank = ConfigLoader.load(conf, Map.of(ENV, " ", "SWITCHBOARD_JWT_SECRET",
        "a-secret-of-our-own-0123456789-0123456789"), Map.of()).auth();
    assertEquals(List.of(), blank.issuers());
  }

  @Test
  void malformedJsonInTheEnvVarSaysWhereWithoutTheParsersBoilerplate() {
    ConfigException e = assertThrows(ConfigException.class,
        () -> ConfigLoader.load(null, Map.of(ENV, "[{\"issuer\": \"https://a\",\n  \"jwks_url\": https://a/jwks}]"), Map.of()));
    assertTrue(e.getMessage().startsWith(ENV + ": is not valid JSON: Unrecognized token 'https'"), e.getMessage());
    assertTrue(e.getMessage().endsWith("(line 2, column 20)"), e.getMessage());
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "[{\"issuer\":\"https://a\",|SWITCHBOARD_AUTH_ISSUERS: is not valid JSON",
      "https://a.example|SWITCHBOARD_AUTH_ISSUERS: is not valid JSON",
      "{\"issuer\":\"https://a\",\"jwks_url\":\"http://x\"}|SWITCHBOARD_AUTH_ISSUERS: must be a list",
      "[{\"issuer\":\"https://a\",\"jwks_url\":\"http://x\"},\"https://b\"]|SWITCHBOARD_AUTH_ISSUERS[1]: must be an object",
      "[{\"issuer\":\"https://a\",\"jwks_url\":\"http://x\"},{\"issuer\":\"https://b\",\"jwks_url\":7}]|SWITCHBOARD_AUTH_ISSUERS[1].jwks_url: must be a string",
      "[{\"issuer\":\"https://a\",\"jwks_uri\":\"http://x\"}]|SWITCHBOARD_AUTH_ISSUERS[0].jwks_uri: is not a setting of a trusted issuer",
      "[{\"jwks_url\":\"http://x\"}]|SWITCHBOARD_AUTH_ISSUERS[0].issuer: is required",
      "[{\"issuer\":\"https://a\"}]|SWITCHBOARD_AUTH_ISSUERS[0]: set one of jwks_url or jwks_file for issuer https://a",
      "[{\"issuer\":\"https://a\",\"jwks_url\":\"http://x\",\"audience\":1}]|SWITCHBOARD_AUTH_ISSUERS[0].audience: must be a string",
      "[{\"issuer\":\"https://a\",\"jwks_url\":\"http://x\"},{\"issuer\":\"https://a\",\"jwks_url\":\"http://y\"}]|SWITCHBOARD_AUTH_ISSUERS[1].issuer: https://a is trusted twice",
  })
  void aTrustedIssuerInTheEnvVarThatCannotBeUsedIsNamedThere(String value, String message) {
    ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.load(null, Map.of(ENV, value), Map.of()));
    assertTrue(e.getMessage().startsWith(message), e.getMessage());
  }
}
