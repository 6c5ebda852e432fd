package dev.switchboard.metrics;

import dev.switchboard.cluster.NodeContext;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;

/**
 * {@code GET /metrics} (Prometheus text format), {@code GET /health/live} (the process answers) and
 * {@code GET /health/ready} (cluster joined, verticles deployed, not draining; 503 otherwise).
 */
public final class MetricsRoutes {

  private MetricsRoutes() {}

  public static void mount(Router router, NodeContext node) {
    router.get("/metrics").handler(ctx -> ctx.response()
        .putHeader(HttpHeaders.CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")
        .end(node.registry().scrape()));
    router.get("/health/live").handler(ctx -> ctx.response()
        .putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
        .end(new JsonObject().put("status", "UP").encode()));
    router.get("/health/ready").handler(ctx -> {
      boolean ready = node.ready();
      ctx.response().setStatusCode(ready ? 200 : 503)
          .putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
          .end(new JsonObject().put("status", ready ? "UP" : "DOWN").put("draining", node.draining())
              .put("node", node.name()).encode());
    });
  }
}
