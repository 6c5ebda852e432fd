package dev.switchboard.metrics;

import dev.switchboard.auth.Principal;
import dev.switchboard.limiter.RefusalLog;
import dev.switchboard.protocol.Channel;
import dev.switchboard.protocol.Frame;
import io.vertx.ext.web.RoutingContext;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Who may read the system channels ({@code $sys:…}, e.g. the {@code $sys:stats} dashboard feed): a session
 * that authenticated with one of the configured API keys ({@code api.keys}, the same keys as the HTTP API)
 * by sending {@code {"type":"auth","api_key":"<key>"}} instead of a token.
 *
 * <p>Why an API key on the WebSocket rather than a minted admin JWT: the gateway only verifies tokens; with
 * RS256 or JWKS it holds no signing key and could not mint one. Why a distinct principal instance rather
 * than a claim: no token, whoever signed it, can make a session an admin session; only the key can.
 * An admin session reads system channels and does nothing else (no publish, send, presence or RPC).
 */
public final class AdminAccess {

  /** The user id an admin session reports in {@code auth_success} and in logs. */
  public static final String ADMIN_USER = "$admin";

  private static final Principal ADMIN = new Principal(ADMIN_USER, Set.of(), List.of(Channel.SYSTEM + ":*"),
      Map.of(), null);

  private AdminAccess() {}

  /** The admin principal when the key is one of the configured keys, else null. */
  public static Principal verify(String apiKey, List<String> keys) {
    return isKey(apiKey, keys) ? ADMIN : null;
  }

  /**
   * Whether the key is one of the configured keys. Compared in constant time, every key checked, so response
   * timing does not reveal how much of a key an attacker guessed right.
   */
  public static boolean isKey(String apiKey, List<String> keys) {
    if (apiKey == null || apiKey.isEmpty() || keys == null) {
      return false;
    }
    byte[] given = apiKey.getBytes(StandardCharsets.UTF_8);
    boolean ok = false;
    for (String k : keys) {
      ok |= MessageDigest.isEqual(given, k.getBytes(StandardCharsets.UTF_8));
    }
    return ok;
  }

  /** Whether an HTTP {@code Authorization} header is {@code Bearer <one of the keys>}. */
  public static boolean isBearerKey(String authorization, List<String> keys) {
    return authorization != null && authorization.regionMatches(true, 0, "Bearer ", 0, 7)
        && isKey(authorization.substring(7).trim(), keys);
  }

  /** Why an HTTP {@code Authorization} header is not a key, for the log: never the header itself. */
  public static String whyNotBearerKey(String authorization) {
    if (authorization == null || authorization.isBlank()) {
      return "missing api key";
    }
    return authorization.regionMatches(true, 0, "Bearer ", 0, 7) ? "invalid api key" : "not a Bearer authorization";
  }

  /**
   * Logs a request refused for its key: who sent it and where, summarised per address so that guessing
   * keys leaves a trace without flooding the log.
   */
  public static void logKeyFailure(RefusalLog log, RoutingContext ctx) {
    var remote = ctx.request().remoteAddress();
    log.refused("ip=" + (remote == null ? "unknown" : remote.hostAddress()), " route="
        + LogLineLayout.quote(ctx.request().method() + " " + ctx.normalizedPath())
        + " reason=\"" + whyNotBearerKey(ctx.request().getHeader("Authorization")) + "\"");
  }

  /** True only for the principal {@link #verify} hands out; a token can never produce it. */
  public static boolean isAdmin(Principal p) {
    return p == ADMIN;
  }

  /** What an admin session may send once authenticated: (re-)auth, subscribe, unsubscribe, ping. */
  public static boolean allows(Frame f) {
    return f instanceof Frame.AdminAuth || f instanceof Frame.Subscribe || f instanceof Frame.Unsubscribe
        || f instanceof Frame.Ping;
  }
}
