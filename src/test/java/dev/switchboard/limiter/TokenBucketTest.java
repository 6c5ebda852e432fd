package dev.switchboard.limiter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The inbound budget of SPEC §6 (20/s, burst 40), on a simulated clock. */
class TokenBucketTest {

  static final long SECOND = 1_000_000_000L;

  @Test
  void burstThenSteadyRate() {
    long t = 5 * SECOND;
    TokenBucket b = new TokenBucket(20, 40, t);
    int taken = 0;
    while (b.tryTake(t)) {
      taken++;
    }
    assertEquals(40, taken, "a full bucket allows the burst");
    assertFalse(b.tryTake(t));
    t += SECOND / 20;
    assertTrue(b.tryTake(t), "one token per 50 ms");
    assertFalse(b.tryTake(t));
    // One second refills 20, never more than the burst.
    t += SECOND;
    int refilled = 0;
    while (b.tryTake(t)) {
      refilled++;
    }
    assertEquals(20, refilled);
    t += 10 * SECOND;
    refilled = 0;
    while (b.tryTake(t)) {
      refilled++;
    }
    assertEquals(40, refilled, "capped at the burst");
  }

  @Test
  void clockGoingBackwardsGivesNothingAway() {
    TokenBucket b = new TokenBucket(20, 1, 10 * SECOND);
    assertTrue(b.tryTake(10 * SECOND));
    assertFalse(b.tryTake(9 * SECOND));
    assertFalse(b.tryTake(10 * SECOND));
  }

  @Test
  void aDrainedBucketSaysWhenItsNextTokenComes() {
    long t = 5 * SECOND;
    TokenBucket b = new TokenBucket(20, 40, t);
    assertEquals(0, b.millisUntilToken(t), "full");
    b.drain(t);
    assertFalse(b.tryTake(t));
    assertEquals(50, b.millisUntilToken(t), "one token per 50 ms");
    assertEquals(25, b.millisUntilToken(t + SECOND / 40));
    assertEquals(0, b.millisUntilToken(t + SECOND / 20 + 1));
    assertTrue(b.tryTake(t + SECOND / 20 + 1));
  }

  /** Messages that quote a configured rate print it as it would be written in the config. */
  @Test
  void ratesPrintWithoutATrailingPointZero() {
    assertEquals("20", TokenBucket.formatRate(20));
    assertEquals("1000000000", TokenBucket.formatRate(1e9));
    assertEquals("0.5", TokenBucket.formatRate(0.5));
    assertEquals("0.001", TokenBucket.formatRate(0.001));
    assertEquals("12345678.5", TokenBucket.formatRate(12345678.5));
  }
}
