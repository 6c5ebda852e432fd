package dev.switchboard.auth;

import dev.switchboard.limiter.TokenBucket;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.auth.jwt.JWTAuth;
import io.vertx.ext.auth.jwt.JWTAuthOptions;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The keys of one JWKS endpoint ({@code auth.jwks_url}, or an {@code auth.issuers} entry's {@code jwks_url}) or
 * file ({@code jwks_file}), cached by key id. Each source has its own cache, refresh and refetch budget: one issuer's
 * unknown key ids never cost another issuer's endpoint a request ({@link IssuerKeys}).
 *
 * <p>Keys rotate: a token signed with a key id this cache does not know triggers a re-fetch, and the cache
 * is refreshed every {@link #PERIODIC_REFRESH_MS} anyway so removed keys stop validating. Re-fetches on
 * unknown key ids are single-flight and rate-limited (a burst of {@link #REFRESH_BURST}, then one per
 * {@link #REFRESH_EVERY_S} s), so a flood of tokens with made-up key ids costs the identity provider at most
 * a few requests. A failed fetch keeps the keys already known.
 */
public final class JwksKeys {

  private static final Logger log = LoggerFactory.getLogger(JwksKeys.class);
  static final int REFRESH_BURST = 2;
  static final long REFRESH_EVERY_S = 10;
  static final long PERIODIC_REFRESH_MS = 10 * 60_000;
  private static final long FETCH_TIMEOUT_MS = 5_000;

  private final Vertx vertx;
  private final String url;
  private final String file;
  private final TokenBucket refreshBudget;
  private HttpClient http;
  /** kid (or a positional label for keys without one) → JWK; replaced as a whole on each fetch. */
  private volatile Map<String, JsonObject> byKid = Map.of();
  /** Bumped whenever the key set changes, so the verifier rebuilds its JWTAuth only then. */
  private volatile int version;
  private Future<Boolean> inFlight;
  private final AtomicLong fetches = new AtomicLong();

  public JwksKeys(Vertx vertx, String url, String file) {
    this.vertx = vertx;
    this.url = url;
    this.file = file;
    this.refreshBudget = new TokenBucket(1.0 / REFRESH_EVERY_S, REFRESH_BURST, System.nanoTime());
  }

  /** The endpoint or file, for log lines and error messages. */
  public String source() {
    return url != null ? url : file;
  }

  public List<JsonObject> keys() {
    return List.copyOf(byKid.values());
  }

  public boolean knows(String kid) {
    return kid != null && byKid.containsKey(kid);
  }

  /**
   * The JWS algorithm the cached key {@code kid} verifies: its {@code alg}, or without one what its type implies
   * (RS256 for RSA, ES256/ES384/ES512 by the EC curve, HS256 for a symmetric key); null for a kid not cached.
   */
  public String algorithmOf(String kid) {
    JsonObject k = kid == null ? null : byKid.get(kid);
    if (k == null) {
      return null;
    }
    if (k.getValue("alg") instanceof String alg) {
      return alg;
    }
    return switch (String.valueOf(k.getValue("kty"))) {
      case "RSA" -> "RS256";
      case "oct" -> "HS256";
      case "EC" -> switch (String.valueOf(k.getValue("crv"))) {
        case "P-384" -> "ES384";
        case "P-521" -> "ES512";
        default -> "ES256";
      };
      default -> null;
    };
  }

  /** How many times the source was read (tests: proves refreshes are rate-limited). */
  public long fetches() {
    return fetches.get();
  }

  public int version() {
    return version;
  }

  /** Replaces the cache with the given keys (the ones read at start). */
  public void set(List<JsonObject> keys) {
    byKid = index(keys);
    version++;
  }

  /** Starts the periodic refresh. */
  public void startPeriodicRefresh() {
    vertx.setPeriodic(PERIODIC_REFRESH_MS, PERIODIC_REFRESH_MS, t -> refreshNow());
  }

  /**
   * Re-reads the source because a token named key id {@code kid} this cache does not know; completes with
   * true when the key set changed. Concurrent callers share one fetch; over the rate budget nothing is
   * fetched and the answer is false.
   */
  public Future<Boolean> refreshForUnknownKid(String kid) {
    if (inFlight != null) {
      return inFlight;
    }
    if (!refreshBudget.tryTake(System.nanoTime())) {
      log.debug("event=jwks_refresh_skipped source={} kid={} reason=rate_limited", source(), kid);
      return Future.succeededFuture(false);
    }
    return refreshNow();
  }

  private Future<Boolean> refreshNow() {
    if (inFlight != null) {
      return inFlight;
    }
    Future<Boolean> f = fetch().map(keys -> {
      Map<String, JsonObject> next = index(keys);
      boolean changed = !next.equals(byKid);
      if (changed) {
        byKid = next;
        version++;
        log.info("event=jwks_refreshed source={} keys={}", source(), next.keySet());
      }
      return changed;
    }).otherwise(e -> {
      log.warn("event=jwks_refresh_failed source={} reason=\"{}\"", source(), e.getMessage());
      return false;
    });
    inFlight = f;
    f.onComplete(ar -> inFlight = null);
    return f;
  }

  /** Closes the HTTP client of a cache that is no longer used (the one-off read at start). */
  public Future<Void> close() {
    return http == null ? Future.succeededFuture() : http.close();
  }

  /**
   * Reads the JWKS document and returns its usable keys; from a URL, within {@link #FETCH_TIMEOUT_MS} to connect
   * and again for an answer, and only a 200 counts.
   */
  public Future<List<JsonObject>> fetch() {
    fetches.incrementAndGet();
    Future<JsonObject> doc;
    if (file != null) {
      doc = vertx.fileSystem().readFile(file).map(b -> new JsonObject(b));
    } else {
      if (http == null) {
        http = vertx.createHttpClient(new HttpClientOptions().setConnectTimeout((int) FETCH_TIMEOUT_MS));
      }
      doc = http.request(new RequestOptions().setMethod(HttpMethod.GET).setAbsoluteURI(url)
              .setTimeout(FETCH_TIMEOUT_MS))
          .compose(req -> req.send())
          .compose(resp -> {
            if (resp.statusCode() != 200) {
              return Future.failedFuture("HTTP " + resp.statusCode() + " from " + url);
            }
            return resp.body().map(b -> b.toJsonObject());
          });
    }
    return doc.map(d -> usableKeys(vertx, d));
  }

  /**
   * The keys of a JWKS document that vertx-auth-jwt can verify with; a key it cannot use (an encryption
   * key, an unsupported type) is skipped with a log line rather than failing the whole set.
   */
  static List<JsonObject> usableKeys(Vertx vertx, JsonObject jwks) {
    JsonArray keys = jwks.getJsonArray("keys");
    if (keys == null) {
      throw new IllegalArgumentException("JWKS document has no \"keys\" array");
    }
    List<JsonObject> out = new ArrayList<>();
    for (Object o : keys) {
      if (!(o instanceof JsonObject k)) {
        continue;
      }
      if ("enc".equals(k.getString("use"))) {
        continue;
      }
      try {
        JWTAuth.create(vertx, new JWTAuthOptions().addJwk(k));
        out.add(k);
      } catch (RuntimeException e) {
        log.warn("event=jwks_key_skipped kid={} kty={} reason=\"{}\"", k.getString("kid"), k.getString("kty"),
            e.getMessage());
      }
    }
    return out;
  }

  private static Map<String, JsonObject> index(List<JsonObject> keys) {
    Map<String, JsonObject> m = new LinkedHashMap<>();
    int i = 0;
    for (JsonObject k : keys) {
      String kid = k.getString("kid");
      m.put(kid != null ? kid : "#" + i, k);
      i++;
    }
    return Map.copyOf(m);
  }
}
