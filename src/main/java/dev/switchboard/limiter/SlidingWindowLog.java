package dev.switchboard.limiter;

/**
 * Counts events in the last {@code window}, exactly: it keeps the time of each event still inside it. Used by a
 * session for {@code limits.rate_abuse_limit} ("more than N refusals in 10 s"), where a window reset at fixed
 * moments let a client spread almost twice N refusals across a reset without being closed. Confined to its
 * owner's event loop, like {@link TokenBucket}.
 *
 * <p>It holds at most {@code limit + 1} times, and only as many as there were events in the last window: the
 * array starts small and grows as needed, so a session refused now and then pays a few bytes, and one with a huge
 * limit pays 8 bytes per refusal it was answered (each answer is an error frame, larger than its entry here).
 */
public final class SlidingWindowLog {

  private final int limit;
  private final long windowNanos;
  /** A ring of event times, oldest at {@code head}. */
  private long[] times = new long[4];
  private int head;
  private int size;

  public SlidingWindowLog(int limit, long windowNanos) {
    this.limit = limit;
    this.windowNanos = windowNanos;
  }

  /** Records one event at {@code nowNanos}; true when that makes more than {@code limit} inside the window. */
  public boolean recordOver(long nowNanos) {
    while (size > 0 && nowNanos - times[head] >= windowNanos) {
      head = (head + 1) % times.length;
      size--;
    }
    if (size > limit) {
      // Already over and still counting (its owner did not stop): forget the oldest, to stay at limit + 1.
      head = (head + 1) % times.length;
      size--;
    }
    if (size == times.length) {
      grow();
    }
    times[(head + size) % times.length] = nowNanos;
    size++;
    return size > limit;
  }

  /** Events inside the window as of the last {@link #recordOver}. */
  int size() {
    return size;
  }

  private void grow() {
    long[] bigger = new long[(int) Math.min((long) limit + 1, 2L * times.length)];
    for (int i = 0; i < size; i++) {
      bigger[i] = times[(head + i) % times.length];
    }
    times = bigger;
    head = 0;
  }
}
