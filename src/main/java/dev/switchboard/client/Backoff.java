package dev.switchboard.client;

/**
 * The client's waits before trying again, both exponential up to a cap. Reconnects use full jitter: a crowd of
 * clients that lost the same node spreads over the whole window instead of coming back in waves. A subscribe
 * refused for now uses equal jitter: it waits at least half the step, so it never goes out again at once.
 */
final class Backoff {

  private Backoff() {
  }

  /** Uniformly random in [0, min(cap, base * 2^attempt)). */
  static long fullJitter(int attempt, long baseMs, long capMs, double random) {
    return (long) Math.floor(random * ceiling(attempt, baseMs, capMs));
  }

  /** Uniformly random in [c / 2, c) for c = min(cap, base * 2^attempt), and at least 1 ms. */
  static long equalJitter(int attempt, long baseMs, long capMs, double random) {
    double ceiling = ceiling(attempt, baseMs, capMs);
    return Math.max(1, (long) Math.floor(ceiling / 2 + random * ceiling / 2));
  }

  private static double ceiling(int attempt, long baseMs, long capMs) {
    return Math.min((double) capMs, baseMs * Math.pow(2, Math.min(attempt, 30)));
  }
}
