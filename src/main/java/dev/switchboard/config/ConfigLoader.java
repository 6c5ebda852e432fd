package dev.switchboard.config;

import io.vertx.core.json.DecodeException;
import io.vertx.core.json.Json;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Builds the {@link SwitchboardConfig}: the defaults shipped in the jar, then the config file, then the
 * SWITCHBOARD_* environment variables, then command-line flags, each overriding the one before.
 */
public final class ConfigLoader {

  private static final Logger log = LoggerFactory.getLogger(ConfigLoader.class);

  /** Environment variables and the config keys they set (SPEC §2, plus a few extensions). */
  public static final Map<String, String> ENV_KEYS = envKeys();

  private static Map<String, String> envKeys() {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("SWITCHBOARD_PORT", "server.port");
    m.put("SWITCHBOARD_HOST", "server.host");
    m.put("SWITCHBOARD_TRANSPORT", "server.transport");
    m.put("SWITCHBOARD_EVENT_LOOPS", "server.event_loops");
    m.put("SWITCHBOARD_HEADER_TIMEOUT", "server.header_timeout");
    m.put("SWITCHBOARD_BODY_TIMEOUT", "server.body_timeout");
    m.put("SWITCHBOARD_NODE_ID", "node.id");
    m.put("SWITCHBOARD_CLUSTER_PORT", "cluster.port");
    m.put("SWITCHBOARD_CLUSTER_MEMBERS", "cluster.members");
    m.put("SWITCHBOARD_CLUSTER_HOST", "cluster.host");
    m.put("SWITCHBOARD_CLUSTER_NAME", "cluster.name");
    m.put("SWITCHBOARD_CLUSTER_CONFIG", "cluster.config");
    m.put("SWITCHBOARD_CLUSTER_KUBERNETES_SERVICE_DNS", "cluster.kubernetes_service_dns");
    m.put("SWITCHBOARD_CLUSTER_BUS_PORT", "cluster.bus_port");
    m.put("SWITCHBOARD_CLUSTER_MIN_NODES", "cluster.min_nodes");
    m.put("SWITCHBOARD_JWT_SECRET", "auth.jwt_secret");
    m.put("SWITCHBOARD_JWT_PUBLIC_KEY", "auth.jwt_public_key");
    m.put("SWITCHBOARD_JWKS_URL", "auth.jwks_url");
    m.put("SWITCHBOARD_AUTH_ISSUERS", TrustedIssuers.KEY);
    m.put("SWITCHBOARD_API_KEYS", "api.keys");
    m.put("SWITCHBOARD_DEMO_TOKENS", "api.demo_tokens");
    m.put("SWITCHBOARD_REDIS_URL", "redis.url");
    m.put("SWITCHBOARD_STANDALONE", "cluster.standalone");
    m.put("SWITCHBOARD_DRAIN_PERIOD", "drain.period");
    return Map.copyOf(m);
  }

  /** Env vars that hold JSON, written as their key is in the file; messages about their value name the variable. */
  private static final Set<String> JSON_ENV = Set.of("SWITCHBOARD_AUTH_ISSUERS");

  private ConfigLoader() {}

  /**
   * @param confFile explicit file (flag), or null to use SWITCHBOARD_CONF, then conf/switchboard.json
   * @param env the process environment
   * @param flags dotted config keys set on the command line
   */
  public static SwitchboardConfig load(String confFile, Map<String, String> env, Map<String, Object> flags) {
    JsonObject tree = defaults();
    String file = confFile != null ? confFile : env.get("SWITCHBOARD_CONF");
    if (file == null && Files.isRegularFile(Path.of("conf/switchboard.json"))) {
      file = "conf/switchboard.json";
    }
    if (file != null) {
      // Named as the user named it, so the error points at what to fix.
      deepMerge(tree, readFile(file, confFile != null ? "--conf" : env.containsKey("SWITCHBOARD_CONF")
          ? "SWITCHBOARD_CONF" : "conf/switchboard.json"));
    }
    // A public key or JWKS given by env replaces the shipped dev secret rather than adding to it.
    if (env.containsKey("SWITCHBOARD_JWT_PUBLIC_KEY") || env.containsKey("SWITCHBOARD_JWKS_URL")) {
      if (!env.containsKey("SWITCHBOARD_JWT_SECRET")) {
        put(tree, "auth.jwt_secret", null);
      }
    }
    // Where a value that is not the file's came from, for messages that point inside it (SWITCHBOARD_AUTH_ISSUERS[1]).
    Map<String, String> origins = new HashMap<>();
    ENV_KEYS.forEach((var, key) -> {
      String v = env.get(var);
      if (v != null) {
        boolean json = JSON_ENV.contains(var);
        put(tree, key, json ? json(var, v) : v);
        if (json) {
          origins.put(key, var);
        }
      }
    });
    flags.forEach((k, v) -> {
      if (v != null) {
        put(tree, k, v);
        origins.remove(k);
      }
    });
    // Wherever the public key or JWKS came from (file, env, flag), the shipped dev secret must not stay on beside
    // it: anyone can read that secret and mint tokens with it.
    JsonObject auth = tree.getJsonObject("auth", new JsonObject());
    boolean asymmetric = auth.getValue("jwt_public_key") != null || auth.getValue("jwks_url") != null
        || auth.getValue("jwks_file") != null
        || auth.getValue("issuers") instanceof JsonArray issuers && !issuers.isEmpty();
    if (asymmetric && DEV_SECRET.equals(auth.getValue("jwt_secret"))) {
      put(tree, "auth.jwt_secret", null);
    }
    return build(tree, origins);
  }

