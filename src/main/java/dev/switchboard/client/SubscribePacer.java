package dev.switchboard.client;

import dev.switchboard.limiter.TokenBucket;
import io.vertx.core.Vertx;
import java.util.LinkedHashSet;

/**
 * Sends the client's own (re)subscribes within a token bucket ({@code Options.subscribePace}: burst at once, then
 * a rate), so 60 channels after a reconnect are not answered rate_limited for what the server's bucket cannot
 * take. The app's other requests are not paced. Used on the client's context only.
 */
final class SubscribePacer {

  /** The subscriptions the pacer sends for. */
  interface Target {
    boolean connected();

    /** False when the channel was left while it waited: it is dropped. */
    boolean wanted(ChannelEntry e);

    /** Whether sending it puts a frame on the wire, which costs a token. */
    boolean needsFrame(ChannelEntry e);

    void send(ChannelEntry e);
  }

  private final Vertx vertx;
  private final Target target;
  private final LinkedHashSet<ChannelEntry> queue = new LinkedHashSet<>();
  private TokenBucket bucket;
  private long timer = -1;

  SubscribePacer(Vertx vertx, Target target, int burst, double perSecond) {
    this.vertx = vertx;
    this.target = target;
    restart(burst, perSecond);
  }

  /** A new session: the server's budget for it starts full, and ours is the smaller share of it. */
  void restart(int burst, double perSecond) {
    this.bucket = new TokenBucket(perSecond, burst, System.nanoTime());
  }

  /** Queues the entry, keeping its place if it is queued already. */
  void add(ChannelEntry e) {
    queue.add(e);
  }

  /** The server's bucket is empty (the app's own frames count too): let ours wait for it to refill. */
  void drain() {
    bucket.drain(System.nanoTime());
  }

  /** Forgets what was queued on the session that ended. */
  void clear() {
    cancelTimer();
    queue.clear();
  }

  /** Sends what the bucket allows, in order, and arms a timer for the rest. */
  void pump() {
    if (!target.connected()) {
      return;
    }
    long now = System.nanoTime();
    while (!queue.isEmpty()) {
      ChannelEntry e = queue.iterator().next();
      boolean wanted = target.wanted(e);
      boolean needsFrame = wanted && target.needsFrame(e);
      if (needsFrame && !bucket.tryTake(now)) {
        break;
      }
      queue.remove(e);
      if (!wanted) {
        continue; // left while it waited
      }
      target.send(e);
      if (!target.connected()) {
        return; // an onSubscribed handler closed the client
      }
    }
    if (!queue.isEmpty() && timer < 0) {
      long wait = Math.max(1, bucket.millisUntilToken(now));
      timer = vertx.setTimer(wait, t -> {
        timer = -1;
        pump();
      });
    }
  }

  private void cancelTimer() {
    if (timer >= 0) {
      vertx.cancelTimer(timer);
    }
    timer = -1;
  }
}
