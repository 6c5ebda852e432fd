package dev.switchboard.client;

import dev.switchboard.protocol.CloseCode;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.WebSocket;
import io.vertx.core.http.WebSocketClient;
import io.vertx.core.http.WebSocketClientOptions;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.DoubleSupplier;
import java.util.function.Supplier;

/**
 * A Switchboard client for JVM services, tests and the bench, on the Vert.x WebSocket client, with the
 * semantics of {@code /switchboard.js}: it reconnects with exponential backoff and full jitter (0.5 s base,
 * 30 s cap), rotating through the given URLs; restores every subscription after a reconnect (with
 * {@code since} when the channel's offset is known, surfacing {@code recovered}); pings for liveness; and
 * follows SPEC §4's close codes (1000 stays closed, 1001 reconnects at once elsewhere, 1008 waits for a
 * new token).
 *
 * <pre>{@code
 * SwitchboardClient client = SwitchboardClient.create(vertx, new SwitchboardClient.Options()
 *     .urls("ws://127.0.0.1:8080/ws", "ws://127.0.0.1:8081/ws")
 *     .token(() -> fetchToken()));                       // or .token("eyJ…")
 * client.onStateChange(change -> log.info("switchboard {}", change.state()));
 * client.subscribe("room:lobby", m -> System.out.println(m.fromUser() + ": " + m.message()));
 * client.publish("room:lobby", new JsonObject().put("text", "hi"));
 * }</pre>
 *
 * <p>State lives on one Vert.x context (the caller's, or a new one); every method may be called from any
 * thread and every handler runs on that context.
 */
public final class SwitchboardClient {

  /** Connection states, in the order a connection usually goes through them. */
  public enum State { CONNECTING, CONNECTED, DISCONNECTED, RECONNECTING, CLOSED }

  /**
   * A state change and its cause. Each close is reported by one DISCONNECTED, then RECONNECTING or CLOSED unless
   * the client waits for a token.
   *
   * @param closeCode the close code that ended the last connection (null when not applicable)
   * @param attempt consecutive failed attempts before this one
   * @param delayMs for RECONNECTING: how long until the next attempt
   * @param waitingForToken for DISCONNECTED: the token was refused (1008/4010) and the client reconnects only after
   *     {@link SwitchboardClient#setToken}
   */
  public record StateChange(State state, String url, Integer closeCode, String reason, int attempt, long delayMs,
      boolean waitingForToken) {
    public StateChange(State state, String url, Integer closeCode, String reason, int attempt, long delayMs) {
      this(state, url, closeCode, reason, attempt, delayMs, false);
    }
  }

  /** A message delivered on a channel; offset and epoch are set on channels that keep history. */
  public record Delivery(String channel, Object message, String fromUser, String timestamp, Long offset, String epoch) {
    /** The message when it is a JSON object, else null. */
    public JsonObject json() {
      return message instanceof JsonObject o ? o : null;
    }
  }

  /**
   * A subscription acked by the server.
   *
   * @param recovered after a resubscribe with since: whether every missed message was delivered
   *     (false: resync from your own source of truth); null when not applicable
   * @param resubscribed whether this ack followed a reconnect
   * @param automatic channels the server subscribes by itself (user:&lt;me&gt;, broadcast, segment:…)
   */
  public record Subscribed(String channel, Boolean recovered, boolean resubscribed, boolean automatic) {}

  /** Presence of a channel, cluster-wide. */
  public record Presence(String channel, List<String> users, int count) {}

  /** A handler's subscription to a channel. */
  public interface Subscription {
    String channel();

    /** The ack that completed {@link #subscribe}. */
    Subscribed acked();

    /** Removes this handler; the channel is left when its last handler goes. */
    Future<Void> unsubscribe();
  }

