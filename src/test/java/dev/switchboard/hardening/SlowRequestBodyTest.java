package dev.switchboard.hardening;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.SwitchboardNode;
import dev.switchboard.bus.Addresses;
import dev.switchboard.gateway.GatewayVerticle;
import dev.switchboard.testing.LogCapture;
import dev.switchboard.testing.RawWsClient;
import dev.switchboard.testing.TestNodes;
import io.vertx.core.Handler;
import io.vertx.core.eventbus.DeliveryContext;
import io.vertx.core.json.JsonObject;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@code server.body_timeout}: a request whose body comes a byte at a time, each inside the idle timeout, is
 * answered 408 and closed once the body has taken longer than the deadline from the end of its head; before, it
 * held its connection and the body's buffer for as long as the client kept dripping. A body that is slow but in
 * time is served, and so is every request of a kept-alive connection, each body with a deadline of its own.
 */
class SlowRequestBodyTest {

  /** The deadline under test; the node enforces it on a one-second tick, so a cut comes up to 1 s after it. */
  static final long DEADLINE_MS = 2_000;
  /** Bound on the wait for the cut: the tick, plus a shared machine's scheduling slack. */
  static final long CUT_WITHIN_MS = DEADLINE_MS + 3_000;
  static final String BODY = "{\"channel\":\"topic:slow\",\"message\":{\"text\":\"dripped, byte by byte\"}}";

  SwitchboardNode node;
  LogCapture log;

  @BeforeEach
  void start() {
    // The idle timeout (and with it the HTTP one, 5 s longer) and the head's deadline far above the body's, so
    // neither can be what cuts.
    node = TestNodes.standalone(new JsonObject()
        .put("server", new JsonObject().put("body_timeout", DEADLINE_MS + "ms").put("header_timeout", "30s"))
        .put("session", new JsonObject().put("idle_timeout", "60s")));
    log = LogCapture.of(GatewayVerticle.class);
  }

  @AfterEach
  void stop() {
    log.close();
    node.close().await();
  }

  @Test
  void aBodySentAByteAtATimeIsAnswered408AndClosedAtTheDeadline() throws Exception {
    try (Socket s = SlowPeer.connect(node.port())) {
      s.getOutputStream().write(publishHead(TestNodes.API_KEY, BODY.length()));
      long headEnd = System.nanoTime();
      Thread dribbler = SlowPeer.dribble(s, bytes(BODY), 1, 100); // 100 ms a byte: far longer than the deadline
      try {
        s.setSoTimeout((int) CUT_WITHIN_MS);
        InputStream in = s.getInputStream();
        RawWsClient.ResponseHead head = RawWsClient.readResponseHead(in);
        long answeredAfter = (System.nanoTime() - headEnd) / 1_000_000;
        assertEquals(408, head.status());
        assertTrue(answeredAfter >= DEADLINE_MS - 100, "answered before the deadline: after " + answeredAfter + " ms");
        assertEquals("close", head.headers().get("connection"));
        String reason = new JsonObject(new String(in.readNBytes(Integer.parseInt(head.headers().get("content-length"))),
            StandardCharsets.UTF_8)).getString("error");
        assertEquals("request body not complete within server.body_timeout (" + DEADLINE_MS + " ms)", reason);
        SlowPeer.awaitEnd(s, headEnd, CUT_WITHIN_MS);
      } finally {
        dribbler.interrupt();
      }
    }
    assertEquals(1.0, bodyTimeouts(), "counted as switchboard_connects_total{result=\"body_timeout\"}");
    assertEquals(0.0, headerTimeouts());
    assertEquals(1, log.containing("ip=127.0.0.1 reason=\"request body not complete within server.body_timeout ("
        + DEADLINE_MS + " ms)\" answer=408").size(), "logged as event=connect_refused: " + log.messages());
  }

  @Test
  void aSlowBodyWithinTheDeadlineIsPublished() throws Exception {
    try (Socket s = SlowPeer.connect(node.port())) {
      s.getOutputStream().write(publishHead(TestNodes.API_KEY, BODY.length()));
      // The whole body over about a quarter of the deadline, in 4-byte pieces.
      int pieces = (BODY.length() + 3) / 4;
      SlowPeer.dribble(s, bytes(BODY), 4, DEADLINE_MS / 4 / pieces).join(DEADLINE_MS);
      assertEquals(200, readResponse(s.getInputStream()));
      // Kept alive past the deadline and a tick: a body that ended in time leaves no clock behind.
      s.setSoTimeout((int) (DEADLINE_MS + 2_000));
      assertThrows(SocketTimeoutException.class, s.getInputStream()::read, "the connection was closed");
    }
    assertEquals(0.0, bodyTimeouts());
  }

