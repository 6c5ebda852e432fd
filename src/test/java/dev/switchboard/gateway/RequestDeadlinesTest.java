package dev.switchboard.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.HttpRequestDecoder;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The request clock's positions, driven through Netty's own request decoder as Vert.x's pipeline has it: when a
 * head is being waited for (from the start, from the first byte of a later head), when a body is (from the end of
 * the read that completed its head, once per request), and when neither (a body that came with its head, idle
 * between requests). {@code SlowRequestHeadTest} and {@code SlowRequestBodyTest} run the same against a real node.
 */
class RequestDeadlinesTest {

  static final Duration HEAD_TIMEOUT = Duration.ofSeconds(10);
  static final Duration BODY_TIMEOUT = Duration.ofSeconds(30);

  /** The connections each deadline closed, in order. */
  static final class Recorder implements RequestDeadlines.Expiry {
    final List<Channel> heads = new ArrayList<>();
    final List<Channel> bodies = new ArrayList<>();

    @Override
    public void headTooSlow(Channel ch, String reason) {
      heads.add(ch);
    }

    @Override
    public void bodyTooSlow(Channel ch, String reason, boolean answered) {
      bodies.add(ch);
    }
  }

  final Recorder expired = new Recorder();
  /** The deadlines' clock, moved by the tests: "later" is then a whole second, not the microseconds between sends. */
  long now = 1_000_000_000L;
  final RequestDeadlines deadlines = new RequestDeadlines(HEAD_TIMEOUT, BODY_TIMEOUT, expired, () -> now);
  static final long SECOND = 1_000_000_000L;
  final EmbeddedChannel ch = new EmbeddedChannel();

  RequestDeadlinesTest() {
    ch.pipeline().addLast(RequestDeadlines.DECODER, new HttpRequestDecoder());
    ch.pipeline().addLast(RequestDeadlines.HANDLER, new RequestDeadlines.Clock(deadlines, null));
  }

  @Test
  void theFirstHeadIsTimedFromTheStartAndAPartialOneIsCutAtTheDeadline() {
    assertEquals(1, deadlines.waitingForHead(), "waiting from the start");
    send("GET /health/live HT");
    assertEquals(1, deadlines.waitingForHead());
    assertEquals(0, deadlines.sweep(now + HEAD_TIMEOUT.toNanos() - 1), "not yet due");
    assertEquals(1, deadlines.sweep(now + HEAD_TIMEOUT.toNanos()));
    assertEquals(List.of(ch), expired.heads);
    assertFalse(ch.isOpen(), "closed");
    assertEquals(0, deadlines.waitingForHead());
  }

  @Test
  void aCompleteHeadStopsTheClockAndTheIdleTimeBetweenRequestsIsNotAHeads() {
    send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    assertEquals(0, deadlines.waitingForHead(), "the request ended in the read that brought it: idle, not a head");
    assertEquals(0, deadlines.waitingForBody());
    assertEquals(0, deadlines.sweep(now + 2 * BODY_TIMEOUT.toNanos()));
    assertTrue(ch.isOpen());
  }

  @Test
  void aLaterHeadIsTimedFromItsFirstByte() {
    send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    now += 100 * SECOND;  // idle between requests: no head's time
    long firstByte = now;
    send("G");
    assertEquals(1, deadlines.waitingForHead());
    now += SECOND;
    send("ET /b HTTP/1.1\r\n");
    assertEquals(0, deadlines.sweep(firstByte + HEAD_TIMEOUT.toNanos() - 1), "not before the deadline");
    assertEquals(1, deadlines.sweep(firstByte + HEAD_TIMEOUT.toNanos()), "from the first byte: more bytes do not restart it");
  }

  @Test
  void aBodyThatCameWithItsHeadNeverEntersASet() {
    send("POST /api/publish HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n12345"
        + "POST /api/publish HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n12345");
    assertEquals(0, deadlines.waitingForHead());
    assertEquals(0, deadlines.waitingForBody());
  }

  @Test
  void aBodyOnTheWayIsTimedFromItsHeadNotFromItsLatestByte() {
    long headEnd = now;
    send("POST /api/publish HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n12345");
    assertEquals(0, deadlines.waitingForHead(), "a body is not a head");
    assertEquals(1, deadlines.waitingForBody());
    now += 5 * SECOND;
    send("678");
    assertEquals(0, deadlines.sweep(headEnd + 2 * HEAD_TIMEOUT.toNanos()), "the head's deadline is not the body's");
    assertEquals(0, deadlines.sweep(headEnd + BODY_TIMEOUT.toNanos() - 1), "not before the deadline");
    assertTrue(ch.isOpen());
    assertEquals(1, deadlines.sweep(headEnd + BODY_TIMEOUT.toNanos()), "from the head: more bytes do not restart it");
    assertEquals(List.of(ch), expired.bodies);
    assertTrue(expired.heads.isEmpty());
    assertFalse(ch.isOpen(), "closed (without a Vert.x connection to ask, never answered)");
    assertEquals(0, deadlines.waitingForBody());
  }

  @Test
  void aBodyInTimeStopsItsClockAndTheNextRequestsBodyHasAClockOfItsOwn() {
    send("POST /api/publish HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n12345");
    now += 20 * SECOND;
    send("67890");
    assertEquals(0, deadlines.waitingForBody(), "the request ended: idle until the next byte");
    assertEquals(0, deadlines.waitingForHead());
    now += 20 * SECOND;
    long secondHead = now;
    send("POST /api/publish HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n1");
    assertEquals(1, deadlines.waitingForBody());
    assertEquals(0, deadlines.sweep(secondHead + BODY_TIMEOUT.toNanos() - 1), "its own clock, not the first body's");
    assertEquals(1, deadlines.sweep(secondHead + BODY_TIMEOUT.toNanos()));
    assertEquals(List.of(ch), expired.bodies);
  }

  @Test
  void aRequestEndingInTheReadThatBringsTheNextHeadRestartsTheBodyClock() {
    long firstBody = now;
    send("POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n1");
    now += 10 * SECOND;
    long secondBody = now;
    send("23POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n1");
    assertEquals(1, deadlines.waitingForBody());
    assertEquals(0, deadlines.sweep(firstBody + BODY_TIMEOUT.toNanos()), "the second body's clock is its own");
    assertEquals(1, deadlines.sweep(secondBody + BODY_TIMEOUT.toNanos()));
  }

  @Test
  void aClosedConnectionLeavesTheSets() {
    send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n1");
    assertEquals(1, deadlines.waitingForBody());
    ch.close();
    assertEquals(0, deadlines.waitingForBody());
    assertEquals(0, deadlines.sweep(now + BODY_TIMEOUT.toNanos()));
    assertTrue(expired.bodies.isEmpty());
  }

  private void send(String text) {
    ch.writeInbound(Unpooled.copiedBuffer(text, StandardCharsets.ISO_8859_1));
    for (Object decoded; (decoded = ch.readInbound()) != null; ) {
      ReferenceCountUtil.release(decoded);
    }
  }
}