  /** Settings; everything but {@code urls} and {@code token} has a default. */
  public static final class Options {
    // Package-visible: the client and its parts read most of these when they need them, not once at create().
    final List<String> urls = new ArrayList<>();
    Supplier<Future<String>> token;
    boolean fixedToken;
    Duration backoffBase = Duration.ofMillis(500);
    Duration backoffCap = Duration.ofSeconds(30);
    int longBackoffAttempt = 6;
    Duration pingInterval = Duration.ofSeconds(20);
    Duration pongTimeout = Duration.ofSeconds(10);
    Duration connectTimeout = Duration.ofSeconds(10);
    Duration requestTimeout = Duration.ofSeconds(15);
    DoubleSupplier random = () -> ThreadLocalRandom.current().nextDouble();
    WebSocketClient webSocketClient;
    int subscribeBurst = 30;
    double subscribeRate = 15;
    Duration subscribeRetryBase = Duration.ofSeconds(1);
    Duration reorderWindow = Duration.ofSeconds(1);

    /** Endpoints like {@code ws://host:8080/ws}; each attempt takes the next one. */
    public Options urls(String... urls) {
      this.urls.addAll(List.of(urls));
      return this;
    }

    public Options url(String url) {
      return urls(url);
    }

    /** A fixed JWT: after a 1008/4010 close the client waits for {@link #setToken}. */
    public Options token(String token) {
      Objects.requireNonNull(token, "token");
      this.token = () -> Future.succeededFuture(token);
      this.fixedToken = true;
      return this;
    }

    /** Called before every connection attempt and renewal; after a 1008 close a different token is required. */
    public Options token(Supplier<Future<String>> token) {
      this.token = Objects.requireNonNull(token, "token");
      this.fixedToken = false;
      return this;
    }

    /** Full-jitter backoff: attempt n waits uniformly in [0, min(cap, base * 2^n)). */
    public Options backoff(Duration base, Duration cap) {
      this.backoffBase = base;
      this.backoffCap = cap;
      return this;
    }

    /** After close 4029 the backoff starts this many doublings up (default 6: at the cap). */
    public Options longBackoffAttempt(int attempt) {
      this.longBackoffAttempt = attempt;
      return this;
    }

    /** App-level ping period (never longer than the server's heartbeat) and how long to wait for any frame after it. */
    public Options ping(Duration interval, Duration pongTimeout) {
      this.pingInterval = interval;
      this.pongTimeout = pongTimeout;
      return this;
    }

    /**
     * An attempt without auth_success after this long, counted from its start (the token supplier's answer
     * included), is abandoned and counts as failed.
     */
    public Options connectTimeout(Duration timeout) {
      this.connectTimeout = timeout;
      return this;
    }

    /** Default timeout of publish, send, presence, request and history. */
    public Options requestTimeout(Duration timeout) {
      this.requestTimeout = timeout;
      return this;
    }

    /**
     * A WebSocket client to share between many Switchboard clients (the bench opens thousands); the
     * caller closes it. By default each Switchboard client creates and closes its own.
     */
    public Options webSocketClient(WebSocketClient shared) {
      this.webSocketClient = shared;
      return this;
    }

    /**
     * Pace of the client's own (re)subscribes at connect and after each reconnect: {@code burst} at once, then
     * {@code perSecond}. The default 30 and 15/s stay under the server's default budget per session (burst 40,
     * 20/s, SPEC §6) and leave room for what the app sends meanwhile; publish, send and the other requests are
     * not paced.
     */
    public Options subscribePace(int burst, double perSecond) {
      if (burst < 1 || !(perSecond > 0)) {
        throw new IllegalArgumentException("subscribePace needs burst >= 1 and perSecond > 0, got " + burst + ", " + perSecond);
      }
      this.subscribeBurst = burst;
      this.subscribeRate = perSecond;
      return this;
    }

    /**
     * A subscribe the server refused {@code rate_limited} or {@code internal} is sent again after 0.5–1 × this
     * (default 1 s), doubling up to the backoff cap, until it is acked.
     */
    public Options subscribeRetry(Duration base) {
      this.subscribeRetryBase = Objects.requireNonNull(base, "base");
      return this;
    }

