package dev.switchboard.gateway;

import dev.switchboard.auth.TokenIssuer;
import dev.switchboard.config.SwitchboardConfig;
import dev.switchboard.protocol.Channel;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code GET /demo/token?user=alice}: a token for anyone who asks, so the demo page at {@code /} works
 * without a login system. Mounted only when {@code api.demo_tokens} (SWITCHBOARD_DEMO_TOKENS) is true and
 * tokens are HS256 with {@code auth.jwt_secret}; it hands out identities, so it is off by default, and the page
 * then asks for a pasted token.
 */
public final class DemoRoutes {

  private static final Logger log = LoggerFactory.getLogger(DemoRoutes.class);
  static final Duration TTL = Duration.ofHours(1);

  private DemoRoutes() {}

  /**
   * Mounts the token route when config allows it, and always {@code GET /demo/config}
   * ({@code {"demo_tokens":true|false}}), so the page knows whether to ask for a token or for a pasted one
   * without a request that fails (a browser logs every 404 as a console error). Returns whether tokens are on.
   */
  public static boolean mount(Router router, Vertx vertx, SwitchboardConfig config) {
    boolean on = config.api().demoTokens();
    if (on && config.auth().jwtSecret() == null) {
      log.warn("event=demo_tokens_off reason=\"api.demo_tokens needs auth.jwt_secret (HS256) to sign tokens\"");
      on = false;
    }
    JsonObject demoConfig = new JsonObject().put("demo_tokens", on);
    router.get("/demo/config").handler(ctx -> json(ctx, 200, demoConfig));
    if (on) {
      TokenIssuer issuer = new TokenIssuer(vertx, config.auth().jwtSecret());
      router.get("/demo/token").handler(ctx -> token(ctx, issuer));
    }
    return on;
  }

  private static void token(RoutingContext ctx, TokenIssuer issuer) {
    String user = ctx.request().getParam("user");
    if (user == null || user.isBlank()) {
      json(ctx, 400, new JsonObject().put("error", "give ?user=<name>"));
      return;
    }
    user = user.trim();
    // The user id becomes a channel name (user:<id>), so it must be a valid one.
    Channel.Result r = Channel.parse(Channel.USER + ":" + user);
    if (!r.ok() || user.length() > 64 || user.indexOf(':') >= 0) {
      json(ctx, 400, new JsonObject().put("error", "user must be 1-64 characters of A-Z a-z 0-9 _ . = @ -"));
      return;
    }
    String token = issuer.issue(user, List.of("*"), List.of(), Map.of(), TTL);
    ctx.response().putHeader("Cache-Control", "no-store");
    json(ctx, 200, new JsonObject().put("user", user).put("token", token).put("expires_in", TTL.toSeconds()));
  }

  private static void json(RoutingContext ctx, int status, JsonObject body) {
    ctx.response().setStatusCode(status).putHeader("Content-Type", "application/json").end(body.encode());
  }
}
