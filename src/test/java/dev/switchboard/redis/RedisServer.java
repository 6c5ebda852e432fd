package dev.switchboard.redis;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

/**
 * A real {@code redis-server} on loopback for tests: no persistence, on the port given, started and stopped
 * by PID. Nothing here talks to any Redis the test did not start.
 */
public final class RedisServer implements AutoCloseable {

  private final int port;
  private Process process;

  public RedisServer(int port) {
    this.port = port;
  }

  public int port() {
    return port;
  }

  public String url() {
    return "redis://127.0.0.1:" + port;
  }

  /** Starts the server and waits until it answers PING. */
  public RedisServer start() throws IOException, InterruptedException {
    File log = File.createTempFile("redis-" + port + "-", ".log");
    log.deleteOnExit();
    process = new ProcessBuilder("redis-server", "--port", String.valueOf(port), "--bind", "127.0.0.1",
        "--save", "", "--appendonly", "no", "--protected-mode", "yes")
        .redirectErrorStream(true).redirectOutput(log).start();
    long deadline = System.currentTimeMillis() + 10_000;
    while (!pings()) {
      if (!process.isAlive()) {
        throw new IOException("redis-server exited with " + process.exitValue() + "; see " + log);
      }
      if (System.currentTimeMillis() > deadline) {
        throw new IOException("redis-server on port " + port + " did not answer PING within 10 s");
      }
      Thread.sleep(20);
    }
    return this;
  }

  /** Kills the server (SIGKILL, the way a crash looks to clients) and waits for it to exit. */
  public void kill() throws InterruptedException {
    if (process != null && process.isAlive()) {
      process.destroyForcibly();
      process.waitFor(10, TimeUnit.SECONDS);
    }
  }

  @Override
  public void close() throws InterruptedException {
    kill();
  }

  /** The reply of an inline command: a status/integer line, or the text of a bulk string; null when down. */
  public String command(String inline) {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", port), 500);
      s.setSoTimeout(2000);
      OutputStream out = s.getOutputStream();
      out.write((inline + "\r\n").getBytes(StandardCharsets.UTF_8));
      out.flush();
      InputStream in = s.getInputStream();
      String first = line(in);
      if (first == null || !first.startsWith("$")) {
        return first;
      }
      int len = Integer.parseInt(first.substring(1));
      return len < 0 ? null : new String(in.readNBytes(len), StandardCharsets.UTF_8);
    } catch (IOException | NumberFormatException e) {
      return null;
    }
  }

  private static String line(InputStream in) throws IOException {
    StringBuilder line = new StringBuilder();
    int c;
    while ((c = in.read()) != -1 && c != '\n') {
      if (c != '\r') {
        line.append((char) c);
      }
    }
    return c == -1 && line.length() == 0 ? null : line.toString();
  }

  public boolean pings() {
    return "+PONG".equals(command("PING"));
  }

  /** Connections with a pattern subscription: one per node whose bridge is subscribed. */
  public int patternSubscribers() {
    String list = command("CLIENT LIST");
    return list == null ? -1 : (int) list.lines().filter(l -> l.contains(" psub=1")).count();
  }
}