    /**
     * How long a gap in a channel's offsets may wait for its late message (two publishing nodes can overtake
     * each other by a few ms) before the position moves past it; default 1 s.
     */
    public Options reorderWindow(Duration window) {
      this.reorderWindow = Objects.requireNonNull(window, "window");
      return this;
    }

    /** Uniform random in [0, 1) for the jitter (tests make it fixed). */
    public Options random(DoubleSupplier random) {
      this.random = random;
      return this;
    }
  }

  /**
   * Full-jitter exponential backoff: uniformly random in [0, min(cap, base * 2^attempt)). Spreads a crowd of
   * clients that lost the same node over the whole window instead of bringing them back in waves.
   */
  public static long backoffDelay(int attempt, long baseMs, long capMs, double random) {
    return Backoff.fullJitter(attempt, baseMs, capMs, random);
  }

  /** What SPEC §4 tells a client to do after a close code; codes it does not name mean "reconnect with backoff". */
  public static CloseCode.Reconnect reconnectPolicy(int code) {
    for (CloseCode c : CloseCode.values()) {
      if (c.code() == code) {
        return c.reconnect();
      }
    }
    return CloseCode.Reconnect.WITH_BACKOFF;
  }

  /** Sent by this client when the server stopped answering pings. */
  public static final short NO_PONG = 4000;
  private static final int ABNORMAL = 1006;

  private final Vertx vertx;
  private final ClientContext context;
  private final Options opts;
  private final List<String> urls;
  private final WebSocketClient wsClient;
  private final boolean ownsWsClient;
  private final List<Handler<StateChange>> stateHandlers = new CopyOnWriteArrayList<>();
  private final List<Handler<Throwable>> errorHandlers = new CopyOnWriteArrayList<>();
  private final Connection connection = new Connection() {
    @Override
    public boolean connected() {
      return state == State.CONNECTED;
    }

    @Override
    public Future<JsonObject> send(JsonObject frame, boolean subscribe, long timeoutMs) {
      return SwitchboardClient.this.send(frame, subscribe, timeoutMs);
    }

    @Override
    public void error(Throwable t) {
      SwitchboardClient.this.error(t);
    }
  };

  // Everything below is touched only on the context.
  private final PendingRequests requests;
  private final Subscriptions subscriptions;
  private final Tokens tokens;
  private boolean waitingForToken;
  private volatile State state = State.DISCONNECTED;
  private WebSocket ws;
  private long socketSeq;
  private int urlIndex;
  private int attempt;
  private volatile int attemptsStarted;
  private boolean started;
  private boolean userClosed;
  private String url;
  private volatile String userId;
  private volatile String node;
  private long reconnectTimer = -1;
  private long pingTimer = -1;
  private long pongTimer = -1;
  private long connectTimer = -1;
  /** The current attempt waits for the token supplier. */
  private boolean awaitingToken;
  private final List<Promise<Void>> connectWaiters = new ArrayList<>();

  private SwitchboardClient(Vertx vertx, Options opts) {
    if (opts.urls.isEmpty()) {
      throw new IllegalArgumentException("give at least one url, e.g. ws://127.0.0.1:8080/ws");
    }
    if (opts.token == null) {
      throw new IllegalArgumentException("give a token (a JWT, or a supplier of one)");
    }
    this.vertx = vertx;
    this.context = new ClientContext(vertx.getOrCreateContext());
    this.opts = opts;
    this.urls = List.copyOf(opts.urls);
    this.requests = new PendingRequests(vertx);
    this.subscriptions = new Subscriptions(vertx, opts, connection, context);
    this.tokens = new Tokens(vertx, opts, connection, context);
    this.ownsWsClient = opts.webSocketClient == null;
    this.wsClient = ownsWsClient ? vertx.createWebSocketClient(new WebSocketClientOptions()
        .setMaxFrameSize(1024 * 1024)
        .setMaxMessageSize(16 * 1024 * 1024)
        .setConnectTimeout((int) opts.connectTimeout.toMillis())) : opts.webSocketClient;
  }

