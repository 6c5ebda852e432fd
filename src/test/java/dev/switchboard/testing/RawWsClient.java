package dev.switchboard.testing;

import io.vertx.core.json.JsonObject;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;

/**
 * A blocking WebSocket client on a plain socket, for tests that need the wire itself: it never answers
 * pings (so an idle timeout can be provoked), sends frames of any size or fragmentation, binds any
 * loopback source address (per-IP limits), and reports the exact close frame the server sent. Use it from
 * the test thread; every read is bounded by a timeout.
 */
public final class RawWsClient implements AutoCloseable {

  public static final int CONTINUATION = 0x0;
  public static final int TEXT = 0x1;
  public static final int BINARY = 0x2;
  public static final int CLOSE = 0x8;
  public static final int PING = 0x9;
  public static final int PONG = 0xA;

  /** One frame as the server sent it; {@code compressed} is RSV1, set on permessage-deflate messages. */
  public record Frame(int opcode, boolean fin, boolean compressed, byte[] payload) {
    public String text() {
      return new String(payload, StandardCharsets.UTF_8);
    }

    /** The status code of a close frame; 1005 when it carried none. */
    public int closeCode() {
      return payload.length >= 2 ? ((payload[0] & 0xff) << 8) | (payload[1] & 0xff) : 1005;
    }

    public String closeReason() {
      return payload.length > 2 ? new String(payload, 2, payload.length - 2, StandardCharsets.UTF_8) : "";
    }

    @Override
    public String toString() {
      return opcode == CLOSE ? "close(" + closeCode() + ", " + closeReason() + ")"
          : opcode == TEXT ? "text(" + text() + ")" : "frame(op=" + opcode + ", " + payload.length + " bytes)";
    }
  }

  private final Socket socket;
  private final DataInputStream in;
  private final OutputStream out;
  private final int status;
  private final Map<String, String> headers;
  private int pings;
  private java.util.zip.Inflater inflater;

  private RawWsClient(Socket socket, DataInputStream in, int status, Map<String, String> headers) throws IOException {
    this.socket = socket;
    this.in = in;
    this.out = socket.getOutputStream();
    this.status = status;
    this.headers = headers;
  }

  public static RawWsClient connect(int port, String uri) throws IOException {
    return connect(port, uri, null, Map.of());
  }

  /**
   * Opens the socket and performs the upgrade; the result is returned whatever the status, so a refused
   * upgrade (403, 503) can be asserted with {@link #status()}.
   *
   * @param sourceIp loopback address to connect from (127.0.0.x), or null for the default
   */
  public static RawWsClient connect(int port, String uri, String sourceIp, Map<String, String> extraHeaders)
      throws IOException {
    return connect(port, uri, sourceIp, extraHeaders, 0);
  }

  /** @param receiveBuffer SO_RCVBUF in bytes, set before connecting (0 = the system's), for a client that lags */
  public static RawWsClient connect(int port, String uri, String sourceIp, Map<String, String> extraHeaders,
      int receiveBuffer) throws IOException {
    Socket s = new Socket();
    if (receiveBuffer > 0) {
      s.setReceiveBufferSize(receiveBuffer);
    }
    if (sourceIp != null) {
      s.bind(new InetSocketAddress(InetAddress.getByName(sourceIp), 0));
    }
    s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
    s.setSoTimeout(10_000);
    s.setTcpNoDelay(true);
    s.getOutputStream().write(upgradeRequest(port, uri, extraHeaders));
    s.getOutputStream().flush();
    DataInputStream in = new DataInputStream(s.getInputStream());
    ResponseHead head = readResponseHead(in);
    return new RawWsClient(s, in, head.status(), head.headers());
  }

  /** The bytes of a WebSocket upgrade request for {@code uri}, with a fresh key and these extra headers. */
  public static byte[] upgradeRequest(int port, String uri, Map<String, String> extraHeaders) {
    byte[] nonce = new byte[16];
    ThreadLocalRandom.current().nextBytes(nonce);
    StringBuilder req = new StringBuilder()
        .append("GET ").append(uri).append(" HTTP/1.1\r\n")
        .append("Host: 127.0.0.1:").append(port).append("\r\n")
        .append("Upgrade: websocket\r\nConnection: Upgrade\r\n")
        .append("Sec-WebSocket-Key: ").append(Base64.getEncoder().encodeToString(nonce)).append("\r\n")
        .append("Sec-WebSocket-Version: 13\r\n");
    extraHeaders.forEach((k, v) -> req.append(k).append(": ").append(v).append("\r\n"));
    req.append("\r\n");
    return req.toString().getBytes(StandardCharsets.ISO_8859_1);
  }