  @Test
  void eachRequestOfAKeptAliveConnectionHasADeadlineForItsOwnBody() throws Exception {
    byte[] whole = concat(publishHead(TestNodes.API_KEY, BODY.length()), bytes(BODY));
    try (Socket s = SlowPeer.connect(node.port())) {
      InputStream in = s.getInputStream();
      // Several requests, each body sent at once (the usual API call): untouched, however long the connection lives.
      for (int i = 0; i < 3; i++) {
        s.getOutputStream().write(whole);
        assertEquals(200, readResponse(in));
      }
      s.getOutputStream().write(publishHead(TestNodes.API_KEY, BODY.length()));
      long headEnd = System.nanoTime();
      Thread dribbler = SlowPeer.dribble(s, bytes(BODY), 1, 100);
      try {
        s.setSoTimeout((int) CUT_WITHIN_MS);
        assertEquals(408, RawWsClient.readResponseHead(in).status());
        long after = SlowPeer.awaitEnd(s, headEnd, CUT_WITHIN_MS);
        assertTrue(after >= DEADLINE_MS - 100, "cut before the deadline: after " + after + " ms");
      } finally {
        dribbler.interrupt();
      }
    }
    assertEquals(1.0, bodyTimeouts());
  }

  /**
   * HTTP pipelining: while the node makes a slow answer to request 1 it holds request 2 back, so the time its
   * body waits is the node's, not the client's. Cutting it at the deadline would also have killed answer 1.
   */
  @Test
  void aPipelinedBodyWaitingBehindASlowAnswerIsNotCut() throws Exception {
    String held = "{\"channel\":\"topic:held\",\"message\":1}";
    long holdMs = DEADLINE_MS + 2_000;
    Handler<DeliveryContext<Object>> slowAnswer = ctx -> {
      if (Addresses.PUBLISH.equals(ctx.message().address()) && ctx.message().body() instanceof JsonObject o
          && "topic:held".equals(o.getString("channel"))) {
        node.vertx().setTimer(holdMs, t -> ctx.next());
      } else {
        ctx.next();
      }
    };
    node.vertx().eventBus().addOutboundInterceptor(slowAnswer);
    try (Socket s = SlowPeer.connect(node.port())) {
      byte[] second = bytes(BODY);
      int half = second.length / 2;
      s.getOutputStream().write(concat(concat(publishHead(TestNodes.API_KEY, held.length()), bytes(held)),
          concat(publishHead(TestNodes.API_KEY, second.length), java.util.Arrays.copyOf(second, half))));
      s.setSoTimeout((int) (holdMs + 5_000));
      InputStream in = s.getInputStream();
      assertEquals(200, readResponse(in), "answer 1, made while request 2's body waited past the deadline");
      s.getOutputStream().write(second, half, second.length - half);
      assertEquals(200, readResponse(in), "request 2, whose body came in time once the node read it");
    } finally {
      node.vertx().eventBus().removeOutboundInterceptor(slowAnswer);
    }
    assertEquals(0.0, bodyTimeouts());
  }

  @Test
  void aBodyWhoseRequestWasAnsweredBeforeItIsClosedWithoutASecondAnswer() throws Exception {
    // A route that answers without reading the body (here: no such file); the 404 is the request's answer, so the
    // deadline closes the connection without a 408 after it.
    byte[] head = bytes("POST /nothing-here HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n");
    try (Socket s = SlowPeer.connect(node.port())) {
      s.getOutputStream().write(head);
      long headEnd = System.nanoTime();
      Thread dribbler = SlowPeer.dribble(s, new byte[1000], 1, 100);
      try {
        InputStream in = s.getInputStream();
        s.setSoTimeout((int) CUT_WITHIN_MS);
        RawWsClient.ResponseHead answer = RawWsClient.readResponseHead(in);
        assertEquals(404, answer.status());
        in.readNBytes(Integer.parseInt(answer.headers().get("content-length")));
        ByteArrayOutputStream rest = new ByteArrayOutputStream();
        try {
          in.transferTo(rest);
        } catch (SocketException reset) {
          // closed with unread bytes of ours still queued on the node's side: it ended just as well
        }
        long after = (System.nanoTime() - headEnd) / 1_000_000;
        assertEquals("", rest.toString(StandardCharsets.ISO_8859_1), "nothing after the request's own answer");
        assertTrue(after >= DEADLINE_MS - 100, "cut before the deadline: after " + after + " ms");
      } finally {
        dribbler.interrupt();
      }
    }
    assertEquals(1.0, bodyTimeouts());
    assertEquals(1, log.containing("server.body_timeout (" + DEADLINE_MS + " ms)\" answer=none").size(),
        log.messages().toString());
  }

  private byte[] publishHead(String key, int length) {
    return bytes("POST /api/publish HTTP/1.1\r\nHost: 127.0.0.1:" + node.port() + "\r\nAuthorization: Bearer " + key
        + "\r\nContent-Type: application/json\r\nContent-Length: " + length + "\r\n\r\n");
  }

  /** Reads one response with a Content-Length body; returns its status. */
  private static int readResponse(InputStream in) throws IOException {
    RawWsClient.ResponseHead head = RawWsClient.readResponseHead(in);
    int length = Integer.parseInt(head.headers().get("content-length"));
    assertEquals(length, in.readNBytes(length).length);
    return head.status();
  }

  private double bodyTimeouts() {
    return node.context().registry().get("switchboard.connects").tag("result", "body_timeout").counter().count();
  }

  private double headerTimeouts() {
    return node.context().registry().get("switchboard.connects").tag("result", "header_timeout").counter().count();
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.ISO_8859_1);
  }

  private static byte[] concat(byte[] a, byte[] b) {
    byte[] all = java.util.Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, all, a.length, b.length);
    return all;
  }
}