  /** A client that is not connected yet: add handlers, then {@link #connect()}. */
  public static SwitchboardClient create(Vertx vertx, Options options) {
    return new SwitchboardClient(vertx, options);
  }

  // ---- public API --------------------------------------------------------------------------------

  public State state() {
    return state;
  }

  /** The user id of the session (from auth_success), or null before the first connection. */
  public String userId() {
    return userId;
  }

  /** The node this client is connected to (from auth_success). */
  public String node() {
    return node;
  }

  /** Connection attempts started so far (tests and diagnostics). */
  public int attempts() {
    return attemptsStarted;
  }

  public SwitchboardClient onStateChange(Handler<StateChange> handler) {
    stateHandlers.add(handler);
    return this;
  }

  /** Every subscribe ack, including the ones after a reconnect, with {@code recovered}. */
  public SwitchboardClient onSubscribed(Handler<Subscribed> handler) {
    subscriptions.onSubscribed(handler);
    return this;
  }

  /** Error frames that answer nothing (e.g. rate_limited), refused resubscribes, refused tokens. */
  public SwitchboardClient onError(Handler<Throwable> handler) {
    errorHandlers.add(handler);
    return this;
  }

  /** Every delivery on any channel, subscribed by a handler or automatically. */
  public SwitchboardClient onMessage(Handler<Delivery> handler) {
    subscriptions.onMessage(handler);
    return this;
  }

  /**
   * Starts connecting (and keeps reconnecting until {@link #close}). Completes at the next successful
   * authentication; fails if the client was closed or needs a new token first. Also starts again after the
   * server closed for good (1000, 1009), restoring the subscriptions, and, with a token supplier, after a
   * 1008/4010 (the supplier is asked again and must give another token).
   */
  public Future<Void> connect() {
    return context.call(() -> {
      if (userClosed) {
        return Future.failedFuture(new SwitchboardException("closed", "the client was closed; create a new one"));
      }
      if (state == State.CONNECTED) {
        return Future.succeededFuture();
      }
      Promise<Void> p = Promise.promise();
      connectWaiters.add(p);
      boolean stopped = state == State.CLOSED || (waitingForToken && !tokens.fixed());
      if (!started || stopped) {
        started = true;
        waitingForToken = false;
        attempt = 0;
        connectNow();
      } else if (waitingForToken) {
        p.tryFail(new SwitchboardException("unauthorized", "the token was refused; call setToken() with a new one"));
        connectWaiters.remove(p);
      }
      return p.future();
    });
  }

  /**
   * Replaces a fixed token; completes once it is in use. Connected: renews the session with it, one renewal at a
   * time (a newer token replaces one still waiting its turn); if the server refuses it (forbidden: another
   * user's; unauthorized: invalid) the session keeps the token it has, also for reconnecting, and the future
   * fails (also reported to onError). Waiting after 1008/4010: reconnects with it. Otherwise the next attempt
   * uses it.
   */
  public Future<Void> setToken(String token) {
    Objects.requireNonNull(token, "token");
    return setTokenSource(() -> Future.succeededFuture(token), true);
  }

  /** Replaces the token supplier, with the same rules as {@link #setToken(String)}. */
  public Future<Void> setToken(Supplier<Future<String>> token) {
    return setTokenSource(Objects.requireNonNull(token, "token"), false);
  }

  private Future<Void> setTokenSource(Supplier<Future<String>> source, boolean fixed) {
    return context.call(() -> {
      if (state == State.CONNECTED && !userClosed) {
        return tokens.renewWith(source, fixed);
      }
      tokens.replace(source, fixed);
      if (!userClosed && waitingForToken) {
        waitingForToken = false;
        attempt = 0;
        connectNow();
      }
      return Future.succeededFuture();
    });
  }

  /**
   * Subscribes a handler; restored after every reconnect. Completes with the first ack (at once for a
   * channel already acked), fails when the server refuses it (SwitchboardException with the code).
   */
  public Future<Subscription> subscribe(String channel, Handler<Delivery> handler) {
    Objects.requireNonNull(channel, "channel");
    Objects.requireNonNull(handler, "handler");
    return context.call(() -> {
      if (userClosed) {
        return Future.failedFuture(new SwitchboardException("closed", "the client is closed"));
      }
      return subscriptions.subscribe(channel, handler);
    });
  }

