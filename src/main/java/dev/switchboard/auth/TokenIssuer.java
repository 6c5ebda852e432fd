package dev.switchboard.auth;

import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.auth.JWTOptions;
import io.vertx.ext.auth.PubSecKeyOptions;
import io.vertx.ext.auth.jwt.JWTAuth;
import io.vertx.ext.auth.jwt.JWTAuthOptions;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/** Mints HS256 tokens with the configured secret: for {@code switchboard token}, tests and trying it out. */
public final class TokenIssuer {

  private final JWTAuth jwt;

  public TokenIssuer(Vertx vertx, String secret) {
    this.jwt = JWTAuth.create(vertx, new JWTAuthOptions()
        .addPubSecKey(new PubSecKeyOptions().setAlgorithm("HS256").setBuffer(secret)));
  }

  /**
   * @param ttl null for a token without {@code exp}
   * @param claims extra claims (segments such as dept=sales)
   */
  public String issue(String sub, List<String> rooms, List<String> channels, Map<String, String> claims, Duration ttl) {
    JsonObject c = new JsonObject().put("sub", sub);
    if (rooms != null && !rooms.isEmpty()) {
      c.put("rooms", new JsonArray(rooms));
    }
    if (channels != null && !channels.isEmpty()) {
      c.put("channels", new JsonArray(channels));
    }
    if (claims != null) {
      claims.forEach(c::put);
    }
    JWTOptions o = new JWTOptions().setAlgorithm("HS256");
    if (ttl != null) {
      o.setExpiresInSeconds((int) Math.max(1, ttl.toSeconds()));
    }
    return jwt.generateToken(c, o);
  }

  /** Issues with claims exactly as given (tests: past exp, missing sub). */
  public String issueRaw(JsonObject claims) {
    return jwt.generateToken(claims, new JWTOptions().setAlgorithm("HS256").setNoTimestamp(true));
  }
}
