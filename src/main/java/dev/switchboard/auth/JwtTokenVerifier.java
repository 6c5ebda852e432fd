package dev.switchboard.auth;

import dev.switchboard.config.SwitchboardConfig;
import dev.switchboard.metrics.LogLineLayout;
import dev.switchboard.protocol.Channel;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.auth.NoSuchKeyIdException;
import io.vertx.ext.auth.User;
import io.vertx.ext.auth.impl.jose.JWT;
import java.security.KeyFactory;
import java.security.spec.X509EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Verifies JWTs with vertx-auth-jwt: HS256 with a shared secret, RS256 or ES256 with a PEM public key,
 * or the keys of a JWKS document. Signature, {@code exp}, {@code iss} and {@code aud} are checked by the
 * library; tokens signed with {@code alg: none} are refused by it. This class adds the claims rules of
 * SPEC §4: {@code sub} is required and must be usable as a channel name.
 *
 * <p>With a JWKS source, a token whose {@code kid} is not among the cached keys makes {@link JwksKeys}
 * re-read the source (rate-limited) and is verified once more against the new key set.
 *
 * <p>With {@code auth.issuers}, the token's {@code iss} picks the {@link IssuerKeys} it is verified with (SPEC §6:
 * keys are cached per issuer and endpoint as well as key id): a listed issuer's own JWKS keys, or the node's own
 * keys for a token without {@code iss} or naming {@code auth.issuer}; any other issuer is refused, named. The
 * {@code iss} is read before the signature is checked only to choose the keys, which then check it too, and the
 * {@code aud}: the issuer's own {@code audience}, else {@code auth.audience}.
 */
public final class JwtTokenVerifier implements TokenVerifier {

  private static final Logger log = LoggerFactory.getLogger(JwtTokenVerifier.class);

  /** The most segment channels one claim gives a session. */
  static final int MAX_SEGMENT_VALUES = 32;

  /**
   * When each claim was last logged as ignored: one line a minute per claim, not one per connect, since one
   * identity provider's odd claim is in every token it issues. Claim names come from config, so few.
   */
  private final Map<String, Long> claimLogged = new java.util.concurrent.ConcurrentHashMap<>();

  private final SwitchboardConfig.Auth auth;
  private final List<String> segmentClaims;
  /** The node's own keys (secret, public key, auth.jwks_url/jwks_file); null when only auth.issuers is set. */
  private final IssuerKeys own;
  /** auth.issuers by iss. */
  private final Map<String, IssuerKeys> trusted;

  /**
   * @param jwks the JWKS keys read at start from auth.jwks_url or auth.jwks_file, or null when neither is set
   */
  public JwtTokenVerifier(Vertx vertx, SwitchboardConfig.Auth auth, List<String> segmentClaims, List<JsonObject> jwks) {
    this(vertx, auth, segmentClaims, jwks, Map.of());
  }

  /**
   * @param jwks the JWKS keys read at start from auth.jwks_url or auth.jwks_file, or null when neither is set
   * @param issuerJwks the keys read at start from each auth.issuers entry's source, by issuer
   */
  public JwtTokenVerifier(Vertx vertx, SwitchboardConfig.Auth auth, List<String> segmentClaims, List<JsonObject> jwks,
      Map<String, List<JsonObject>> issuerJwks) {
    this.auth = auth;
    this.segmentClaims = List.copyOf(segmentClaims);
    JwksKeys ownJwks = auth.jwksUrl() != null || auth.jwksFile() != null
        ? startedJwks(vertx, auth.jwksUrl(), auth.jwksFile(), jwks) : null;
    this.own = auth.jwtSecret() == null && auth.jwtPublicKey() == null && ownJwks == null ? null
        : new IssuerKeys(vertx, auth.jwtSecret(), auth.jwtPublicKey(), auth.issuer(), auth.audience(), ownJwks);
    Map<String, IssuerKeys> byIssuer = new LinkedHashMap<>();
    for (SwitchboardConfig.TrustedIssuer t : auth.issuers()) {
      JwksKeys keys = startedJwks(vertx, t.jwksUrl(), t.jwksFile(), issuerJwks.get(t.issuer()));
      byIssuer.put(t.issuer(), new IssuerKeys(vertx, null, null, t.issuer(), t.audienceOr(auth.audience()), keys));
    }
    this.trusted = Map.copyOf(byIssuer);
  }