  /** Publishes to a channel; completes once the router accepted it. */
  public Future<Void> publish(String channel, Object message) {
    return request(new JsonObject().put("type", "broadcast").put("channel", channel).put("message", message), null).mapEmpty();
  }

  /** A direct message to every session of {@code user}. */
  public Future<Void> send(String user, Object message) {
    return request(new JsonObject().put("type", "send").put("to", user).put("message", message), null).mapEmpty();
  }

  /** Who is subscribed to the channel, cluster-wide. */
  public Future<Presence> presence(String channel) {
    return request(new JsonObject().put("type", "presence").put("channel", channel), null).map(f -> {
      List<String> users = new ArrayList<>();
      JsonArray a = f.getJsonArray("users", new JsonArray());
      a.forEach(u -> users.add(String.valueOf(u)));
      return new Presence(f.getString("channel"), List.copyOf(users), f.getInteger("count", users.size()));
    });
  }

  /** Asks a backend service over the event bus (an address allowed by rpc.allowed); completes with its reply. */
  public Future<Object> request(String address, Object message) {
    return request(new JsonObject().put("type", "request").put("address", address).put("message", message), null)
        .map(f -> f.getValue("message"));
  }

  /** The kept history of a channel: {@code {"channel","messages","offset","epoch"}}; limit null = all kept. */
  public Future<JsonObject> history(String channel, Integer limit) {
    JsonObject f = new JsonObject().put("type", "history").put("channel", channel);
    if (limit != null) {
      f.put("limit", limit);
    }
    return request(f, null);
  }

  /**
   * The channel's stream position as {@code {"offset","epoch"}}, from its acks and messages (channels that keep
   * history), or null: every message up to it was delivered or published before the subscription. A
   * resubscribe sends it as {@code since}.
   */
  public Future<JsonObject> position(String channel) {
    return context.call(() -> Future.succeededFuture(subscriptions.position(channel)));
  }

  /** Closes for good with 1000 and releases the WebSocket client; pending requests fail with code "closed". */
  public Future<Void> close() {
    return context.call(() -> {
      if (!userClosed) {
        userClosed = true;
        waitingForToken = false;
        cancelTimers();
        subscriptions.reset();
        cancel(reconnectTimer);
        reconnectTimer = -1;
        WebSocket s = ws;
        ws = null;
        socketSeq++;
        failAll("closed", "the client was closed");
        boolean open = s != null && !s.isClosed();
        if (open) {
          // As when the server closes it (and as switchboard.js does): the socket's end is reported, then CLOSED.
          setState(State.DISCONNECTED, 1000, "client closed", 0);
        }
        setState(State.CLOSED, 1000, "client closed", 0);
        Future<Void> closing = open ? s.close((short) 1000, "client closed").otherwiseEmpty() : Future.succeededFuture();
        return ownsWsClient ? closing.eventually(wsClient::close) : closing;
      }
      return Future.succeededFuture();
    });
  }

  // ---- connection --------------------------------------------------------------------------------