  /** The status line's code and the headers (names lower-cased) of an HTTP response. */
  public record ResponseHead(int status, Map<String, String> headers) {}

  /** Reads an HTTP response's head, up to and including its blank line, and nothing after it. */
  public static ResponseHead readResponseHead(InputStream in) throws IOException {
    String[] lines = readHead(in).split("\r\n");
    int status = Integer.parseInt(lines[0].split(" ")[1]);
    Map<String, String> headers = new LinkedHashMap<>();
    for (int i = 1; i < lines.length; i++) {
      int colon = lines[i].indexOf(':');
      if (colon > 0) {
        headers.put(lines[i].substring(0, colon).trim().toLowerCase(Locale.ROOT), lines[i].substring(colon + 1).trim());
      }
    }
    return new ResponseHead(status, headers);
  }

  private static String readHead(InputStream in) throws IOException {
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    int matched = 0;
    byte[] end = {'\r', '\n', '\r', '\n'};
    while (matched < 4) {
      int b = in.read();
      if (b < 0) {
        throw new EOFException("connection closed during the upgrade; got: " + buf);
      }
      buf.write(b);
      matched = b == end[matched] ? matched + 1 : (b == '\r' ? 1 : 0);
    }
    return buf.toString(StandardCharsets.ISO_8859_1);
  }

  /** HTTP status of the upgrade response (101 when upgraded). */
  public int status() {
    return status;
  }

  /** A header of the upgrade response, by case-insensitive name; null when absent. */
  public String header(String name) {
    return headers.get(name.toLowerCase(Locale.ROOT));
  }

  /** How many ping frames the server has sent so far (they are never answered). */
  public int pingsSeen() {
    return pings;
  }

  public void sendText(String text) throws IOException {
    sendFrame(TEXT, true, text.getBytes(StandardCharsets.UTF_8));
  }

  public void send(JsonObject frame) throws IOException {
    sendText(frame.encode());
  }

  /** Writes one masked frame as a client must. */
  public void sendFrame(int opcode, boolean fin, byte[] payload) throws IOException {
    out.write(frame(opcode, fin, payload));
    out.flush();
  }

  /** Writes one masked, final frame with the given RSV bits (0–7: RSV1 is 4) in its first byte. */
  public void sendFrameWithRsv(int opcode, int rsv, byte[] payload) throws IOException {
    byte[] f = frame(opcode, true, payload);
    f[0] |= (byte) ((rsv & 7) << 4);
    out.write(f);
    out.flush();
  }

  /** Bytes as they are, e.g. many frames from {@link #frameBytes} in one write. */
  public void sendRaw(byte[] bytes) throws IOException {
    out.write(bytes);
    out.flush();
  }

  /** One masked, final frame as a client sends it. */
  public static byte[] frameBytes(int opcode, byte[] payload) {
    return frame(opcode, true, payload);
  }

  /** Several text frames in one write, so the server reads them in one pass. */
  public void sendTexts(List<String> texts) throws IOException {
    ByteArrayOutputStream all = new ByteArrayOutputStream();
    for (String t : texts) {
      byte[] f = frame(TEXT, true, t.getBytes(StandardCharsets.UTF_8));
      all.write(f, 0, f.length);
    }
    out.write(all.toByteArray());
    out.flush();
  }

  private static byte[] frame(int opcode, boolean fin, byte[] payload) {
    ByteArrayOutputStream f = new ByteArrayOutputStream(payload.length + 14);
    f.write((fin ? 0x80 : 0) | opcode);
    int len = payload.length;
    if (len < 126) {
      f.write(0x80 | len);
    } else if (len < 65536) {
      f.write(0x80 | 126);
      f.write(len >>> 8);
      f.write(len & 0xff);
    } else {
      f.write(0x80 | 127);
      for (int i = 7; i >= 0; i--) {
        f.write((int) (((long) len >>> (8 * i)) & 0xff));
      }
    }
    byte[] mask = new byte[4];
    ThreadLocalRandom.current().nextBytes(mask);
    f.write(mask, 0, mask.length);
    for (int i = 0; i < len; i++) {
      f.write(payload[i] ^ mask[i & 3]);
    }
    return f.toByteArray();
  }

