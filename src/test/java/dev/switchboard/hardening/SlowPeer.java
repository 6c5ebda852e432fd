package dev.switchboard.hardening;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;

/** A raw TCP client that sends its bytes slowly, for the request deadlines' tests (SlowRequestHead/BodyTest). */
final class SlowPeer {

  private SlowPeer() {}

  static Socket connect(int port) throws IOException {
    Socket s = new Socket();
    s.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
    s.setTcpNoDelay(true);
    return s;
  }

  /** Writes {@code bytes} in pieces of {@code piece} bytes, {@code gapMs} apart, from a thread of its own. */
  static Thread dribble(Socket s, byte[] bytes, int piece, long gapMs) {
    Thread t = new Thread(() -> {
      try {
        OutputStream out = s.getOutputStream();
        for (int i = 0; i < bytes.length; i += piece) {
          out.write(bytes, i, Math.min(piece, bytes.length - i));
          out.flush();
          Thread.sleep(gapMs);
        }
      } catch (IOException | InterruptedException e) {
        // the node closed the connection, or the test is over
      }
    }, "dribbler");
    t.setDaemon(true);
    t.start();
    return t;
  }

  /**
   * Reads until the node ends the connection, at most {@code withinMs} after {@code startNanos}; returns the
   * milliseconds since {@code startNanos}.
   */
  static long awaitEnd(Socket s, long startNanos, long withinMs) throws IOException {
    s.setSoTimeout((int) withinMs);
    InputStream in = s.getInputStream();
    try {
      while (in.read() >= 0) {
        // an answer may come before the close; what counts is that the close comes
      }
    } catch (SocketTimeoutException e) {
      throw new AssertionError("the connection was still open " + withinMs + " ms after it started", e);
    } catch (SocketException reset) {
      // closed with unread bytes of ours still queued on the node's side: a reset, which ends it just as well
    }
    long after = (System.nanoTime() - startNanos) / 1_000_000;
    assertTrue(after <= withinMs, "closed only after " + after + " ms");
    return after;
  }
}