  private void connectNow() {
    if (userClosed) {
      return;
    }
    reconnectTimer = -1;
    long seq = ++socketSeq;
    String target = urls.get(urlIndex % urls.size());
    urlIndex = (urlIndex + 1) % urls.size();
    url = target;
    attemptsStarted++;
    setState(State.CONNECTING, null, null, 0);
    // One deadline for the whole attempt, so a token supplier that never answers cannot hold it for good.
    long timeoutMs = opts.connectTimeout.toMillis();
    connectTimer = vertx.setTimer(timeoutMs, t -> {
      connectTimer = -1;
      if (seq != socketSeq) {
        return;
      }
      if (awaitingToken) {
        awaitingToken = false;
        socketSeq++; // its token, should it still come, is for an attempt that is over
        error(new SwitchboardException("token", "the token supplier gave no token within " + timeoutMs + " ms"));
        if (!userClosed) { // an onError handler may have closed the client
          scheduleReconnect(CloseCode.Reconnect.WITH_BACKOFF, null, "no token within " + timeoutMs + " ms");
        }
      } else {
        abandon(ABNORMAL, "no auth_success within " + timeoutMs + " ms");
      }
    });
    awaitingToken = true;
    tokens.fetch().onComplete(ar -> context.run(() -> {
      if (seq != socketSeq || userClosed) {
        return;
      }
      awaitingToken = false;
      if (ar.failed()) {
        error(new SwitchboardException("token", "the token supplier failed: " + ar.cause().getMessage()));
        scheduleReconnect(CloseCode.Reconnect.WITH_BACKOFF, null, "token supplier failed");
        return;
      }
      String token = ar.result();
      if (tokens.refusedAgain(token)) {
        // No socket closed this time, hence no close code (as switchboard.js reports it).
        waitForToken(null, "the token supplier returned the token the server refused");
        return;
      }
      tokens.sending(token);
      open(seq, target, token);
    }));
  }
  private void open(long seq, String target, String token) {
    WebSocketConnectOptions co;
    try {
      co = connectOptions(target);
    } catch (IllegalArgumentException e) {
      error(new SwitchboardException("connect", "bad url " + target + ": " + e.getMessage()));
      scheduleReconnect(CloseCode.Reconnect.WITH_BACKOFF, null, "bad url");
      return;
    }
    co.putHeader(HttpHeaders.AUTHORIZATION, "Bearer " + token);
    wsClient.connect(co).onComplete(ar -> {
      if (seq != socketSeq) {
        if (ar.succeeded()) {
          ar.result().close().otherwiseEmpty();
        }
        return;
      }
      if (ar.failed()) {
        onClosed(ABNORMAL, ar.cause().getMessage());
        return;
      }
      WebSocket socket = ar.result();
      ws = socket;
      socket.textMessageHandler(text -> {
        if (seq == socketSeq) {
          onText(text);
        }
      });
      socket.exceptionHandler(err -> {
        // The close handler follows and decides what to do.
      });
      socket.closeHandler(v -> {
        if (seq == socketSeq) {
          Short code = socket.closeStatusCode();
          onClosed(code == null ? ABNORMAL : code, socket.closeReason());
        }
      });
    });
  }

  static WebSocketConnectOptions connectOptions(String url) {
    URI u = URI.create(url);
    String scheme = u.getScheme() == null ? "" : u.getScheme().toLowerCase();
    boolean ssl = switch (scheme) {
      case "ws", "http" -> false;
      case "wss", "https" -> true;
      default -> throw new IllegalArgumentException("scheme must be ws or wss");
    };
    if (u.getHost() == null) {
      throw new IllegalArgumentException("no host");
    }
    int port = u.getPort() > 0 ? u.getPort() : ssl ? 443 : 80;
    String path = u.getRawPath() == null || u.getRawPath().isEmpty() ? "/" : u.getRawPath();
    if (u.getRawQuery() != null) {
      path += "?" + u.getRawQuery();
    }
    return new WebSocketConnectOptions().setHost(u.getHost()).setPort(port).setSsl(ssl).setURI(path);
  }

  /** Gives up on the current socket without waiting for a close handshake that may never come. */
  private void abandon(int code, String reason) {
    WebSocket s = ws;
    socketSeq++;
    ws = null;
    if (s != null) {
      s.close(NO_PONG, reason.length() > 120 ? reason.substring(0, 120) : reason).otherwiseEmpty();
    }
    onClosed(code, reason);
  }