  /** The next frame, failing with SocketTimeoutException after timeoutMs. */
  public Frame read(long timeoutMs) throws IOException {
    socket.setSoTimeout((int) Math.max(1, timeoutMs));
    int b0 = in.readUnsignedByte();
    int b1 = in.readUnsignedByte();
    long len = b1 & 0x7f;
    if (len == 126) {
      len = in.readUnsignedShort();
    } else if (len == 127) {
      len = in.readLong();
    }
    byte[] mask = null;
    if ((b1 & 0x80) != 0) {
      mask = new byte[4];
      in.readFully(mask);
    }
    byte[] payload = new byte[(int) len];
    in.readFully(payload);
    if (mask != null) {
      for (int i = 0; i < payload.length; i++) {
        payload[i] ^= mask[i & 3];
      }
    }
    boolean compressed = (b0 & 0x40) != 0;
    Frame f = new Frame(b0 & 0x0f, (b0 & 0x80) != 0, compressed, compressed ? inflate(payload) : payload);
    if (f.opcode() == PING) {
      pings++;
    }
    return f;
  }

  /**
   * A permessage-deflate message (RFC 7692 §7.2.2): the sender dropped the empty block's tail, put back here.
   * One inflater for the connection, so a server that keeps its compression context (back-references into
   * earlier messages) is read as well as one told {@code server_no_context_takeover}.
   */
  private byte[] inflate(byte[] payload) throws IOException {
    if (inflater == null) {
      inflater = new java.util.zip.Inflater(true);
    }
    try {
      byte[] in = java.util.Arrays.copyOf(payload, payload.length + 4);
      in[payload.length + 2] = (byte) 0xff;
      in[payload.length + 3] = (byte) 0xff;
      inflater.setInput(in);
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      byte[] buf = new byte[8192];
      while (!inflater.needsInput() && !inflater.finished()) {
        int n = inflater.inflate(buf);
        if (n == 0 && inflater.needsInput()) {
          break;
        }
        out.write(buf, 0, n);
      }
      return out.toByteArray();
    } catch (java.util.zip.DataFormatException e) {
      throw new IOException("the server sent a compressed frame that does not inflate", e);
    }
  }

  /** The next text frame whose JSON type matches, skipping pings and other frames; fails on close or timeout. */
  public JsonObject next(String type, long timeoutMs) throws IOException {
    long deadline = System.currentTimeMillis() + timeoutMs;
    while (true) {
      long left = deadline - System.currentTimeMillis();
      if (left <= 0) {
        throw new SocketTimeoutException("no " + type + " frame within " + timeoutMs + " ms");
      }
      Frame f = read(left);
      if (f.opcode() == CLOSE) {
        throw new EOFException("closed by the server while waiting for " + type + ": " + f);
      }
      if (f.opcode() == TEXT) {
        JsonObject o = new JsonObject(f.text());
        if (type.equals(o.getString("type"))) {
          return o;
        }
      }
    }
  }

  /** Reads (and drops) frames until the server's close frame arrives; fails on timeout or a bare TCP close. */
  public Frame awaitClose(long timeoutMs) throws IOException {
    long deadline = System.currentTimeMillis() + timeoutMs;
    while (true) {
      long left = deadline - System.currentTimeMillis();
      if (left <= 0) {
        throw new SocketTimeoutException("no close frame within " + timeoutMs + " ms");
      }
      Frame f = read(left);
      if (f.opcode() == CLOSE) {
        return f;
      }
    }
  }

  /** Drops the connection with a TCP reset (linger 0) instead of a close handshake or a FIN. */
  public void reset() {
    try {
      socket.setSoLinger(true, 0);
    } catch (IOException ignored) {
      // already closed: the reset is moot
    }
    close();
  }

  @Override
  public void close() {
    if (inflater != null) {
      inflater.end();
    }
    try {
      socket.close();
    } catch (IOException ignored) {
      // closing a test socket: nothing useful to do
    }
  }
}