  private static JwksKeys startedJwks(Vertx vertx, String url, String file, List<JsonObject> atStart) {
    JwksKeys keys = new JwksKeys(vertx, url, file);
    keys.set(atStart == null ? List.of()
        : JwksKeys.usableKeys(vertx, new JsonObject().put("keys", new JsonArray(new ArrayList<>(atStart)))));
    keys.startPeriodicRefresh();
    return keys;
  }

  /** The JWKS cache of auth.jwks_url or auth.jwks_file, or null without one. */
  public JwksKeys jwks() {
    return own == null ? null : own.jwks();
  }

  @Override
  public Future<Principal> verify(String token) {
    if (token == null || token.isEmpty()) {
      // ?token= with nothing after it: refused as any token that cannot be verified, not taken for no token.
      return Future.failedFuture("token is empty: put a JWT in ?token= or Authorization: Bearer, or leave both out "
          + "and send an auth frame");
    }
    IssuerKeys keys = own;
    if (!trusted.isEmpty()) {
      JsonObject payload = payloadOf(token);
      Object iss = payload == null ? null : payload.getValue("iss");
      keys = iss instanceof String s ? trusted.get(s) : null;
      if (keys == null && (iss == null || iss.equals(auth.issuer()))) {
        keys = own;
      }
      if (keys == null) {
        return Future.failedFuture(payload == null ? "invalid token" : untrusted(iss));
      }
    }
    IssuerKeys by = keys;
    JwksKeys jwks = by.jwks();
    String kid = jwks == null ? null : kidOf(token);
    return by.authenticate(token)
        .recover(e -> {
          if (kid == null || jwks.knows(kid) || reason(e, kid).equals(EXPIRED)) {
            return Future.failedFuture(e);
          }
          // Signed with a key we have not seen: the provider may have rotated its keys since we last looked.
          return jwks.refreshForUnknownKid(kid).compose(changed -> changed ? by.authenticate(token) : Future.failedFuture(e));
        })
        .recover(e -> Future.failedFuture(refusal(e, jwks, kid, token)))
        .compose(this::toPrincipal);
  }

  /** Why a token of an issuer that is not trusted is refused; the iss is the client's text, echoed only when plain. */
  private static String untrusted(Object iss) {
    if (iss == null) {
      return "token has no iss claim, and this node trusts only the issuers it lists";
    }
    // Printable ASCII without " or \, so the echo cannot end or escape the log line's reason="…" field.
    if (iss instanceof String s && s.matches("[\\x21-\\x7e&&[^\"\\\\]]{1,200}")) {
      return "token issuer " + s + " is not trusted";
    }
    return "token issuer is not trusted";
  }

  /** Why the token was refused, in words a client may see. */
  private static String refusal(Throwable e, JwksKeys jwks, String kid, String token) {
    String early = notYetValid(token, e);
    if (early != null) {
      return "token not valid yet (its " + early + " is in the future)";
    }
    String mismatch = algorithmMismatch(e, jwks, kid, token);
    return mismatch != null ? mismatch : reason(e, kid);
  }

  /**
   * vertx-auth-jwt reports a token whose {@code nbf} or {@code iat} is still ahead as "expired" (an issuer whose clock
   * runs ahead of this node's mints such tokens); only a look at the claims (its signature was checked, or the token
   * is refused anyway) tells the client the truth. The claim that is ahead, or null.
   */
  private static String notYetValid(String token, Throwable e) {
    if (e.getMessage() == null || !e.getMessage().toLowerCase(java.util.Locale.ROOT).contains("expired")) {
      return null;
    }
    try {
      JsonObject payload = JWT.parse(token).getJsonObject("payload");
      long now = System.currentTimeMillis() / 1000;
      for (String claim : List.of("nbf", "iat")) {
        if (payload.getValue(claim) instanceof Number n && n.longValue() > now) {
          return claim;
        }
      }
      return null;
    } catch (RuntimeException notAJwt) {
      return null;
    }
  }

  /**
   * vertx-auth-jwt looks a key up by the token's {@code alg} and {@code kid} together, so a token naming a key we
   * hold but another algorithm (an ES256 token with an RSA key's kid, or the HS256-with-the-public-key forgery)
   * fails as an unknown key id. Such a token is refused without a JWKS re-fetch (the kid is known); this says
   * what is wrong with it instead: "token algorithm ES256 does not match key k2 (RS256)". Null otherwise.
   */
  private static String algorithmMismatch(Throwable e, JwksKeys jwks, String kid, String token) {
    if (!(e instanceof NoSuchKeyIdException) || kid == null) {
      return null;
    }
    String keyAlg = jwks.algorithmOf(kid);
    JsonObject header = headerOf(token);
    String alg = header != null && header.getValue("alg") instanceof String a ? a : null;
    if (keyAlg == null || keyAlg.equals(alg)) {
      return null;
    }
    // The alg is the client's own text: echo it only when it looks like a JWS algorithm name.
    String named = alg != null && alg.matches("[A-Za-z0-9]{1,16}") ? " " + alg : "";
    return "token algorithm" + named + " does not match key " + kid + " (" + keyAlg + ")";
  }

