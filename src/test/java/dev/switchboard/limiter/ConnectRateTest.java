package dev.switchboard.limiter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * {@code limits.connect_rate_per_ip} (SPEC §6: 50 new connections per IP per second) on a simulated clock. The
 * sweep that found the calendar-second window: 50 connections at x.90 s and 50 more at (x+1).02 s were all
 * admitted, 100 within 0.12 s.
 */
class ConnectRateTest {

  static final long SECOND = 1_000_000_000L;
  static final long MILLI = 1_000_000L;
  static final int LIMIT = 50;

  @Test
  void aBurstStraddlingASecondBoundaryGetsTheLimitNotTwice() {
    long start = 7 * SECOND;
    ConnectRate rate = new ConnectRate(LIMIT, start);
    long early = start + 900 * MILLI;
    long late = start + SECOND + 30 * MILLI;
    int admitted = admit(rate, "10.0.0.1", LIMIT, early) + admit(rate, "10.0.0.1", LIMIT, late);
    // 50 at once, then 50 per second: the 130 ms between the bursts earn 6 more.
    assertEquals(LIMIT + 6, admitted);
  }

  @Test
  void theLimitComesBackAtTheRateNotAllAtOnce() {
    long t = 3 * SECOND;
    ConnectRate rate = new ConnectRate(LIMIT, t);
    assertEquals(LIMIT, admit(rate, "10.0.0.1", LIMIT + 10, t), "a burst of the limit at once, no more");
    assertFalse(rate.tryAdmit("10.0.0.1", t + 19 * MILLI), "one per 20 ms");
    assertTrue(rate.tryAdmit("10.0.0.1", t + 20 * MILLI));
    assertEquals(LIMIT, admit(rate, "10.0.0.1", LIMIT + 10, t + 2 * SECOND), "full again after a second idle");
    assertEquals(LIMIT, admit(rate, "10.0.0.2", LIMIT + 10, t + 2 * SECOND), "each address has its own");
  }

  @Test
  void addressesNotHeardFromForASecondAreForgotten() {
    long t = 0;
    ConnectRate rate = new ConnectRate(LIMIT, t);
    for (int i = 0; i < 10_000; i++) {
      rate.tryAdmit("10.0." + (i >> 8) + "." + (i & 255), t + i * 1000);
    }
    assertEquals(10_000, rate.addresses());
    long later = t + 10_000 * 1000 + SECOND + SECOND / 2;
    rate.tryAdmit("10.1.0.1", later);
    assertEquals(1, rate.addresses(), "only the address just seen is held once the others' buckets are full");
    // One that kept connecting is still held: forgetting it would hand it a fresh burst.
    long busyStart = later;
    ConnectRate busy = new ConnectRate(LIMIT, busyStart);
    for (long at = busyStart; at < busyStart + 3 * SECOND; at += 10 * MILLI) {
      busy.tryAdmit("10.0.0.9", at);
    }
    assertEquals(1, busy.addresses());
    assertTrue(admit(busy, "10.0.0.9", LIMIT, busyStart + 3 * SECOND) <= 1, "still at its rate across the sweeps");
  }

  private static int admit(ConnectRate rate, String ip, int attempts, long at) {
    int admitted = 0;
    for (int i = 0; i < attempts; i++) {
      if (rate.tryAdmit(ip, at)) {
        admitted++;
      }
    }
    return admitted;
  }
}
