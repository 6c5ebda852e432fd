package dev.switchboard.testing;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.http.WebSocket;
import io.vertx.core.http.WebSocketClient;
import io.vertx.core.http.WebSocketClientOptions;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.http.WebSocketFrameType;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;

/**
 * A raw protocol client for tests: sends frames, buffers every frame received, and hands them out to
 * waiters by predicate. Every wait is bounded by the caller's timeout.
 */
public final class WsClient {

  private final Vertx vertx;
  private final WebSocketClient client;
  private WebSocket ws;
  private final LinkedList<JsonObject> buffered = new LinkedList<>();
  private final List<Waiter> waiters = new ArrayList<>();
  private final List<JsonObject> all = new ArrayList<>();
  private final Promise<Short> closed = Promise.promise();
  private String closeReason;
  private final AtomicInteger pings = new AtomicInteger();

  private record Waiter(Predicate<JsonObject> match, Promise<JsonObject> promise) {}

  private WsClient(Vertx vertx, WebSocketClient client) {
    this.vertx = vertx;
    this.client = client;
  }

  public static Future<WsClient> connect(Vertx vertx, int port, String query) {
    return connect(vertx, new WebSocketConnectOptions().setHost("127.0.0.1").setPort(port)
        .setURI("/ws" + (query == null ? "" : "?" + query)));
  }

  /** Connects with ?token=… and waits for auth_success. */
  public static Future<WsClient> authed(Vertx vertx, int port, String token) {
    return connect(vertx, port, "token=" + token).compose(c -> c.next("auth_success", 10_000).map(f -> c));
  }

  public static Future<WsClient> connect(Vertx vertx, WebSocketConnectOptions opts) {
    return connect(vertx, new WebSocketClientOptions(), opts);
  }

  /** With explicit client options: TLS (setSsl, setTrustAll), a loopback source address (setLocalAddress) … */
  public static Future<WsClient> connect(Vertx vertx, WebSocketClientOptions clientOptions, WebSocketConnectOptions opts) {
    WebSocketClient client = vertx.createWebSocketClient(new WebSocketClientOptions(clientOptions)
        .setMaxFrameSize(1024 * 1024).setMaxMessageSize(4 * 1024 * 1024));
    WsClient c = new WsClient(vertx, client);
    // Connect from an event-loop context, so the handlers are attached on the socket's own loop before it
    // reads another frame; from the test thread, a first frame (an auth error, a 4029 close) could be
    // processed before they are set, and lost.
    Promise<WsClient> connected = Promise.promise();
    vertx.getOrCreateContext().runOnContext(v -> client.connect(opts).onComplete(ar -> {
      if (ar.succeeded()) {
        c.attach(ar.result());
        connected.complete(c);
      } else {
        client.close();
        connected.fail(ar.cause());
      }
    }));
    return connected.future();
  }

  private void attach(WebSocket socket) {
    this.ws = socket;
    if (socket.isClosed()) {
      closeReason = socket.closeReason();
      closed.tryComplete(socket.closeStatusCode());
      return;
    }
    socket.textMessageHandler(text -> onFrame(new JsonObject(text)));
    // Vert.x answers pings by itself; the frame handler still sees them, so tests can count heartbeats.
    socket.frameHandler(f -> {
      if (f.type() == WebSocketFrameType.PING) {
        pings.incrementAndGet();
      }
    });
    socket.closeHandler(v -> {
      closeReason = socket.closeReason();
      closed.tryComplete(socket.closeStatusCode());
    });
  }

  private synchronized void onFrame(JsonObject f) {
    all.add(f);
    for (Iterator<Waiter> it = waiters.iterator(); it.hasNext(); ) {
      Waiter w = it.next();
      if (w.match.test(f)) {
        it.remove();
        w.promise.tryComplete(f);
        return;
      }
    }
    buffered.add(f);
  }

  public WebSocket socket() {
    return ws;
  }

  /** WebSocket ping frames received from the server so far. */
  public int pingsSeen() {
    return pings.get();
  }

  public Future<Void> send(JsonObject frame) {
    return ws.writeTextMessage(frame.encode());
  }

  public Future<Void> sendText(String text) {
    return ws.writeTextMessage(text);
  }

  /** The next frame (buffered or future) that matches, failing after timeoutMs. */
  public synchronized Future<JsonObject> next(Predicate<JsonObject> match, long timeoutMs) {
    for (Iterator<JsonObject> it = buffered.iterator(); it.hasNext(); ) {
      JsonObject f = it.next();
      if (match.test(f)) {
        it.remove();
        return Future.succeededFuture(f);
      }
    }
    Promise<JsonObject> p = Promise.promise();
    Waiter w = new Waiter(match, p);
    waiters.add(w);
    long timer = vertx.setTimer(timeoutMs, t -> {
      synchronized (this) {
        waiters.remove(w);
      }
      p.tryFail("no matching frame within " + timeoutMs + " ms; received so far: " + all);
    });
    return p.future().onComplete(ar -> vertx.cancelTimer(timer));
  }

  public Future<JsonObject> next(String type, long timeoutMs) {
    return next(f -> type.equals(f.getString("type")), timeoutMs);
  }

  /** The answer to request {@code id}: an ack, error, reply, presence … frame carrying that id. */
  public Future<JsonObject> answer(Object id, long timeoutMs) {
    return next(f -> id.equals(f.getValue("id")), timeoutMs);
  }

  /** Sends a frame with the id set and waits for the frame answering it. */
  public Future<JsonObject> request(Object id, JsonObject frame, long timeoutMs) {
    Future<JsonObject> answer = answer(id, timeoutMs);
    send(frame.copy().put("id", id));
    return answer;
  }

  /** Completes with the close status code, failing after timeoutMs. */
  public Future<Short> closed(long timeoutMs) {
    Promise<Short> p = Promise.promise();
    long timer = vertx.setTimer(timeoutMs, t -> p.tryFail("not closed within " + timeoutMs + " ms"));
    closed.future().onComplete(ar -> {
      vertx.cancelTimer(timer);
      p.tryComplete(ar.result());
    });
    return p.future();
  }

  public String closeReason() {
    return closeReason;
  }

  public synchronized List<JsonObject> received() {
    return new ArrayList<>(all);
  }

  public Future<Void> close() {
    Future<Void> f = ws == null || ws.isClosed() ? Future.succeededFuture() : ws.close();
    return f.eventually(client::close);
  }
}
