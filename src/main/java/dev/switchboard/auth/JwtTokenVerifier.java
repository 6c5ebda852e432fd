package dev.switchboard.auth;

import dev.switchboard.config.SwitchboardConfig;
import dev.switchboard.protocol.Channel;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.auth.JWTOptions;
import io.vertx.ext.auth.PubSecKeyOptions;
import io.vertx.ext.auth.User;
import io.vertx.ext.auth.authentication.TokenCredentials;
import io.vertx.ext.auth.jwt.JWTAuth;
import io.vertx.ext.auth.jwt.JWTAuthOptions;
import java.security.KeyFactory;
import java.security.spec.X509EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Verifies JWTs with vertx-auth-jwt: HS256 with a shared secret, RS256 or ES256 with a PEM public key,
 * or the keys of a JWKS document. Signature, {@code exp}, {@code iss} and {@code aud} are checked by the
 * library; tokens signed with {@code alg: none} are refused by it. This class adds the claims rules of
 * SPEC §4: {@code sub} is required and must be usable as a channel name.
 */
public final class JwtTokenVerifier implements TokenVerifier {

  private final JWTAuth jwt;
  private final List<String> segmentClaims;

  public JwtTokenVerifier(Vertx vertx, SwitchboardConfig.Auth auth, List<String> segmentClaims, List<JsonObject> jwks) {
    this.jwt = JWTAuth.create(vertx, options(auth, jwks));
    this.segmentClaims = List.copyOf(segmentClaims);
  }

  static JWTAuthOptions options(SwitchboardConfig.Auth auth, List<JsonObject> jwks) {
    JWTAuthOptions opts = new JWTAuthOptions();
    if (auth.jwtSecret() != null) {
      opts.addPubSecKey(new PubSecKeyOptions().setAlgorithm("HS256").setBuffer(auth.jwtSecret()));
    }
    if (auth.jwtPublicKey() != null) {
      String pem = PemKeys.read(auth.jwtPublicKey());
      opts.addPubSecKey(new PubSecKeyOptions().setAlgorithm(PemKeys.algorithmOf(pem)).setBuffer(pem));
    }
    if (jwks != null) {
      jwks.forEach(opts::addJwk);
    }
    JWTOptions jwtOptions = new JWTOptions();
    if (auth.issuer() != null) {
      jwtOptions.setIssuer(auth.issuer());
    }
    if (auth.audience() != null) {
      jwtOptions.setAudience(List.of(auth.audience()));
    }
    opts.setJWTOptions(jwtOptions);
    return opts;
  }

  @Override
  public Future<Principal> verify(String token) {
    Future<User> user;
    try {
      user = jwt.authenticate(new TokenCredentials(token));
    } catch (RuntimeException e) {
      return Future.failedFuture(reason(e));
    }
    return user.recover(e -> Future.failedFuture(reason(e))).compose(this::toPrincipal);
  }

  private Future<Principal> toPrincipal(User user) {
    JsonObject claims = user.attributes().getJsonObject("accessToken");
    if (claims == null) {
      claims = user.principal();
    }
    Object sub = claims.getValue("sub");
    if (!(sub instanceof String s) || s.isEmpty()) {
      return Future.failedFuture("token has no sub claim");
    }
    if (!Channel.isValidName(s)) {
      return Future.failedFuture("sub claim has characters outside A-Z a-z 0-9 _ . : = @ -");
    }
    Set<String> rooms = new LinkedHashSet<>(stringList(claims.getValue("rooms")));
    List<String> patterns = stringList(claims.getValue("channels"));
    Map<String, String> segments = new LinkedHashMap<>();
    for (String claim : segmentClaims) {
      Object v = claims.getValue(claim);
      if (v instanceof String || v instanceof Number || v instanceof Boolean) {
        String value = String.valueOf(v);
        if (Channel.isValidName(claim + "=" + value)) {
          segments.put(claim, value);
        }
      }
    }
    Long exp = claims.getValue("exp") instanceof Number n ? n.longValue() : null;
    return Future.succeededFuture(new Principal(s, Set.copyOf(rooms), List.copyOf(patterns), Map.copyOf(segments), exp));
  }

  /** rooms/channels claims may be a JSON array or a comma-separated string. */
  private static List<String> stringList(Object v) {
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
    }
    return out;
  }

  private static String reason(Throwable e) {
    String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    String lower = m.toLowerCase();
    if (lower.contains("expired")) {
      return "token expired";
    }
    if (lower.contains("signature")) {
      return "invalid token signature";
    }
    if (lower.contains("algorithm") || lower.contains("alg")) {
      return "token algorithm not accepted";
    }
    if (lower.contains("issuer") || lower.contains("iss")) {
      return "token issuer not accepted";
    }
    if (lower.contains("audience") || lower.contains("aud")) {
      return "token audience not accepted";
    }
    return "invalid token";
  }

  /** PEM helpers: a key may be given inline or as a file path. */
  static final class PemKeys {
    private PemKeys() {}

    static String read(String valueOrPath) {
      if (valueOrPath.contains("-----BEGIN")) {
        return valueOrPath;
      }
      try {
        return java.nio.file.Files.readString(java.nio.file.Path.of(valueOrPath));
      } catch (java.io.IOException e) {
        throw new dev.switchboard.config.ConfigException("auth.jwt_public_key",
            "is neither a PEM key nor a readable file: " + e.getMessage());
      }
    }

    /** RS256 for an RSA key, ES256 for an EC key. */
    static String algorithmOf(String pem) {
      String b64 = pem.replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
      byte[] der = Base64.getDecoder().decode(b64);
      try {
        KeyFactory.getInstance("RSA").generatePublic(new X509EncodedKeySpec(der));
        return "RS256";
      } catch (Exception notRsa) {
        try {
          KeyFactory.getInstance("EC").generatePublic(new X509EncodedKeySpec(der));
          return "ES256";
        } catch (Exception notEc) {
          throw new dev.switchboard.config.ConfigException("auth.jwt_public_key",
              "is not an RSA or EC public key in PEM (-----BEGIN PUBLIC KEY-----)");
        }
      }
    }
  }
}
