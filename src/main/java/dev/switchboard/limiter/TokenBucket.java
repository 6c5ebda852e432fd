package dev.switchboard.limiter;

import java.math.BigDecimal;

/**
 * A token bucket: {@code ratePerSecond} tokens refill continuously up to {@code burst}. Used inline by a
 * session on its own event loop (no locking, no event-bus hop on the hot path).
 */
public final class TokenBucket {

  private final double ratePerNano;
  private final double burst;
  private double tokens;
  private long last;

  public TokenBucket(double ratePerSecond, int burst, long nowNanos) {
    this.ratePerNano = ratePerSecond / 1e9;
    this.burst = burst;
    this.tokens = burst;
    this.last = nowNanos;
  }

  /** Takes one token if there is one. */
  public boolean tryTake(long nowNanos) {
    refill(nowNanos);
    if (tokens >= 1) {
      tokens -= 1;
      return true;
    }
    return false;
  }

  /** Spends every token, e.g. when the other side's bucket turned out to be empty. */
  public void drain(long nowNanos) {
    tokens = 0;
    last = nowNanos;
  }

  /** How long until {@link #tryTake} succeeds, in milliseconds rounded up; 0 when a token is there. */
  public long millisUntilToken(long nowNanos) {
    refill(nowNanos);
    return tokens >= 1 ? 0 : (long) Math.ceil((1 - tokens) / ratePerNano / 1e6);
  }

  /** Whether the bucket holds its whole burst again, i.e. is the same as a new one. */
  public boolean isFull(long nowNanos) {
    refill(nowNanos);
    return tokens >= burst;
  }

  /** A rate as a person writes it, for messages that quote a configured one: 20 rather than 20.0, 0.5 as it is. */
  public static String formatRate(double perSecond) {
    return BigDecimal.valueOf(perSecond).stripTrailingZeros().toPlainString();
  }

  private void refill(long nowNanos) {
    long elapsed = nowNanos - last;
    if (elapsed > 0) {
      tokens = Math.min(burst, tokens + elapsed * ratePerNano);
      last = nowNanos;
    }
  }
}