  /** The value of a JSON env var; blank is an empty list, as a blank comma-separated list is. */
  private static Object json(String var, String text) {
    if (text.isBlank()) {
      return new JsonArray();
    }
    try {
      return Json.decodeValue(text);
    } catch (DecodeException e) {
      throw new ConfigException(var, "is not valid JSON: " + JsonProblem.of(e));
    }
  }

  /** The development secret and API key in the shipped conf/switchboard.json: public, so never for production. */
  static final String DEV_SECRET = defaults().getJsonObject("auth").getString("jwt_secret");
  static final String DEV_API_KEY = defaults().getJsonObject("api").getJsonArray("keys").getString(0);

  /** HS256 wants a key at least as long as its hash: 256 bits. */
  static final int MIN_SECRET_BYTES = 32;

  /** The defaults shipped in the jar (a copy of conf/switchboard.json). */
  public static JsonObject defaults() {
    try (InputStream in = ConfigLoader.class.getResourceAsStream("/conf/switchboard.json")) {
      if (in == null) {
        throw new IllegalStateException("conf/switchboard.json missing from the classpath");
      }
      return new JsonObject(new String(in.readAllBytes(), StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Parses a duration as config values are written: 500ms, 10s, 1.5m, 1h, 2d or a bare number of seconds; null if it is not one. */
  public static Duration parseDuration(String text) {
    return ConfigReader.parseDuration(text);
  }

  public static SwitchboardConfig fromJson(JsonObject overrides) {
    return build(overDefaults(overrides));
  }

  private static JsonObject overDefaults(JsonObject overrides) {
    JsonObject tree = defaults();
    deepMerge(tree, overrides);
    return tree;
  }

  private static JsonObject readFile(String file, String namedBy) {
    try {
      return new JsonObject(Files.readString(Path.of(file)));
    } catch (IOException e) {
      throw new ConfigException(namedBy, "cannot read " + file + ": " + e.getMessage());
    } catch (DecodeException e) {
      throw new ConfigException(namedBy, file + " is not a JSON object: " + JsonProblem.of(e));
    }
  }

  /** Merges {@code from} into {@code into}: objects key by key, anything else replaced. */
  public static void deepMerge(JsonObject into, JsonObject from) {
    from.forEach(e -> {
      Object cur = into.getValue(e.getKey());
      if (cur instanceof JsonObject co && e.getValue() instanceof JsonObject fo) {
        deepMerge(co, fo);
      } else {
        into.put(e.getKey(), e.getValue());
      }
    });
  }

  private static void put(JsonObject tree, String key, Object value) {
    String[] parts = key.split("\\.");
    JsonObject cur = tree;
    for (int i = 0; i < parts.length - 1; i++) {
      Object next = cur.getValue(parts[i]);
      if (next == null) {
        next = new JsonObject();
        cur.put(parts[i], next);
      } else if (!(next instanceof JsonObject)) {
        throw new ConfigException(String.join(".", java.util.Arrays.copyOf(parts, i + 1)),
            "must be an object (it holds " + key + ")");
      }
      cur = (JsonObject) next;
    }
    cur.put(parts[parts.length - 1], value);
  }

  static SwitchboardConfig build(JsonObject tree) {
    return build(tree, Map.of());
  }

  private static SwitchboardConfig build(JsonObject tree, Map<String, String> origins) {
    ConfigReader r = new ConfigReader(tree, origins);
    SwitchboardConfig config = read(r);
    // A misspelt key would otherwise leave its setting at the default without a word.
    for (ConfigReader.Unread u : r.unread()) {
      log.warn("event=config_unknown_key key={} reason=\"not a Switchboard setting; ignored{}\"", u.key(), u.hint());
    }
    return config;
  }

  /**
   * Settings that start a node but are wrong for any deployment someone else can reach: key → why. Logged by
   * the node as it starts ({@code event=config_warning}), not by the commands that only read the config
   * ({@code token}, {@code publish}), whose stdout a script captures.
   */
  public static Map<String, String> warnings(SwitchboardConfig config) {
    Map<String, String> out = new java.util.LinkedHashMap<>();
    String secret = config.auth().jwtSecret();
    if (DEV_SECRET.equals(secret)) {
      out.put("auth.jwt_secret", "the shipped development secret, which anyone can read and mint tokens with; "
          + "set SWITCHBOARD_JWT_SECRET (or SWITCHBOARD_JWT_PUBLIC_KEY)");
    } else if (secret != null && secret.getBytes(StandardCharsets.UTF_8).length < MIN_SECRET_BYTES) {
      out.put("auth.jwt_secret", "shorter than " + MIN_SECRET_BYTES + " bytes: HS256 wants a 256-bit key, and a short "
          + "one can be guessed offline from any token");
    }
    if (config.api().keys().contains(DEV_API_KEY)) {
      out.put("api.keys", "includes the shipped development key " + DEV_API_KEY + "; set SWITCHBOARD_API_KEYS");
    } else if (config.api().keys().isEmpty()) {
      out.put("api.keys", "empty: /api/* and /admin refuse every request");
    }
    return out;
  }

  /** Keys of {@code overrides} (merged over the defaults) that are not Switchboard settings, with the likely intended key. */
  public static List<String> unknownKeys(JsonObject overrides) {
    ConfigReader r = new ConfigReader(overDefaults(overrides));
    read(r);
    return r.unread().stream().map(u -> u.key() + u.hint()).toList();
  }

  /**
   * A namespace's own size limit, 0 when absent. It can only be smaller than the session's: a bigger one could
   * never be used by a client (the frame closes with 1009 first) and would let backends past the limit every
   * session is built for.
   */
  private static int namespaceMessageSize(ConfigReader r, String key, int sessionMax) {
    if (r.raw(key) == null) {
      return 0;
    }
    // Type checked by the reader, range here: its bounds would read "between 1 and 2147483647", not the real ones.
    int bytes = r.integer(key, 0, Integer.MIN_VALUE, Integer.MAX_VALUE);
    if (bytes < 1) {
      throw new ConfigException(key, "must be at least 1 byte, was " + bytes + " (leave the key out for no limit of "
          + "the namespace's own)");
    }
    if (bytes > sessionMax) {
      throw new ConfigException(key, "must not be larger than session.max_message_size (" + sessionMax
          + " bytes), was " + bytes + ": raise session.max_message_size as well, or leave this key out");
    }
    return bytes;
  }

  /** A namespace's publishes per second per session, 0 when absent; a value given must allow some. */
  private static double namespacePublishRate(ConfigReader r, String key) {
    if (r.raw(key) == null) {
      return 0;
    }
    double rate = r.decimal(key, 0, Double.NEGATIVE_INFINITY, 1e9);
    if (!(rate > 0)) {
      throw new ConfigException(key, "must be a number of publishes per second above 0, was " + r.raw(key)
          + " (leave the key out for no limit)");
    }
    return rate;
  }

  private static SwitchboardConfig read(ConfigReader r) {
    var server = new SwitchboardConfig.Server(
        r.string("server.host", "127.0.0.1"),
        r.integer("server.port", 8080, 0, 65535),
        r.string("server.ws_path", "/ws"),
        r.integer("server.instances", 0, 0, 256),
        r.bool("server.compression", true),
        r.integer("server.max_connections", 0, 0, Integer.MAX_VALUE),
        r.strings("server.allowed_origins", List.of()),
        r.string("server.tls.cert", null),
        r.string("server.tls.key", null),
        r.choice("server.transport", SwitchboardConfig.Transport.AUTO, SwitchboardConfig.Transport.class),
        r.integer("server.event_loops", 0, 0, 256),
        r.duration("server.header_timeout", Duration.ofSeconds(10)),
        r.duration("server.body_timeout", Duration.ofSeconds(30)));
    var auth = new SwitchboardConfig.Auth(
        r.string("auth.jwt_secret", null),
        r.string("auth.jwt_public_key", null),
        r.string("auth.jwks_url", null),
        r.string("auth.jwks_file", null),
        r.string("auth.issuer", null),
        r.string("auth.audience", null),
        r.duration("auth.auth_timeout", Duration.ofSeconds(10)),
        r.duration("auth.expiry_grace", Duration.ofSeconds(25)),
        TrustedIssuers.read(r));
    var api = new SwitchboardConfig.Api(r.strings("api.keys", List.of()), r.bool("api.demo_tokens", false));
    var session = new SwitchboardConfig.SessionSettings(
        r.duration("session.heartbeat", Duration.ofSeconds(25)),
        r.duration("session.idle_timeout", Duration.ofSeconds(60)),
        r.integer("session.max_message_size", 65536, 128, 16 * 1024 * 1024),
        r.integer("session.max_subscriptions", 128, 1, 100_000),
        r.integer("session.outbound_queue_bytes", 1024 * 1024, 1024, Integer.MAX_VALUE));
    var limits = new SwitchboardConfig.Limits(
        r.decimal("limits.messages_per_second", 20, 0.001, 1e9),
        r.integer("limits.burst", 40, 1, Integer.MAX_VALUE),
        r.integer("limits.rate_abuse_limit", 100, 1, Integer.MAX_VALUE),
        r.integer("limits.connections_per_ip", 1000, 1, Integer.MAX_VALUE),
        r.integer("limits.connections_per_user", 20, 1, Integer.MAX_VALUE),
        r.integer("limits.connect_rate_per_ip", 50, 1, Integer.MAX_VALUE));
    Map<String, SwitchboardConfig.NamespaceRules> namespaces = new LinkedHashMap<>();
    JsonObject ns = r.object("channels.namespaces");
    for (String name : ns.fieldNames()) {
      String p = "channels.namespaces." + name;
      r.object(p);
      namespaces.put(name, new SwitchboardConfig.NamespaceRules(
          ConfigReader.oneOf(SwitchboardConfig.SubscribePolicy.class, p + ".subscribe", r.string(p + ".subscribe", "none")),
          ConfigReader.oneOf(SwitchboardConfig.PublishPolicy.class, p + ".publish", r.string(p + ".publish", "none")),
          r.bool(p + ".presence", false),
          r.integer(p + ".history_size", 0, 0, 1_000_000),
          r.duration(p + ".history_ttl", Duration.ZERO),
          namespaceMessageSize(r, p + ".max_message_size", session.maxMessageSize()),
          namespacePublishRate(r, p + ".publish_rate")));
    }
    var channels = new SwitchboardConfig.Channels(
        r.bool("channels.direct_messages", true),
        r.strings("channels.segments", List.of()),
        Map.copyOf(namespaces));
    var rpc = new SwitchboardConfig.Rpc(r.strings("rpc.allowed", List.of()),
        r.duration("rpc.timeout", Duration.ofSeconds(5)));
    var cluster = new SwitchboardConfig.Cluster(
        r.bool("cluster.standalone", false),
        r.string("cluster.host", "127.0.0.1"),
        r.integer("cluster.port", 5701, 0, 65535),
        r.strings("cluster.members", List.of("127.0.0.1:5701")),
        r.string("cluster.config", "cluster.xml"),
        r.string("cluster.name", "switchboard"),
        r.string("cluster.kubernetes_service_dns", null),
        r.integer("cluster.bus_port", 0, 0, 65535),
        r.integer("cluster.min_nodes", 1, 1, 1000));
    var redis = new SwitchboardConfig.Redis(r.string("redis.url", null));
    var drain = new SwitchboardConfig.Drain(r.duration("drain.period", Duration.ofSeconds(10)));
    var logging = new SwitchboardConfig.Logging(r.decimal("logging.message_sample_rate", 0.01, 0, 1));
    return new SwitchboardConfig(r.string("node.id", null), server, auth, api, session, limits, channels, rpc,
        cluster, redis, drain, logging);
  }
}
