package dev.switchboard.cli;

import dev.switchboard.auth.TokenIssuer;
import dev.switchboard.config.ConfigException;
import dev.switchboard.protocol.Channel;
import dev.switchboard.config.ConfigLoader;
import dev.switchboard.config.SwitchboardConfig;
import io.vertx.core.Vertx;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Prints an HS256 JWT signed with the configured secret (SWITCHBOARD_JWT_SECRET or auth.jwt_secret). */
@Command(name = "token", mixinStandardHelpOptions = true, description = "Print a JWT signed with the configured HS256 secret.")
public final class TokenCommand implements Callable<Integer> {

  /** Claims the command sets from its own options; --claim would silently fight them. */
  private static final Set<String> RESERVED = Set.of("sub", "exp", "iat", "nbf", "rooms", "channels");

  @Option(names = "--sub", required = true, description = "User id (sub claim).")
  String sub;

  @Option(names = "--rooms", split = ",", description = "Rooms the user may join (rooms claim); * = all.")
  List<String> rooms = new ArrayList<>();

  @Option(names = "--channels", split = ",", description = "Extra channel patterns (channels claim).")
  List<String> channels = new ArrayList<>();

  @Option(names = "--claim", description = "Extra claim name=value (repeatable), e.g. dept=sales.")
  List<String> claims = new ArrayList<>();

  @Option(names = "--ttl", defaultValue = "1h", description = "Lifetime: 30s, 15m, 1h, 7d, or 'none'. Default 1h.")
  String ttl;

  @Option(names = "--secret", description = "HS256 secret (default: the configured one).")
  String secret;

  @Option(names = "--conf", description = "Config file to read the secret from.")
  String conf;

  @Override
  public Integer call() {
    String problem = Channel.userIdProblem(sub);
    if (problem != null) {
      System.err.println("switchboard token: --sub " + problem + "; a node refuses such a token");
      return 2;
    }
    String key = secret;
    SwitchboardConfig config;
    try {
      config = ConfigLoader.load(conf, System.getenv(), Map.of());
    } catch (ConfigException e) {
      System.err.println("switchboard token: config error: " + e.getMessage());
      return 2;
    }
    if (key == null) {
      key = config.auth().jwtSecret();
      if (key == null) {
        System.err.println("switchboard token: no HS256 secret configured; pass --secret or set SWITCHBOARD_JWT_SECRET");
        return 2;
      }
    }
    Duration life = null;
    if (!"none".equalsIgnoreCase(ttl)) {
      life = Durations.parse(ttl);
      if (life == null || life.isZero() || life.isNegative()) {
        System.err.println("switchboard token: --ttl must look like 30s, 15m, 1h, 7d or none, was '" + ttl + "'");
        return 2;
      }
    }
    Map<String, String> extra = new LinkedHashMap<>();
    for (String c : claims) {
      int eq = c.indexOf('=');
      if (eq <= 0) {
        System.err.println("switchboard token: --claim must be name=value, was '" + c + "'");
        return 2;
      }
      String name = c.substring(0, eq);
      if (RESERVED.contains(name)) {
        System.err.println("switchboard token: --claim cannot set " + name + "; use --sub, --rooms, --channels or --ttl");
        return 2;
      }
      extra.put(name, c.substring(eq + 1));
    }
    // A node with auth.issuer / auth.audience refuses tokens without them: put them in, unless given.
    if (config.auth().issuer() != null) {
      extra.putIfAbsent("iss", config.auth().issuer());
    }
    if (config.auth().audience() != null) {
      extra.putIfAbsent("aud", config.auth().audience());
    }
    Vertx vertx = Vertx.vertx();
    try {
      System.out.println(new TokenIssuer(vertx, key).issue(sub, rooms, channels, extra, life));
    } finally {
      vertx.close();
    }
    return 0;
  }
}
