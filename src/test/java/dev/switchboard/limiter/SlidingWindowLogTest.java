package dev.switchboard.limiter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** {@code limits.rate_abuse_limit} (100 refusals in 10 s before 4008) on a simulated clock. */
class SlidingWindowLogTest {

  static final long SECOND = 1_000_000_000L;
  static final long WINDOW = 10 * SECOND;

  @Test
  void moreThanTheLimitInsideAnyWindowIsOverEvenAcrossWhereAFixedWindowWouldReset() {
    SlidingWindowLog log = new SlidingWindowLog(100, WINDOW);
    long t = 42 * SECOND;
    assertFalse(log.recordOver(t), "one refusal, long before the rest");
    for (int i = 0; i < 99; i++) {
      assertFalse(log.recordOver(t + 9_900_000_000L), "100 within 10 s is the limit, not over it");
    }
    // A window counted from the first refusal would start again here, with 100 more to go.
    long afterReset = t + 10 * SECOND + 100_000_000L;
    assertFalse(log.recordOver(afterReset), "the first refusal has left the window: 100 in it again");
    assertTrue(log.recordOver(afterReset), "101 within 0.2 s");
  }

  @Test
  void refusalsSpreadThinnerThanTheLimitNeverAddUp() {
    SlidingWindowLog log = new SlidingWindowLog(100, WINDOW);
    long t = 0;
    // 10 a second, i.e. exactly 100 in any 10 s, for a minute.
    for (int i = 0; i < 600; i++) {
      assertFalse(log.recordOver(t + i * (SECOND / 10)), "refusal " + i);
    }
    assertEquals(100, log.size());
    assertTrue(log.recordOver(t + 599 * (SECOND / 10) + 1), "one more on top is over");
  }

  @Test
  void holdsNoMoreThanTheLimitPlusOne() {
    SlidingWindowLog log = new SlidingWindowLog(3, WINDOW);
    for (int i = 0; i < 1000; i++) {
      log.recordOver(i);
    }
    assertEquals(4, log.size());
    assertTrue(log.recordOver(1000), "still over while the refusals go on");
    assertFalse(log.recordOver(1000 + WINDOW), "the window passed: all forgotten but this one");
    assertEquals(1, log.size());
  }
}