  /** The kid of the token's header, or null (also for a header that is not base64url JSON). */
  static String kidOf(String token) {
    JsonObject header = headerOf(token);
    return header != null && header.getValue("kid") instanceof String k ? k : null;
  }

  /** The token's header, or null when it is not base64url JSON. */
  private static JsonObject headerOf(String token) {
    int dot = token == null ? -1 : token.indexOf('.');
    return dot <= 0 ? null : decoded(token.substring(0, dot));
  }

  /** The token's payload, not yet verified; null when it is not base64url JSON. */
  private static JsonObject payloadOf(String token) {
    int first = token == null ? -1 : token.indexOf('.');
    int second = first < 0 ? -1 : token.indexOf('.', first + 1);
    return second < 0 ? null : decoded(token.substring(first + 1, second));
  }

  private static JsonObject decoded(String base64url) {
    try {
      return new JsonObject(new String(Base64.getUrlDecoder().decode(base64url), java.nio.charset.StandardCharsets.UTF_8));
    } catch (RuntimeException e) {
      return null;
    }
  }

  private Future<Principal> toPrincipal(User user) {
    JsonObject claims = user.attributes().getJsonObject("accessToken");
    if (claims == null) {
      claims = user.principal();
    }
    Object sub = claims.getValue("sub");
    if (sub == null || "".equals(sub)) {
      return Future.failedFuture("token has no sub claim");
    }
    if (!(sub instanceof String s)) {
      return Future.failedFuture("sub claim must be a string");
    }
    String problem = Channel.userIdProblem(s);
    if (problem != null) {
      return Future.failedFuture("sub claim " + problem);
    }
    Set<String> rooms = new LinkedHashSet<>(stringList(s, "rooms", claims.getValue("rooms")));
    List<String> patterns = stringList(s, "channels", claims.getValue("channels"));
    Map<String, List<String>> segments = new LinkedHashMap<>();
    for (String claim : segmentClaims) {
      List<String> values = segmentValues(s, claim, claims.getValue(claim));
      if (!values.isEmpty()) {
        segments.put(claim, values);
      }
    }
    Long exp = claims.getValue("exp") instanceof Number n ? n.longValue() : null;
    return Future.succeededFuture(new Principal(s, Set.copyOf(rooms), List.copyOf(patterns), Map.copyOf(segments), exp));
  }

  /**
   * The values of a segment claim: a scalar, or each element of an array (a user in several roles is in each
   * role's segment). Skipped, without refusing the token: null, an object or array, an empty string, and a
   * value that would not make a valid channel name ({@code segment:<claim>=<value>}, at most 255 characters of
   * A-Z a-z 0-9 _ . : = @ -), since the other claims still say who the user is. At most
   * {@link #MAX_SEGMENT_VALUES} per claim: each is a subscription for the session's whole life, outside
   * {@code max_subscriptions}, and an identity provider's {@code groups} or {@code roles} can list hundreds.
   */
  private List<String> segmentValues(String sub, String claim, Object v) {
    Set<String> out = new LinkedHashSet<>();
    if (v instanceof JsonArray a) {
      a.forEach(x -> addSegmentValue(out, claim, x));
    } else {
      addSegmentValue(out, claim, v);
    }
    if (out.size() > MAX_SEGMENT_VALUES) {
      ignoredClaim(sub, claim, claim + " lists " + out.size() + " segment values: only its first " + MAX_SEGMENT_VALUES
          + " make segment channels");
      return List.copyOf(out).subList(0, MAX_SEGMENT_VALUES);
    }
    return List.copyOf(out);
  }

  private void ignoredClaim(String sub, String claim, String reason) {
    long now = System.currentTimeMillis();
    Long last = claimLogged.get(claim);
    if (last != null && now - last < 60_000) {
      return;
    }
    claimLogged.put(claim, now);
    log.warn("event=claim_ignored sub={} claim={} reason={} (logged at most once a minute per claim)", sub, claim,
        LogLineLayout.quote(reason));
  }

