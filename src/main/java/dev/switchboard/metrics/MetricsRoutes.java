package dev.switchboard.metrics;

import dev.switchboard.cluster.NodeContext;
import dev.switchboard.cluster.Quorum;
import dev.switchboard.limiter.RefusalLog;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonObject;
import io.vertx.core.spi.cluster.ClusterManager;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import org.slf4j.LoggerFactory;

/**
 * {@code GET /metrics} (Prometheus text format), {@code GET /health/live} (the process answers),
 * each of the three also for {@code HEAD} (status and headers, no body),
 * {@code GET /health/ready} (cluster joined, verticles deployed, accepting; 503 otherwise, with the reason: during
 * a drain, and while the node sees fewer than {@code cluster.min_nodes} nodes)
 * and {@code /admin} (the dashboard page: its sign-in form for a browser, 401 for any other client without
 * {@code Authorization: Bearer <api key>}; its data comes over /ws after an auth with the key, see
 * {@link AdminAccess}).
 */
public final class MetricsRoutes {

  private MetricsRoutes() {}

  /** Mounts the routes; call on the event loop that serves them (the gateway verticle's). */
  public static void mount(Router router, NodeContext node) {
    RefusalLog keyFailures = new RefusalLog(node.vertx(), LoggerFactory.getLogger(MetricsRoutes.class), "auth_failure");
    // HEAD as well as GET: load balancers and uptime checkers often probe with HEAD, and a 405 there reads as down.
    router.route("/metrics").method(HttpMethod.GET).method(HttpMethod.HEAD).handler(ctx -> ctx.response()
        .putHeader(HttpHeaders.CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")
        .end(node.registry().scrape()));
    router.route("/health/live").method(HttpMethod.GET).method(HttpMethod.HEAD).handler(ctx -> ctx.response()
        .putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
        .putHeader(HttpHeaders.CACHE_CONTROL, "no-store")
        .end(new JsonObject().put("status", "UP").put("node", node.name()).encode()));
    router.route("/health/ready").method(HttpMethod.GET).method(HttpMethod.HEAD).handler(ctx -> {
      boolean joined = clusterJoined(node);
      boolean ready = joined && node.ready();
      Quorum quorum = node.quorum();
      JsonObject answer = new JsonObject()
          .put("status", ready ? "UP" : "DOWN")
          .put("node", node.name())
          .put("cluster", node.clustered() ? (joined ? "joined" : "left") : "standalone")
          .put("members", node.members().size())
          .put("draining", node.draining());
      if (quorum.enabled()) {
        answer.put("nodes", quorum.visibleNodes()).put("min_nodes", quorum.minNodes());
      }
      if (!ready) {
        answer.put("reason", !joined ? "left the cluster" : node.draining() ? "draining"
            : !quorum.held() ? quorum.shortfall() : "starting");
      }
      ctx.response().setStatusCode(ready ? 200 : 503)
          .putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
          .putHeader(HttpHeaders.CACHE_CONTROL, "no-store")
          .end(answer.encode());
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
      if (ctx.normalizedPath().endsWith(".html") && !mayOpenPage(ctx, node)) {
        AdminAccess.logKeyFailure(keyFailures, ctx);
        ctx.response().setStatusCode(401).putHeader("WWW-Authenticate", "Bearer realm=\"switchboard admin\"")
            .putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
            .end(new JsonObject().put("error", "the admin dashboard needs an API key: open it in a browser and "
                + "enter the key, or send Authorization: Bearer <key>").encode());
      } else {
        ctx.next();
      }
    });
  }

  /**
   * A browser opening the page gets its sign-in form: it cannot send a header when it opens a URL, and the
   * form is all the page holds (its data comes over /ws after an auth with the key). Any other client
   * without the key gets a 401, so the page's protection is visible to tools too.
   */
  private static boolean mayOpenPage(RoutingContext ctx, NodeContext node) {
    String accept = ctx.request().getHeader(HttpHeaders.ACCEPT);
    return (accept != null && accept.contains("text/html"))
        || AdminAccess.isBearerKey(ctx.request().getHeader(HttpHeaders.AUTHORIZATION), node.config().api().keys());
  }

  /** Standalone nodes count as joined; clustered ones while their cluster manager is active. */
  static boolean clusterJoined(NodeContext node) {
    ClusterManager cm = node.clusterManager();
    return cm == null || cm.isActive();
  }
}
