package dev.switchboard.auth;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.auth.JWTOptions;
import io.vertx.ext.auth.PubSecKeyOptions;
import io.vertx.ext.auth.User;
import io.vertx.ext.auth.authentication.TokenCredentials;
import io.vertx.ext.auth.jwt.JWTAuth;
import io.vertx.ext.auth.jwt.JWTAuthOptions;
import java.util.List;

/**
 * The keys that verify one issuer's tokens, and the {@code iss} and {@code aud} those tokens must carry. The node's
 * own set holds {@code auth.jwt_secret}, {@code auth.jwt_public_key} and the JWKS source of {@code auth.jwks_url} or
 * {@code auth.jwks_file}, under {@code auth.issuer}; each entry of {@code auth.issuers} has a set of its own, the
 * keys of its JWKS source under its issuer. A token is tried against one set only, so the same {@code kid} at two
 * issuers names two different keys, and an unknown {@code kid} re-reads that issuer's source alone.
 */
final class IssuerKeys {

  private final Vertx vertx;
  private final String secret;
  /** The PEM text of auth.jwt_public_key, read once; null without one. */
  private final String publicKeyPem;
  private final String publicKeyAlgorithm;
  private final String issuer;
  private final String audience;
  private final JwksKeys jwks;
  private JWTAuth jwt;
  private int builtFrom = -1;

  /**
   * @param issuer the iss required of the tokens, or null for any
   * @param jwks the JWKS cache, already holding the keys read at start, or null without a JWKS source
   */
  IssuerKeys(Vertx vertx, String secret, String publicKey, String issuer, String audience, JwksKeys jwks) {
    this.vertx = vertx;
    this.secret = secret;
    this.publicKeyPem = publicKey == null ? null : JwtTokenVerifier.PemKeys.read(publicKey);
    this.publicKeyAlgorithm = publicKeyPem == null ? null : JwtTokenVerifier.PemKeys.algorithmOf(publicKeyPem);
    this.issuer = issuer;
    this.audience = audience;
    this.jwks = jwks;
    rebuildIfKeysChanged();
  }

  /** The JWKS cache of this issuer, or null without a JWKS source. */
  JwksKeys jwks() {
    return jwks;
  }

  /** Checks the token's signature, {@code exp}, {@code nbf}, {@code iss} and {@code aud} with this set's keys. */
  Future<User> authenticate(String token) {
    rebuildIfKeysChanged();
    try {
      return jwt.authenticate(new TokenCredentials(token));
    } catch (RuntimeException e) {
      return Future.failedFuture(e);
    }
  }

  private void rebuildIfKeysChanged() {
    int version = jwks == null ? 0 : jwks.version();
    if (jwt == null || version != builtFrom) {
      jwt = JWTAuth.create(vertx, options(jwks == null ? null : jwks.keys()));
      builtFrom = version;
    }
  }

  private JWTAuthOptions options(List<JsonObject> jwksKeys) {
    JWTAuthOptions opts = new JWTAuthOptions();
    if (secret != null) {
      opts.addPubSecKey(new PubSecKeyOptions().setAlgorithm("HS256").setBuffer(secret));
    }
    if (publicKeyPem != null) {
      opts.addPubSecKey(new PubSecKeyOptions().setAlgorithm(publicKeyAlgorithm).setBuffer(publicKeyPem));
    }
    if (jwksKeys != null) {
      jwksKeys.forEach(opts::addJwk);
    }
    JWTOptions jwtOptions = new JWTOptions();
    if (issuer != null) {
      jwtOptions.setIssuer(issuer);
    }
    if (audience != null) {
      jwtOptions.setAudience(List.of(audience));
    }
    opts.setJWTOptions(jwtOptions);
    return opts;
  }
}
