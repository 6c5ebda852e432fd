package dev.switchboard.hardening;

import dev.switchboard.bus.Addresses;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.util.BitSet;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Publishes {@code {"seq":n}} to one channel through the node's router ({@code switchboard.publish}) every
 * intervalMs, and remembers which publishes the router accepted: those are the messages every subscriber
 * must receive.
 */
public final class SteadyPublisher {

  private final Vertx vertx;
  private final String channel;
  private final long intervalMs;
  private final BitSet accepted = new BitSet();
  private final AtomicInteger failures = new AtomicInteger();
  private int next;
  private long timer = -1;

  public SteadyPublisher(Vertx nodeVertx, String channel, long intervalMs) {
    this.vertx = nodeVertx;
    this.channel = channel;
    this.intervalMs = intervalMs;
  }

  public SteadyPublisher start() {
    timer = vertx.setPeriodic(intervalMs, t -> publishOne());
    return this;
  }

  private void publishOne() {
    int seq;
    synchronized (this) {
      seq = next++;
    }
    vertx.eventBus().request(Addresses.PUBLISH, new JsonObject().put("channel", channel)
        .put("message", new JsonObject().put("seq", seq))).onComplete(ar -> {
          if (ar.succeeded()) {
            synchronized (this) {
              accepted.set(seq);
            }
          } else {
            failures.incrementAndGet();
          }
        });
  }

  public void stop() {
    if (timer >= 0) {
      vertx.cancelTimer(timer);
      timer = -1;
    }
  }

  public synchronized BitSet accepted() {
    return (BitSet) accepted.clone();
  }

  public synchronized int sent() {
    return next;
  }

  public int failures() {
    return failures.get();
  }

  /**
   * Waits until every receiver has every message accepted so far; returns the receivers' worst count of
   * missing messages at the deadline (0 = all delivered).
   */
  public int awaitDelivered(List<Receiver> receivers, long timeoutMs) {
    BitSet expected = accepted();
    long deadline = System.currentTimeMillis() + timeoutMs;
    while (true) {
      int worst = 0;
      for (Receiver r : receivers) {
        worst = Math.max(worst, r.missingFrom(expected));
      }
      if (worst == 0 || System.currentTimeMillis() > deadline) {
        return worst;
      }
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return worst;
      }
    }
  }
}
