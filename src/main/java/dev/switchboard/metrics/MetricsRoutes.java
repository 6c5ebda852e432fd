package dev.switchboard.metrics;

import dev.switchboard.cluster.NodeContext;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonObject;
import io.vertx.core.spi.cluster.ClusterManager;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;

/**
 * {@code GET /metrics} (Prometheus text format), {@code GET /health/live} (the process answers),
 * {@code GET /health/ready} (cluster joined, verticles deployed, accepting; 503 otherwise, and during a drain)
 * and {@code /admin} (the dashboard page: 401 and its sign-in form without {@code Authorization: Bearer <api key>},
 * 200 with one; its data comes over /ws after an auth with the key, see {@link AdminAccess}).
 */
public final class MetricsRoutes {

  private MetricsRoutes() {}

  public static void mount(Router router, NodeContext node) {
    router.get("/metrics").handler(ctx -> ctx.response()
        .putHeader(HttpHeaders.CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")
        .end(node.registry().scrape()));
    router.get("/health/live").handler(ctx -> ctx.response()
        .putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
        .putHeader(HttpHeaders.CACHE_CONTROL, "no-store")
        .end(new JsonObject().put("status", "UP").put("node", node.name()).encode()));
    router.get("/health/ready").handler(ctx -> {
      boolean joined = clusterJoined(node);
      boolean ready = joined && node.ready();
      ctx.response().setStatusCode(ready ? 200 : 503)
          .putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
          .putHeader(HttpHeaders.CACHE_CONTROL, "no-store")
          .end(new JsonObject()
              .put("status", ready ? "UP" : "DOWN")
              .put("node", node.name())
              .put("cluster", node.clustered() ? (joined ? "joined" : "left") : "standalone")
              .put("members", node.members().size())
              .put("draining", node.draining())
              .encode());
    });
    // The page is only a shell: everything it shows arrives over /ws after an auth with an API key.
    router.route("/admin").method(HttpMethod.GET).method(HttpMethod.HEAD).handler(ctx -> ctx.reroute("/admin.html"));
    router.get("/admin/").handler(ctx -> ctx.redirect("/admin"));
    router.route("/admin.*").method(HttpMethod.GET).method(HttpMethod.HEAD).handler(ctx -> {
      ctx.response()
          .putHeader("X-Frame-Options", "DENY")
          .putHeader("Referrer-Policy", "no-referrer")
          .putHeader("Content-Security-Policy", "default-src 'self'; connect-src 'self' ws: wss:; "
              + "style-src 'self' 'unsafe-inline'; img-src 'self' data:");
      if (ctx.normalizedPath().endsWith(".html")
          && !AdminAccess.isBearerKey(ctx.request().getHeader(HttpHeaders.AUTHORIZATION), node.config().api().keys())) {
        signInForm(ctx);
      } else {
        ctx.next();
      }
    });
  }

  /**
   * Without a key the page is still its sign-in form, since a browser cannot send a header when it opens a
   * URL, but the status says the dashboard needs a key. Nothing it shows is in the page itself.
   */
  private static void signInForm(RoutingContext ctx) {
    ctx.vertx().fileSystem().readFile("webroot/admin.html").onComplete(ar -> {
      if (ar.failed()) {
        ctx.fail(500, ar.cause());
        return;
      }
      ctx.response().setStatusCode(401)
          .putHeader("WWW-Authenticate", "Bearer realm=\"switchboard admin\"")
          .putHeader(HttpHeaders.CONTENT_TYPE, "text/html; charset=utf-8")
          .putHeader(HttpHeaders.CACHE_CONTROL, "no-store")
          .end(ctx.request().method() == HttpMethod.HEAD ? null : ar.result());
    });
  }

  /** Standalone nodes count as joined; clustered ones while their cluster manager is active. */
  static boolean clusterJoined(NodeContext node) {
    ClusterManager cm = node.clusterManager();
    return cm == null || cm.isActive();
  }
}
