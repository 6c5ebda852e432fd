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
 * The head clock's positions, driven through Netty's own request decoder as Vert.x's pipeline has it: when a
 * head is being waited for (from the start, from the first byte of a later head) and when not (inside a
 * request, idle between requests). {@code SlowRequestHeadTest} runs the same against a real node.
 */
class HeadDeadlineTest {

  static final Duration TIMEOUT = Duration.ofSeconds(10);

  final List<Channel> expired = new ArrayList<>();
  final HeadDeadline heads = new HeadDeadline(TIMEOUT, expired::add);
  final EmbeddedChannel ch = new EmbeddedChannel();

  HeadDeadlineTest() {
    ch.pipeline().addLast(HeadDeadline.DECODER, new HttpRequestDecoder());
    ch.pipeline().addLast(HeadDeadline.HANDLER, new HeadDeadline.Clock(heads));
  }

  @Test
  void theFirstHeadIsTimedFromTheStartAndAPartialOneIsCutAtTheDeadline() {
    assertEquals(1, heads.waiting(), "waiting from the start");
    send("GET /health/live HT");
    assertEquals(1, heads.waiting());
    assertEquals(0, heads.sweep(System.nanoTime()), "not yet due");
    assertEquals(1, heads.sweep(System.nanoTime() + TIMEOUT.toNanos()));
    assertEquals(List.of(ch), expired);
    assertFalse(ch.isOpen(), "closed");
    assertEquals(0, heads.waiting());
  }

  @Test
  void aCompleteHeadStopsTheClockAndTheIdleTimeBetweenRequestsIsNotAHeads() {
    send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    assertEquals(0, heads.waiting(), "the request ended in the read that brought it: idle, not a head");
    assertEquals(0, heads.sweep(System.nanoTime() + 2 * TIMEOUT.toNanos()));
    assertTrue(ch.isOpen());
  }

  @Test
  void aLaterHeadIsTimedFromItsFirstByte() {
    send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    long firstByte = System.nanoTime();
    send("G");
    assertEquals(1, heads.waiting());
    send("ET /b HTTP/1.1\r\n");
    assertEquals(0, heads.sweep(firstByte + TIMEOUT.toNanos() / 2), "more bytes do not restart the clock, nor cut early");
    assertEquals(1, heads.sweep(firstByte + TIMEOUT.toNanos() + 1_000_000));
  }

  @Test
  void aBodyOnTheWayIsNotAHead() {
    send("POST /api/publish HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n12345");
    assertEquals(0, heads.waiting());
    send("678");
    assertEquals(0, heads.waiting(), "the rest of a body is the idle timeout's business");
    send("90");
    assertEquals(0, heads.waiting(), "the request ended: idle until the next byte");
    send("P");
    assertEquals(1, heads.waiting());
  }

  @Test
  void aClosedConnectionLeavesTheSet() {
    send("GET /");
    ch.close();
    assertEquals(0, heads.waiting());
    assertEquals(0, heads.sweep(System.nanoTime() + TIMEOUT.toNanos()));
    assertTrue(expired.isEmpty());
  }

  private void send(String text) {
    ch.writeInbound(Unpooled.copiedBuffer(text, StandardCharsets.ISO_8859_1));
    for (Object decoded; (decoded = ch.readInbound()) != null; ) {
      ReferenceCountUtil.release(decoded);
    }
  }
}
