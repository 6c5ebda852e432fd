package dev.switchboard.limiter;

import io.vertx.core.Vertx;
import java.util.HashMap;
import java.util.Map;
import org.slf4j.Logger;

/**
 * Logs refusals (connections over a cap, requests with a wrong API key) so that a flood cannot turn into a
 * log flood: the first refusal of a subject (an address, a user) in a one-second window is logged in full,
 * the rest of that window as one summary line. Confined to the event loop of the verticle that owns it; the
 * window's timer is set only once something was refused, so an untroubled node has no timer for it.
 */
public final class RefusalLog {

  static final long WINDOW_MS = 1000;

  private final Vertx vertx;
  private final Logger log;
  private final String event;
  private final Map<String, int[]> refusedInWindow = new HashMap<>();

  /** {@code event} names the lines: {@code event=<event>} and {@code event=<event>_summary}. */
  public RefusalLog(Vertx vertx, Logger log, String event) {
    this.vertx = vertx;
    this.log = log;
    this.event = event;
  }

  /**
   * One refusal. {@code subject} is the key as logged ({@code ip=…}, {@code user=…}); {@code detail} the
   * rest of the full line, starting with a space (fields and a quoted reason, never a secret).
   */
  public void refused(String subject, String detail) {
    if (refusedInWindow.isEmpty()) {
      vertx.setTimer(WINDOW_MS, t -> summarise());
    }
    int[] n = refusedInWindow.computeIfAbsent(subject, k -> new int[1]);
    if (n[0]++ == 0) {
      log.info("event={} {}{}", event, subject, detail);
    }
  }

  private void summarise() {
    refusedInWindow.forEach((subject, n) -> {
      if (n[0] > 1) {
        log.info("event={}_summary {} refused={} period_ms={}", event, subject, n[0], WINDOW_MS);
      }
    });
    refusedInWindow.clear();
  }
}
