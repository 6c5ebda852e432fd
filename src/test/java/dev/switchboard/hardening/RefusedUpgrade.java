package dev.switchboard.hardening;

import dev.switchboard.testing.RawWsClient;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.util.Locale;
import java.util.Map;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;

/**
 * One WebSocket upgrade on a raw socket (plain or TLS) that the server is expected to refuse: the status,
 * headers and body it answered, and how soon after the answer it closed the connection. A refusal that
 * leaves the connection open keeps a client waiting for an end that never comes (a TLS client that sends
 * close_notify waits for the server's), so the close is what these tests are about.
 */
record RefusedUpgrade(int status, Map<String, String> headers, String body, String end, long endMillis) {

  /** {@link #end} when nothing came within the bound: the server kept the connection open. */
  static final String STILL_OPEN = "still open";

  /** A header of the answer, by case-insensitive name; null when absent. */
  String header(String name) {
    return headers.get(name.toLowerCase(Locale.ROOT));
  }

  /** True when the server ended the connection cleanly (EOF; over TLS, close_notify) within the bound. */
  boolean closed() {
    return "EOF".equals(end);
  }

  /** Over plain TCP. */
  static RefusedUpgrade plain(int port, String path, Map<String, String> extraHeaders, long endWithinMs)
      throws IOException {
    Socket s = new Socket();
    s.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
    return attempt(s, port, path, extraHeaders, endWithinMs);
  }

  /** Over TLS, trusting exactly the PEM certificate at {@code cert}. */
  static RefusedUpgrade tls(int port, Path cert, String path, Map<String, String> extraHeaders, long endWithinMs)
      throws Exception {
    return attempt(tlsSocket(port, cert), port, path, extraHeaders, endWithinMs);
  }

  /** A TLS connection to the node, handshake done, trusting exactly the PEM certificate at {@code cert}. */
  static SSLSocket tlsSocket(int port, Path cert) throws Exception {
    KeyStore trusted = KeyStore.getInstance(KeyStore.getDefaultType());
    trusted.load(null, null);
    try (InputStream in = Files.newInputStream(cert)) {
      trusted.setCertificateEntry("node", CertificateFactory.getInstance("X.509").generateCertificate(in));
    }
    TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(trusted);
    SSLContext ctx = SSLContext.getInstance("TLS");
    ctx.init(null, tmf.getTrustManagers(), null);
    Socket raw = new Socket();
    raw.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
    SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket(raw, "127.0.0.1", port, true);
    s.setSoTimeout(10_000);
    s.startHandshake();
    return s;
  }

  private static RefusedUpgrade attempt(Socket s, int port, String path, Map<String, String> extraHeaders,
      long endWithinMs) throws IOException {
    try (s) {
      s.setSoTimeout(10_000);
      s.getOutputStream().write(RawWsClient.upgradeRequest(port, path, extraHeaders));
      s.getOutputStream().flush();
      InputStream in = s.getInputStream();
      RawWsClient.ResponseHead head = RawWsClient.readResponseHead(in);
      int status = head.status();
      Map<String, String> headers = head.headers();
      int length = Integer.parseInt(headers.getOrDefault("content-length", "0"));
      String body = new String(in.readNBytes(length), StandardCharsets.ISO_8859_1);
      long started = System.nanoTime();
      s.setSoTimeout((int) endWithinMs);
      String end;
      try {
        int b = in.read();
        end = b < 0 ? "EOF" : "more bytes after the answer (" + b + ")";
      } catch (SocketTimeoutException e) {
        end = STILL_OPEN;
      } catch (SSLException e) {
        end = "TLS ended without close_notify: " + e.getMessage();
      } catch (IOException e) {
        end = "reset: " + e.getMessage();
      }
      return new RefusedUpgrade(status, headers, body, end, (System.nanoTime() - started) / 1_000_000);
    }
  }
}
