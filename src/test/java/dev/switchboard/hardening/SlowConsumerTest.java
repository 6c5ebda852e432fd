package dev.switchboard.hardening;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.SwitchboardNode;
import dev.switchboard.bus.Addresses;
import dev.switchboard.testing.TestNodes;
import io.micrometer.core.instrument.Counter;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.BitSet;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * SPEC §6 outbound rule, end to end: one client stops reading at the TCP level while 20 MB are published to
 * its channel; ten normal clients on the same node read along. The slow one is closed with 4009, counted
 * and reported on {@code switchboard.undelivered}; the normal ones receive every message; heap stays
 * bounded and the event loops keep running.
 *
 * <p>The publisher paces itself to what the normal clients have read (at most {@link #WINDOW} messages
 * ahead of the slowest normal client, about 320 KB), so a normal client is never anywhere near the 1 MiB
 * bound; the slow one falls further behind with every message until its queue overflows.
 */
class SlowConsumerTest {

  static final int MESSAGES = 2_000;
  static final int PAD = 10_000;
  static final int WINDOW = 32;
  static final int NORMAL = 10;
  static final String CHANNEL = "room:feed";

  @Test
  void slowConsumerIsClosedWith4009WhileNormalClientsReceiveEverything() throws Exception {
    Vertx vertx = Vertx.vertx();
    SwitchboardNode node = TestNodes.standalone();
    List<Receiver> normal = new ArrayList<>();
    SlowSocket slow = null;
    long pinger = -1;
    try {
      ConcurrentLinkedQueue<JsonObject> undelivered = new ConcurrentLinkedQueue<>();
      node.vertx().eventBus().<JsonObject>consumer(Addresses.UNDELIVERED, m -> undelivered.add(m.body()))
          .completion().await();
      for (int i = 0; i < NORMAL; i++) {
        normal.add(Receiver.connect(vertx, node.port(), TestNodes.token("reader" + i, "feed"), CHANNEL).await());
      }
      slow = SlowSocket.connect(node.port(), TestNodes.token("slow", "feed"), CHANNEL);

      MemoryMXBean mem = ManagementFactory.getMemoryMXBean();
      long heapBefore = settledHeap(mem);
      List<Receiver> pinged = normal;
      pinger = vertx.setPeriodic(100, t -> pinged.forEach(Receiver::ping));

      String pad = "x".repeat(PAD);
      BitSet accepted = new BitSet();
      AtomicInteger failures = new AtomicInteger();
      long peakHeap = 0;
      double worstLagMs = 0;
      long t0 = System.nanoTime();
      for (int seq = 0; seq < MESSAGES; seq++) {
        if (seq % 8 == 0) {
          awaitNormalWithin(normal, seq - WINDOW, 20_000);
          peakHeap = Math.max(peakHeap, mem.getHeapMemoryUsage().getUsed());
          // The probe's windows are one second long: skip the one that saw the System.gc() above.
          if (System.nanoTime() - t0 > TimeUnit.MILLISECONDS.toNanos(1_200)) {
            worstLagMs = Math.max(worstLagMs, TestNodes.worstLoopLagSeconds(node) * 1000);
          }
        }
        int s = seq;
        node.vertx().eventBus().request(Addresses.PUBLISH, new JsonObject().put("channel", CHANNEL)
            .put("message", new JsonObject().put("seq", seq).put("pad", pad))).onComplete(ar -> {
              if (ar.succeeded()) {
                synchronized (accepted) {
                  accepted.set(s);
                }
              } else {
                failures.incrementAndGet();
              }
            });
      }
      awaitNormalWithin(normal, MESSAGES - 1, 20_000);
      long publishMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
      vertx.cancelTimer(pinger);
      pinger = -1;

      // Normal clients: every accepted message, once.
      assertEquals(0, failures.get(), "the router refused publishes");
      BitSet expected;
      synchronized (accepted) {
        expected = (BitSet) accepted.clone();
      }
      assertEquals(MESSAGES, expected.cardinality());
      for (Receiver r : normal) {
        assertTrue(r.hasAll(expected), "a normal client missed " + r.missingFrom(expected) + " messages");
        assertEquals(0, r.duplicates());
        assertFalse(r.isClosed(), "a normal client was disconnected");
      }

      // The slow one: whatever was queued before the overflow, then the 4009 close frame.
      SlowSocket.Result result = slow.drain(15_000);
      assertEquals(4009, result.closeCode(), "close: " + result);
      assertTrue(result.messages() < MESSAGES, "the slow client got " + result.messages() + " of " + MESSAGES);

      // Counted and reported.
      Counter dropped = node.context().registry().find("switchboard.messages.dropped").tag("reason", "slow_consumer").counter();
      assertNotNull(dropped);
      assertTrue(dropped.count() >= 1, "switchboard_messages_dropped_total{reason=slow_consumer}");
      JsonObject report = awaitReport(undelivered, 5_000);
      assertEquals(CHANNEL, report.getString("channel"));
      assertEquals("slow_consumer", report.getString("reason"));
      assertEquals("slow", report.getString("user"));
      assertTrue(report.getJsonObject("message").containsKey("seq"), "the report carries the message");

      long heapAfter = settledHeap(mem);
      long worstPong = normal.stream().mapToLong(Receiver::worstPongMillis).max().orElse(-1);
      System.out.printf("slow consumer: %d x %d B published (%.1f MB) in %d ms; slow client got %d messages (%d B) "
              + "before 4009; normal clients %d/%d each; heap used after GC before=%d KB after=%d KB growth=%d KB; "
              + "peak heap sampled during=%d KB; worst pong %d ms; worst event-loop lag while publishing %.1f ms%n",
          MESSAGES, PAD, MESSAGES * (double) PAD / 1e6, publishMs, result.messages(), result.bytes(),
          normal.get(0).received(), MESSAGES, heapBefore / 1024, heapAfter / 1024, (heapAfter - heapBefore) / 1024,
          peakHeap / 1024, worstPong, worstLagMs);
      // 20 MB went through; what stays must be a small fraction of it.
      assertTrue(heapAfter - heapBefore < 16L * 1024 * 1024, "heap grew by " + (heapAfter - heapBefore) / 1024 + " KB");
      assertTrue(worstPong < 2_000, "a normal client waited " + worstPong + " ms for a pong");
    } finally {
      if (pinger >= 0) {
        vertx.cancelTimer(pinger);
      }
      if (slow != null) {
        slow.close();
      }
      normal.forEach(r -> r.close().await());
      node.close().await();
      vertx.close().await();
    }
  }

  /** Waits until every normal client has received more than target messages. */
  private static void awaitNormalWithin(List<Receiver> normal, int target, long timeoutMs) throws InterruptedException {
    long deadline = System.currentTimeMillis() + timeoutMs;
    while (true) {
      int min = Integer.MAX_VALUE;
      for (Receiver r : normal) {
        min = Math.min(min, r.messages());
        assertFalse(r.isClosed(), "a normal client was disconnected");
      }
      if (min > target) {
        return;
      }
      if (System.currentTimeMillis() > deadline) {
        throw new AssertionError("normal clients stalled at " + min + " messages (waiting for " + (target + 1) + ")");
      }
      Thread.sleep(1);
    }
  }

  private static JsonObject awaitReport(ConcurrentLinkedQueue<JsonObject> reports, long timeoutMs) throws InterruptedException {
    long deadline = System.currentTimeMillis() + timeoutMs;
    while (System.currentTimeMillis() < deadline) {
      for (JsonObject r : reports) {
        if ("slow_consumer".equals(r.getString("reason"))) {
          return r;
        }
      }
      Thread.sleep(20);
    }
    throw new AssertionError("no slow_consumer report on " + Addresses.UNDELIVERED + ": " + reports);
  }

  /** Heap in use once garbage is collected: what the node actually retains. */
  private static long settledHeap(MemoryMXBean mem) throws InterruptedException {
    long used = Long.MAX_VALUE;
    for (int i = 0; i < 3; i++) {
      System.gc();
      Thread.sleep(50);
      used = Math.min(used, mem.getHeapMemoryUsage().getUsed());
    }
    return used;
  }

  /**
   * A client that stops reading at the TCP level: a plain socket with a 16 KB receive buffer (set before
   * connecting, so the kernel cannot grow the window), which authenticates, then reads nothing until told to
   * drain.
   */
  static final class SlowSocket implements AutoCloseable {
    private final Socket socket;
    private final DataInputStream in;

    record Result(int closeCode, int messages, long bytes) {}

    private SlowSocket(Socket socket) throws IOException {
      this.socket = socket;
      this.in = new DataInputStream(socket.getInputStream());
    }

    static SlowSocket connect(int port, String token, String channel) throws IOException {
      Socket s = new Socket();
      s.setReceiveBufferSize(16 * 1024);
      s.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
      s.setSoTimeout(10_000);
      SlowSocket c = new SlowSocket(s);
      byte[] nonce = new byte[16];
      ThreadLocalRandom.current().nextBytes(nonce);
      String req = "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:" + port + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          + "Sec-WebSocket-Key: " + Base64.getEncoder().encodeToString(nonce) + "\r\nSec-WebSocket-Version: 13\r\n\r\n";
      OutputStream out = s.getOutputStream();
      out.write(req.getBytes(StandardCharsets.ISO_8859_1));
      String head = c.readHead();
      if (!head.startsWith("HTTP/1.1 101")) {
        throw new IOException("upgrade refused: " + head);
      }
      c.sendText(new JsonObject().put("type", "auth").put("token", token)
          .put("channels", new JsonArray().add(channel)).encode());
      while (true) {
        byte[][] frame = c.readFrame();
        if ((frame[0][0] & 0x0f) == 1 && new String(frame[1], StandardCharsets.UTF_8).contains("\"auth_success\"")) {
          return c;
        }
      }
    }

    private String readHead() throws IOException {
      ByteArrayOutputStream buf = new ByteArrayOutputStream();
      while (!buf.toString(StandardCharsets.ISO_8859_1).endsWith("\r\n\r\n")) {
        int b = in.read();
        if (b < 0) {
          throw new EOFException("closed during upgrade");
        }
        buf.write(b);
      }
      return buf.toString(StandardCharsets.ISO_8859_1);
    }

    private void sendText(String text) throws IOException {
      sendFrame(0x81, text.getBytes(StandardCharsets.UTF_8));
    }

    /** A masked close frame with that status code; the socket stays open, and nothing is read. */
    void sendClose(int code) throws IOException {
      sendFrame(0x88, new byte[] {(byte) (code >>> 8), (byte) code});
    }

    private void sendFrame(int head, byte[] p) throws IOException {
      ByteArrayOutputStream f = new ByteArrayOutputStream();
      f.write(head);
      if (p.length < 126) {
        f.write(0x80 | p.length);
      } else {
        f.write(0x80 | 126);
        f.write(p.length >>> 8);
        f.write(p.length & 0xff);
      }
      byte[] mask = new byte[4];
      ThreadLocalRandom.current().nextBytes(mask);
      f.write(mask);
      for (int i = 0; i < p.length; i++) {
        f.write(p[i] ^ mask[i & 3]);
      }
      socket.getOutputStream().write(f.toByteArray());
    }

    /** {header byte}, payload. */
    private byte[][] readFrame() throws IOException {
      int b0 = in.readUnsignedByte();
      int b1 = in.readUnsignedByte();
      long len = b1 & 0x7f;
      if (len == 126) {
        len = in.readUnsignedShort();
      } else if (len == 127) {
        len = in.readLong();
      }
      byte[] payload = new byte[(int) len];
      in.readFully(payload);
      return new byte[][] {{(byte) b0}, payload};
    }

    /** Reads everything the server queued, up to its close frame. */
    Result drain(long timeoutMs) throws IOException {
      socket.setSoTimeout((int) timeoutMs);
      int messages = 0;
      long bytes = 0;
      while (true) {
        byte[][] f;
        try {
          f = readFrame();
        } catch (EOFException e) {
          return new Result(-1, messages, bytes);
        }
        int opcode = f[0][0] & 0x0f;
        if (opcode == 8) {
          int code = f[1].length >= 2 ? ((f[1][0] & 0xff) << 8) | (f[1][1] & 0xff) : 1005;
          return new Result(code, messages, bytes);
        }
        if (opcode == 1) {
          messages++;
          bytes += f[1].length;
        }
      }
    }

    @Override
    public void close() {
      try {
        socket.close();
      } catch (IOException ignored) {
        // test cleanup
      }
    }
  }
}