  private void onClosed(int code, String reason) {
    boolean wasConnected = state == State.CONNECTED;
    ws = null;
    socketSeq++;
    cancelTimers();
    subscriptions.reset();
    requests.dropInFlight();
    CloseCode.Reconnect policy = reconnectPolicy(code);
    if (policy == CloseCode.Reconnect.WITH_NEW_TOKEN && tokens.fixed() && !userClosed) {
      // One DISCONNECTED per close: this one already says that the client waits for a token.
      waitForToken(code, reason);
      return;
    }
    setState(State.DISCONNECTED, code, reason, attempt);
    if (userClosed) {
      return;
    }
    if (policy == CloseCode.Reconnect.AT_ONCE && !wasConnected) {
      // 1001 before a session was established: the node is draining; do not spin on it.
      policy = CloseCode.Reconnect.WITH_BACKOFF;
    }
    switch (policy) {
      case NO -> {
        failAll("closed", "connection closed by the server (" + code + (reason == null ? "" : " " + reason) + ")");
        if (code == CloseCode.MESSAGE_TOO_BIG.code()) {
          error(new SwitchboardException("too_large", "a frame was larger than the server's max_message_size"));
        }
        setState(State.CLOSED, code, reason, attempt);
      }
      case WITH_NEW_TOKEN -> {
        tokens.requireNew();
        scheduleReconnect(CloseCode.Reconnect.WITH_BACKOFF, code, reason);
      }
      default -> scheduleReconnect(policy, code, reason);
    }
  }

  /** @param code the close that refused the token, or null when the supplier gave back a token refused before */
  private void waitForToken(Integer code, String reason) {
    cancelConnectTimer();
    waitingForToken = true;
    state = State.DISCONNECTED;
    emitState(new StateChange(State.DISCONNECTED, url, code, reason, attempt, 0, true));
    SwitchboardException e = new SwitchboardException("unauthorized", (code == null ? reason
        : "the server refused the token (close " + code + ")") + "; call setToken() with a new one to reconnect");
    failConnectWaiters(e);
    error(e);
  }

  private void scheduleReconnect(CloseCode.Reconnect policy, Integer code, String reason) {
    cancelConnectTimer(); // the attempt failed before it had a socket to close
    if (policy == CloseCode.Reconnect.WITH_LONG_BACKOFF) {
      attempt = Math.max(attempt, opts.longBackoffAttempt);
    }
    long delay = policy == CloseCode.Reconnect.AT_ONCE ? 0
        : Backoff.fullJitter(attempt, opts.backoffBase.toMillis(), opts.backoffCap.toMillis(), opts.random.getAsDouble());
    int n = attempt++;
    String next = urls.get(urlIndex % urls.size());
    state = State.RECONNECTING;
    emitState(new StateChange(State.RECONNECTING, next, code, reason, n, delay));
    if (delay == 0) {
      reconnectTimer = -1;
      context.later(this::connectNow);
    } else {
      reconnectTimer = vertx.setTimer(delay, t -> connectNow());
    }
  }

  // ---- inbound -----------------------------------------------------------------------------------

  private void onText(String text) {
    cancel(pongTimer);
    pongTimer = -1;
    JsonObject f;
    try {
      f = new JsonObject(text);
    } catch (RuntimeException e) {
      error(new SwitchboardException("bad_frame", "the server sent a frame that is not a JSON object"));
      return;
    }
    String type = f.getString("type", "");
    switch (type) {
      case "auth_success" -> onAuthSuccess(f);
      case "message" -> subscriptions.deliver(f);
      case "pong" -> { }
      default -> {
        if (!requests.answer(f) && "error".equals(type)) {
          error(new SwitchboardException(f.getString("code"), f.getString("message")));
        }
      }
    }
  }