  private static void addSegmentValue(Set<String> out, String claim, Object v) {
    if (v instanceof String || v instanceof Number || v instanceof Boolean) {
      String value = String.valueOf(v);
      if (!value.isEmpty() && Channel.parse(Channel.segment(claim, value).toString()).ok()) {
        out.add(value);
      }
    }
  }

  /**
   * rooms/channels claims may be a JSON array or a string: one name ({@code "lobby"}, {@code "*"}) or several
   * comma-separated. Any other type grants nothing and is logged, once per token verified (a connect or a
   * renewal), rather than refusing the token: such a claim may be another system's in a token a shared
   * identity provider issues, and the other claims still say who the user is; the session gets what a token
   * without the claim gets, never more.
   */
  private List<String> stringList(String sub, String claim, Object v) {
    List<String> out = new ArrayList<>();
    if (v instanceof JsonArray a) {
      a.forEach(x -> {
        if (x != null) {
          out.add(String.valueOf(x));
        }
      });
    } else if (v instanceof String s) {
      for (String part : s.split(",")) {
        if (!part.isBlank()) {
          out.add(part.trim());
        }
      }
    } else if (v != null) {
      ignoredClaim(sub, claim, claim + " is a JSON " + (v instanceof Number ? "number" : v instanceof Boolean ? "boolean"
          : "object") + ", not a list of strings or a string: it grants nothing");
    }
    return out;
  }

  private static final String EXPIRED = "token expired";

  /** What a client may be told: never the token, never a stack trace, never key material. */
  private static String reason(Throwable e, String kid) {
    if (e instanceof NoSuchKeyIdException) {
      return kid != null ? "token key id is not known" : "token algorithm not accepted";
    }
    String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    String lower = m.toLowerCase(java.util.Locale.ROOT);
    if (lower.contains("expired")) {
      return EXPIRED;
    }
    if (lower.contains("signature")) {
      return "invalid token signature";
    }
    if (lower.contains("not signed")) {
      return "token is not signed";
    }
    if (lower.contains("algorithm")) {
      return "token algorithm not accepted";
    }
    if (lower.contains("issuer")) {
      return "token issuer not accepted";
    }
    if (lower.contains("audien")) {
      return "token audience not accepted";
    }
    return "invalid token";
  }

  /** PEM helpers: a key may be given inline or as a file path. */
  static final class PemKeys {
    private PemKeys() {}

    static String read(String valueOrPath) {
      if (valueOrPath.contains("-----BEGIN")) {
        // Pasted into an env var or a Kubernetes secret, a PEM often arrives with its line breaks as "\\n".
        return valueOrPath.replace("\\n", "\n");
      }
      try {
        return java.nio.file.Files.readString(java.nio.file.Path.of(valueOrPath));
      } catch (java.io.IOException e) {
        throw new dev.switchboard.config.ConfigException("auth.jwt_public_key",
            "is neither a PEM key nor a readable file: " + e.getMessage());
      }
    }

    /** RS256 for an RSA key; for an EC key the JWS algorithm of its curve: ES256, ES384 or ES512. */
    static String algorithmOf(String pem) {
      byte[] der;
      try {
        der = Base64.getMimeDecoder().decode(pem.replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", ""));
      } catch (IllegalArgumentException e) {
        throw new dev.switchboard.config.ConfigException("auth.jwt_public_key", "is not valid PEM: " + e.getMessage());
      }
      try {
        KeyFactory.getInstance("RSA").generatePublic(new X509EncodedKeySpec(der));
        return "RS256";
      } catch (Exception notRsa) {
        try {
          var ec = (java.security.interfaces.ECPublicKey) KeyFactory.getInstance("EC").generatePublic(new X509EncodedKeySpec(der));
          return switch (ec.getParams().getCurve().getField().getFieldSize()) {
            case 256 -> "ES256";
            case 384 -> "ES384";
            case 521 -> "ES512";
            default -> throw new dev.switchboard.config.ConfigException("auth.jwt_public_key", "is an EC key on a curve "
                + "JWT does not use (" + ec.getParams().getCurve().getField().getFieldSize() + " bits; use P-256, P-384 or P-521)");
          };
        } catch (dev.switchboard.config.ConfigException e) {
          throw e;
        } catch (Exception notEc) {
          throw new dev.switchboard.config.ConfigException("auth.jwt_public_key",
              "is not an RSA or EC public key in PEM (-----BEGIN PUBLIC KEY-----)");
        }
      }
    }
  }
}
