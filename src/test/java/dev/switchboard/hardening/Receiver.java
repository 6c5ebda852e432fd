package dev.switchboard.hardening;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.http.WebSocket;
import io.vertx.core.http.WebSocketClient;
import io.vertx.core.http.WebSocketClientOptions;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.BitSet;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A well-behaved client: authenticates with a first {@code auth} frame that subscribes it to one channel,
 * then reads everything and records which sequence numbers ({@code message.seq}) arrived, how many twice,
 * and how it was closed. Parses every frame, as a real client would; keeps counts, not frames.
 */
public final class Receiver {

  private final WebSocketClient client;
  private final String channel;
  private final BitSet seen = new BitSet();
  private final Promise<Short> closed = Promise.promise();
  private final Promise<JsonObject> authed = Promise.promise();
  private final AtomicLong bytes = new AtomicLong();
  private WebSocket ws;
  private int duplicates;
  private int messages;
  private volatile long lastPingSentNanos;
  private final AtomicLong worstPongNanos = new AtomicLong();
  private int pongs;

  private Receiver(WebSocketClient client, String channel) {
    this.client = client;
    this.channel = channel;
  }

  public static Future<Receiver> connect(Vertx vertx, int port, String token, String channel) {
    WebSocketClient client = vertx.createWebSocketClient(new WebSocketClientOptions()
        .setMaxFrameSize(1024 * 1024).setMaxMessageSize(1024 * 1024));
    Receiver r = new Receiver(client, channel);
    return client.connect(new WebSocketConnectOptions().setHost("127.0.0.1").setPort(port).setURI("/ws"))
        .compose(ws -> {
          r.ws = ws;
          ws.textMessageHandler(r::onText);
          ws.closeHandler(v -> r.closed.tryComplete(ws.closeStatusCode()));
          return ws.writeTextMessage(new JsonObject().put("type", "auth").put("token", token)
              .put("channels", new JsonArray().add(channel)).encode());
        })
        .compose(v -> r.authed.future())
        .map(ok -> {
          if (!ok.getJsonArray("channels", new JsonArray()).contains(channel)) {
            throw new IllegalStateException("not subscribed to " + channel + ": " + ok);
          }
          return r;
        })
        .onFailure(e -> client.close());
  }

  private synchronized void onText(String text) {
    bytes.addAndGet(text.length());
    JsonObject f = new JsonObject(text);
    String type = f.getString("type");
    if ("message".equals(type) && channel.equals(f.getString("channel"))
        && f.getValue("message") instanceof JsonObject m && m.getValue("seq") instanceof Number n) {
      messages++;
      if (seen.get(n.intValue())) {
        duplicates++;
      }
      seen.set(n.intValue());
    } else if ("auth_success".equals(type)) {
      authed.tryComplete(f);
    } else if ("error".equals(type) && !authed.future().isComplete()) {
      authed.tryFail("auth refused: " + f);
    } else if ("pong".equals(type)) {
      pongs++;
      worstPongNanos.accumulateAndGet(System.nanoTime() - lastPingSentNanos, Math::max);
    }
  }

  /** Sends an application ping; the pong's delay is recorded (one outstanding at a time is enough here). */
  public void ping() {
    lastPingSentNanos = System.nanoTime();
    ws.writeTextMessage("{\"type\":\"ping\"}");
  }

  public long worstPongMillis() {
    return worstPongNanos.get() / 1_000_000;
  }

  public synchronized int pongs() {
    return pongs;
  }

  /** Whether every sequence number in expected arrived. */
  public synchronized boolean hasAll(BitSet expected) {
    BitSet missing = (BitSet) expected.clone();
    missing.andNot(seen);
    return missing.isEmpty();
  }

  public synchronized int missingFrom(BitSet expected) {
    BitSet missing = (BitSet) expected.clone();
    missing.andNot(seen);
    return missing.cardinality();
  }

  public synchronized int received() {
    return seen.cardinality();
  }

  public synchronized int messages() {
    return messages;
  }

  public synchronized int duplicates() {
    return duplicates;
  }

  public long bytes() {
    return bytes.get();
  }

  public boolean isClosed() {
    return closed.future().isComplete();
  }

  public Future<Short> closed() {
    return closed.future();
  }

  public Future<Void> close() {
    Future<Void> f = ws == null || ws.isClosed() ? Future.succeededFuture() : ws.close();
    return f.eventually(client::close);
  }
}
