package dev.switchboard.limiter;

import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;

/**
 * New connections per address ({@code limits.connect_rate_per_ip}, SPEC §6) as a rate, not a count per calendar
 * second: each address has a {@link TokenBucket} of {@code limit} tokens refilled at {@code limit} per second. A
 * window reset on the second let a burst just before it and another just after through, twice the limit within
 * a fraction of a second; a bucket admits at most {@code limit} at once and {@code limit × (1 + t)} in any
 * {@code t} seconds.
 *
 * <p>Memory stays bounded by the addresses seen lately, as with the window it replaces: a bucket that has
 * refilled is the same as none, and every address not heard from for a second has a full one, so a sweep at most
 * once a second (made by the calls themselves, no timer) drops them. An address is thus held for at most about
 * two seconds after its last connection. Confined to the limiter's event loop.
 */
final class ConnectRate {

  static final long SWEEP_NANOS = 1_000_000_000L;

  private final int limit;
  private final Map<String, TokenBucket> buckets = new HashMap<>();
  private long lastSweep;

  ConnectRate(int limit, long nowNanos) {
    this.limit = limit;
    this.lastSweep = nowNanos;
  }

  /** Counts a new connection from {@code ip}; false when it is over the rate (and then it is not counted). */
  boolean tryAdmit(String ip, long nowNanos) {
    if (nowNanos - lastSweep >= SWEEP_NANOS) {
      lastSweep = nowNanos;
      for (Iterator<TokenBucket> it = buckets.values().iterator(); it.hasNext(); ) {
        if (it.next().isFull(nowNanos)) {
          it.remove();
        }
      }
    }
    TokenBucket bucket = buckets.get(ip);
    if (bucket == null) {
      bucket = new TokenBucket(limit, limit, nowNanos);
      buckets.put(ip, bucket);
    }
    return bucket.tryTake(nowNanos);
  }

  /** Addresses held; for tests of the bound. */
  int addresses() {
    return buckets.size();
  }
}