  private void onAuthSuccess(JsonObject f) {
    // The answer to a renewal, or one the session no longer waits for.
    if (requests.answer(f) || state == State.CONNECTED) {
      tokens.scheduleRenewal(f.getLong("expires_in"));
      return;
    }
    cancelConnectTimer();
    attempt = 0;
    userId = f.getString("user_id");
    node = f.getString("node");
    Set<String> auto = new HashSet<>();
    f.getJsonArray("channels", new JsonArray()).forEach(c -> auto.add(String.valueOf(c)));
    subscriptions.automatic(auto);
    // Queued before the app hears CONNECTED, so a subscribe it makes on that event joins this pass (one frame,
    // one ack) instead of going out ahead of it and again in it.
    subscriptions.newSession();
    setState(State.CONNECTED, null, null, 0);
    for (Promise<Void> w : List.copyOf(connectWaiters)) {
      w.tryComplete();
    }
    connectWaiters.clear();
    if (state != State.CONNECTED) {
      return;
    }
    schedulePing(f.getInteger("heartbeat", 0));
    tokens.scheduleRenewal(f.getLong("expires_in"));
    subscriptions.sendQueued();
    if (state != State.CONNECTED) {
      return;
    }
    requests.sendQueued(this::write);
  }

  // ---- requests ----------------------------------------------------------------------------------

  private Future<JsonObject> request(JsonObject frame, Duration timeout) {
    long ms = (timeout == null ? opts.requestTimeout : timeout).toMillis();
    return context.call(() -> send(frame, false, ms));
  }

  /** On the context: sends now when connected, else queues until the next authentication. */
  private Future<JsonObject> send(JsonObject frame, boolean subscribe, long timeoutMs) {
    if (userClosed || state == State.CLOSED) {
      return Future.failedFuture(new SwitchboardException("closed", "the client is closed; connect() it again first"));
    }
    return requests.add(frame, subscribe, timeoutMs, state == State.CONNECTED ? this::write : null);
  }

  private void failAll(String code, String message) {
    requests.failAll(code, message);
    subscriptions.failWaiters(code, message);
    failConnectWaiters(new SwitchboardException(code, message));
  }

  private void failConnectWaiters(Throwable t) {
    for (Promise<Void> w : List.copyOf(connectWaiters)) {
      w.tryFail(t);
    }
    connectWaiters.clear();
  }

  private void write(JsonObject frame) {
    WebSocket s = ws;
    if (s != null && !s.isClosed()) {
      s.writeTextMessage(frame.encode());
    }
  }

  // ---- liveness ----------------------------------------------------------------------------------

  private void schedulePing(int heartbeatSeconds) {
    long interval = heartbeatSeconds > 0
        ? Math.min(opts.pingInterval.toMillis(), heartbeatSeconds * 1000L) : opts.pingInterval.toMillis();
    long seq = socketSeq;
    pingTimer = vertx.setTimer(interval, t -> {
      pingTimer = -1;
      if (seq != socketSeq || state != State.CONNECTED) {
        return;
      }
      write(new JsonObject().put("type", "ping"));
      if (pongTimer < 0) {
        pongTimer = vertx.setTimer(opts.pongTimeout.toMillis(), t2 -> {
          pongTimer = -1;
          if (seq == socketSeq) {
            abandon(NO_PONG, "no pong within " + opts.pongTimeout.toMillis() + " ms");
          }
        });
      }
      schedulePing(heartbeatSeconds);
    });
  }

  // ---- plumbing ----------------------------------------------------------------------------------

  private void setState(State s, Integer code, String reason, int n) {
    if (state == s) {
      return;
    }
    state = s;
    emitState(new StateChange(s, url, code, reason, n, 0));
  }

  private void emitState(StateChange change) {
    for (Handler<StateChange> h : stateHandlers) {
      try {
        h.handle(change);
      } catch (RuntimeException e) {
        error(e);
      }
    }
  }

  private void error(Throwable t) {
    for (Handler<Throwable> h : errorHandlers) {
      try {
        h.handle(t);
      } catch (RuntimeException ignored) {
        // an error handler failing has nowhere else to go
      }
    }
  }

  private void cancelTimers() {
    cancelConnectTimer();
    cancel(pingTimer);
    cancel(pongTimer);
    tokens.cancelRenewal();
    pingTimer = pongTimer = -1;
  }

  private void cancelConnectTimer() {
    cancel(connectTimer);
    connectTimer = -1;
    awaitingToken = false;
  }

  private void cancel(long timer) {
    if (timer >= 0) {
      vertx.cancelTimer(timer);
    }
  }
}
