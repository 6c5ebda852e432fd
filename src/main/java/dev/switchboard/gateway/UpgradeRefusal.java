package dev.switchboard.gateway;

import io.vertx.core.Future;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.ServerWebSocketHandshake;
import io.vertx.core.http.impl.ServerWebSocketHandshaker;
import java.lang.reflect.Field;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Refuses a WebSocket upgrade with an HTTP status, says {@code Connection: close} (and, for a 503,
 * {@code Retry-After}), and closes the connection once the answer is written. Vert.x 5.0's {@code ServerWebSocketHandshake.reject} answers as if the connection were
 * kept alive (it marks an upgrade's connection keep-alive when the handshake starts) and leaves it open, though
 * no client sends another request on a connection whose upgrade was refused. Over TLS the open connection kept
 * clients waiting: Python's {@code websockets} closes its side and waits for the server's close_notify, which
 * never came, so it reported its open timeout instead of the 403.
 *
 * <p>{@code ServerWebSocketHandshake} does not expose the request whose response it writes, so this reads Vert.x's
 * private {@code ServerWebSocketHandshaker.request} field once per refusal: internal API, checked against the
 * pinned Vert.x version by {@code TlsAndOriginTest} and {@code UpgradeRefusalTest}. Accepted upgrades never come
 * here and pay nothing. Should the field be gone, refusals fall back to the plain reject (with a warning at the
 * first one).
 */
final class UpgradeRefusal {

  private static final Logger log = LoggerFactory.getLogger(UpgradeRefusal.class);
  /**
   * Seconds a client is asked to wait after a 503 (node full, draining, or without quorum). Short: the refusal is
   * about this node only. A retry a second later through the load balancer reaches another node (this one's
   * /health/ready is already 503 when draining or without quorum), and a full node frees a slot at every close;
   * clients add their own backoff and jitter on top.
   */
  static final int RETRY_AFTER_SECONDS = 1;
  private static final Field REQUEST = requestField();

  private UpgradeRefusal() {}

  /**
   * Must run on the connection's event loop (the handshake handler's context). A client that went away while
   * admission was decided makes Vert.x throw instead of failing the future; that is logged at debug and the
   * connection, if still open, closed.
   */
  static void refuse(ServerWebSocketHandshake hs, int status) {
    HttpServerRequest request = requestOf(hs);
    Future<Void> written;
    try {
      if (request != null) {
        request.response().putHeader(HttpHeaders.CONNECTION, HttpHeaders.CLOSE);
        if (status == 503) {
          request.response().putHeader(HttpHeaders.RETRY_AFTER, Integer.toString(RETRY_AFTER_SECONDS));
        }
      }
      written = hs.reject(status);
    } catch (RuntimeException e) {
      log.debug("event=reject_failed status={} reason=\"{}\"", status, e.getMessage());
      written = Future.failedFuture(e);
    }
    if (request != null) {
      // Only once the answer is written: a close before would drop it (over TLS, also the close_notify after it).
      written.onComplete(ar -> request.connection().close());
    }
  }

  private static HttpServerRequest requestOf(ServerWebSocketHandshake hs) {
    if (REQUEST == null || !(hs instanceof ServerWebSocketHandshaker)) {
      return null;
    }
    try {
      return (HttpServerRequest) REQUEST.get(hs);
    } catch (IllegalAccessException | ClassCastException e) {
      return null;
    }
  }

  private static Field requestField() {
    try {
      Field f = ServerWebSocketHandshaker.class.getDeclaredField("request");
      f.setAccessible(true);
      if (!HttpServerRequest.class.isAssignableFrom(f.getType())) {
        throw new NoSuchFieldException("request is a " + f.getType().getName());
      }
      return f;
    } catch (NoSuchFieldException | RuntimeException e) {
      log.warn("event=upgrade_refusal_fallback reason=\"this Vert.x has no ServerWebSocketHandshaker.request ({}): "
          + "refused upgrades leave their connection open until the HTTP idle timeout\"", e.getMessage());
      return null;
    }
  }
}
