package dev.switchboard.metrics;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.turbo.TurboFilter;
import ch.qos.logback.core.spi.FilterReply;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Marker;

/**
 * Drops one WARN that Vert.x 5 causes each time the gateway cuts a slow consumer (4009) that never took its
 * close frame. That frame still waits in the WebSocket connection's write queue when the socket is cut; the
 * queue fails it only after the connection has run its close handling, so the frame's listener schedules
 * Vert.x's closing timeout on a connection already closed. Ten seconds later the timeout closes it again with
 * a promise that is already complete, and Netty logs {@code WARN DefaultPromise … promise already done} with a
 * stack trace. Nothing is left open (the socket, its descriptor and the session are gone by then), so the line
 * would only send operators after a bug that is not theirs.
 *
 * <p>Matched narrowly: that exception, thrown from Vert.x's close write, reached from the WebSocket closing
 * timeout. Any other failure of a promise listener is still logged.
 */
public final class VertxCloseRaceFilter extends TurboFilter {

  private static final AtomicLong SUPPRESSED = new AtomicLong();

  @Override
  public FilterReply decide(Marker marker, Logger logger, Level level, String format, Object[] params,
      Throwable t) {
    if (t instanceof IllegalArgumentException && isCloseRace(t)) {
      SUPPRESSED.incrementAndGet();
      return FilterReply.DENY;
    }
    return FilterReply.NEUTRAL;
  }

  /** How many such lines were dropped in this JVM (for tests). */
  public static long suppressed() {
    return SUPPRESSED.get();
  }

  static boolean isCloseRace(Throwable t) {
    String m = t.getMessage();
    if (m == null || !m.startsWith("promise already done")) {
      return false;
    }
    boolean closeWrite = false;
    boolean closingTimeout = false;
    for (StackTraceElement e : t.getStackTrace()) {
      if ("io.vertx.core.net.impl.VertxConnection".equals(e.getClassName())
          && e.getMethodName().startsWith("lambda$writeClose")) {
        closeWrite = true;
      } else if ("io.vertx.core.http.impl.WebSocketConnectionImpl".equals(e.getClassName())
          && "finishClose".equals(e.getMethodName())) {
        closingTimeout = true;
      }
    }
    return closeWrite && closingTimeout;
  }
}
