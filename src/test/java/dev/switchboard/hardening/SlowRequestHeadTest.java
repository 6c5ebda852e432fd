package dev.switchboard.hardening;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.SwitchboardNode;
import dev.switchboard.gateway.GatewayVerticle;
import dev.switchboard.testing.LogCapture;
import dev.switchboard.testing.RawWsClient;
import dev.switchboard.testing.TestNodes;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@code server.header_timeout}: a connection that sends its request head a byte at a time (slowloris) is closed
 * once the head has taken longer than the deadline, however steadily the bytes come; before, each byte was
 * within the idle timeout and the connection stayed open for 65 s (HTTP/1.1) or for good (h2c). A head that is
 * slow but in time still upgrades, and neither an established WebSocket nor a kept-alive HTTP connection idle
 * between requests is subject to the deadline.
 */
class SlowRequestHeadTest {

  /** The deadline under test; the node enforces it on a one-second tick, so a cut comes up to 1 s after it. */
  static final long DEADLINE_MS = 2_000;
  /** Bound on the wait for the cut: the tick, plus a shared machine's scheduling slack. */
  static final long CUT_WITHIN_MS = DEADLINE_MS + 3_000;

  SwitchboardNode node;
  LogCapture log;

  @BeforeEach
  void start() {
    // The idle timeout (and with it the HTTP one, 5 s longer) far above the deadline, so it cannot be what cuts.
    node = TestNodes.standalone(new JsonObject()
        .put("server", new JsonObject().put("header_timeout", DEADLINE_MS + "ms"))
        .put("session", new JsonObject().put("idle_timeout", "60s")));
    log = LogCapture.of(GatewayVerticle.class);
  }

  @AfterEach
  void stop() {
    log.close();
    node.close().await();
  }

  @Test
  void aHeadSentAByteAtATimeIsClosedAtTheDeadline() throws Exception {
    byte[] head = RawWsClient.upgradeRequest(node.port(), "/ws?token=" + TestNodes.token("slow"), Map.of());
    try (Socket s = connect()) {
      long start = System.nanoTime();
      Thread dribbler = dribble(s, head, 1, 50); // 50 ms a byte: far longer than the deadline in all
      try {
        long cutAfter = awaitEnd(s, start);
        assertTrue(cutAfter >= DEADLINE_MS - 100, "cut before the deadline: after " + cutAfter + " ms");
      } finally {
        dribbler.interrupt();
      }
    }
    assertEquals(1.0, headerTimeouts(), "counted as switchboard_connects_total{result=\"header_timeout\"}");
    assertTrue(log.containing("ip=127.0.0.1 reason=\"no complete request head within server.header_timeout").size() == 1,
        "logged as event=connect_refused: " + log.messages());
  }

  @Test
  void aConnectionThatSendsNothingIsClosedAtTheDeadline() throws Exception {
    try (Socket s = connect()) {
      awaitEnd(s, System.nanoTime());
    }
  }

  @Test
  void anHttp2PriorKnowledgeConnectionCannotHoldTheSocketEither() throws Exception {
    // Before, h2c took this preface, and a HEADERS frame dribbled after it kept the connection open for good.
    byte[] preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1);
    byte[] settings = {0, 0, 0, 4, 0, 0, 0, 0, 0};
    byte[] headersFrame = {0, 0, 100, 1, 4, 0, 0, 0, 1};
    try (Socket s = connect()) {
      long start = System.nanoTime();
      s.getOutputStream().write(concat(preface, settings, headersFrame));
      Thread dribbler = dribble(s, new byte[100], 1, 100);
      try {
        awaitEnd(s, start);
      } finally {
        dribbler.interrupt();
      }
    }
  }

  @Test
  void aSlowHeadWithinTheDeadlineStillUpgradesAndTheSessionOutlivesTheDeadline() throws Exception {
    byte[] head = RawWsClient.upgradeRequest(node.port(), "/ws", Map.of());
    // The whole head over about a quarter of the deadline, in 10-byte pieces.
    int pieces = (head.length + 9) / 10;
    try (Socket s = connect()) {
      dribble(s, head, 10, DEADLINE_MS / 4 / pieces).join(DEADLINE_MS);
      InputStream in = s.getInputStream();
      assertEquals(101, RawWsClient.readResponseHead(in).status());
      // Idle past the deadline and a tick: nothing comes from the node (its heartbeat is 25 s away, the auth
      // timeout 10 s), and no close.
      s.setSoTimeout((int) (DEADLINE_MS + 2_000));
      assertThrows(SocketTimeoutException.class, in::read, "the established session was closed");
    }
    assertEquals(0.0, headerTimeouts());
  }

  @Test
  void anEstablishedSessionIdleLongerThanTheDeadlineStaysOpen() throws Exception {
    try (RawWsClient ws = RawWsClient.connect(node.port(), "/ws?token=" + TestNodes.token("quick"))) {
      assertEquals(101, ws.status());
      assertEquals("quick", ws.next("auth_success", 5_000).getString("user_id"));
      // A frame first: a head clock still in the pipeline would start at it.
      ws.send(new JsonObject().put("type", "ping"));
      ws.next("pong", 5_000);
      assertThrows(SocketTimeoutException.class, () -> ws.read(DEADLINE_MS + 2_000), "the session was closed");
      ws.send(new JsonObject().put("type", "ping"));
      ws.next("pong", 5_000);
    }
    assertEquals(0.0, headerTimeouts());
  }

  @Test
  void aKeptAliveConnectionMayIdleBetweenRequestsButItsNextHeadHasTheDeadline() throws Exception {
    byte[] get = ("GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1);
    try (Socket s = connect()) {
      InputStream in = s.getInputStream();
      s.getOutputStream().write(get);
      readResponse(in);
      // Idle between requests for longer than the deadline: that is the idle timeout's business, not this one's.
      s.setSoTimeout((int) (DEADLINE_MS + 2_000));
      assertThrows(SocketTimeoutException.class, in::read, "a kept-alive connection was closed while idle");
      s.getOutputStream().write(get);
      readResponse(in);

      long start = System.nanoTime();
      Thread dribbler = dribble(s, get, 1, 200); // its clock starts at its first byte
      try {
        long cutAfter = awaitEnd(s, start);
        assertTrue(cutAfter >= DEADLINE_MS - 100, "cut before the deadline: after " + cutAfter + " ms");
      } finally {
        dribbler.interrupt();
      }
    }
    assertEquals(1.0, headerTimeouts());
  }

  private Socket connect() throws IOException {
    return SlowPeer.connect(node.port());
  }

  private static Thread dribble(Socket s, byte[] bytes, int piece, long gapMs) {
    return SlowPeer.dribble(s, bytes, piece, gapMs);
  }

  private static long awaitEnd(Socket s, long startNanos) throws IOException {
    return SlowPeer.awaitEnd(s, startNanos, CUT_WITHIN_MS);
  }

  /** Reads one response with a Content-Length body. */
  private static void readResponse(InputStream in) throws IOException {
    RawWsClient.ResponseHead head = RawWsClient.readResponseHead(in);
    assertEquals(200, head.status());
    int length = Integer.parseInt(head.headers().get("content-length"));
    assertEquals(length, in.readNBytes(length).length);
  }

  private double headerTimeouts() {
    return node.context().registry().get("switchboard.connects").tag("result", "header_timeout").counter().count();
  }

  private static byte[] concat(byte[]... parts) {
    byte[] all = new byte[0];
    for (byte[] p : parts) {
      int at = all.length;
      all = Arrays.copyOf(all, at + p.length);
      System.arraycopy(p, 0, all, at, p.length);
    }
    return all;
  }
}
