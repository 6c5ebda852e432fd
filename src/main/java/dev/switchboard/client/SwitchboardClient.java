package dev.switchboard.client;

import dev.switchboard.protocol.CloseCode;
import io.vertx.core.Context;
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
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
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
    private final List<String> urls = new ArrayList<>();
    private Supplier<Future<String>> token;
    private boolean fixedToken;
    private Duration backoffBase = Duration.ofMillis(500);
    private Duration backoffCap = Duration.ofSeconds(30);
    private int longBackoffAttempt = 6;
    private Duration pingInterval = Duration.ofSeconds(20);
    private Duration pongTimeout = Duration.ofSeconds(10);
    private Duration connectTimeout = Duration.ofSeconds(10);
    private Duration requestTimeout = Duration.ofSeconds(15);
    private DoubleSupplier random = () -> ThreadLocalRandom.current().nextDouble();
    private WebSocketClient webSocketClient;
    private int subscribeBurst = 30;
    private double subscribeRate = 15;
    private Duration subscribeRetryBase = Duration.ofSeconds(1);
    private Duration reorderWindow = Duration.ofSeconds(1);

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

    /** An attempt without auth_success after this long is abandoned. */
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
    double ceiling = Math.min((double) capMs, baseMs * Math.pow(2, Math.min(attempt, 30)));
    return (long) Math.floor(random * ceiling);
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
  private static final Set<String> FINAL_SUBSCRIBE_ERRORS = Set.of("forbidden", "bad_request", "too_large", "unauthorized");

  private final Vertx vertx;
  private final Context ctx;
  private final Options opts;
  private final List<String> urls;
  private final WebSocketClient wsClient;
  private final boolean ownsWsClient;
  private final List<Handler<StateChange>> stateHandlers = new CopyOnWriteArrayList<>();
  private final List<Handler<Subscribed>> subscribedHandlers = new CopyOnWriteArrayList<>();
  private final List<Handler<Throwable>> errorHandlers = new CopyOnWriteArrayList<>();
  private final List<Handler<Delivery>> messageHandlers = new CopyOnWriteArrayList<>();

  // Everything below is touched only on ctx.
  private final Map<String, Entry> subs = new LinkedHashMap<>();
  private final Map<Long, Pending> pending = new LinkedHashMap<>();
  /** Entries whose (re)subscribe waits for the pace, in order. */
  private final ArrayDeque<Entry> subQueue = new ArrayDeque<>();
  private double subTokens;
  private long subTokensAt;
  private long subPumpTimer = -1;
  /** Counts sessions, so a subscribe retry armed on an earlier one does nothing. */
  private long connId;
  private Set<String> automatic = Set.of();
  private Supplier<Future<String>> tokenSource;
  private boolean fixedToken;
  private String lastToken;
  // The server answers one auth at a time ("authentication already in progress" otherwise): renewals queue here.
  private RenewJob renewInFlight;
  private RenewJob renewNext;
  /** Numbers setToken() calls, so an older renewal finishing late cannot undo a newer token. */
  private long tokenSeq;
  private long tokenInUse;
  private boolean needNewToken;
  private boolean waitingForToken;
  private volatile State state = State.DISCONNECTED;
  private WebSocket ws;
  private long socketSeq;
  private long nextId = 1;
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
  private long renewTimer = -1;
  private final List<Promise<Void>> connectWaiters = new ArrayList<>();

  /**
   * A channel's handlers and its position.
   *
   * <p>The position ({@link #offset}) is the offset up to which every message was delivered or published before
   * the subscription; {@link #ahead} holds the offsets delivered above it. Several nodes may publish to one
   * channel, so 46 can arrive before 42: resuming from the highest offset seen would lose 42..45. A gap that
   * stays open longer than the reorder window is taken as lost, and an ack with a position closes what it
   * covers, so the position never sticks below the live stream.
   */
  private final class Entry {
    final String channel;
    final List<Handler<Delivery>> handlers = new ArrayList<>();
    final List<Promise<Subscribed>> waiters = new ArrayList<>();
    Long offset;
    String epoch;
    TreeSet<Long> ahead = new TreeSet<>();
    /** The offsets delivered lately, so a replay of one of them is not delivered twice. */
    LinkedHashSet<Long> delivered = new LinkedHashSet<>();
    long gapTimer = -1;
    Subscribed acked;
    boolean queued;
    boolean resubscribe;
    int retries;
    long retryTimer = -1;
    /** The session its last subscribe frame was sent on: an entry still queued has nothing to leave. */
    long sentOn = -1;
    /** The server refused the subscribe of this automatic channel: the session is on it anyway, without a position. */
    boolean automaticRefused;

    /** Records a delivery; false when it was already delivered (a replay after a reconnect). */
    boolean track(long o, String ep) {
      if (!ep.equals(epoch)) {
        // The channel's history was lost and began again: the old position means nothing in the new epoch.
        resetPosition(ep, null);
      }
      if (!delivered.add(o)) {
        return false;
      }
      if (delivered.size() > 2048) {
        delivered.remove(delivered.iterator().next());
      }
      // At or below the position yet never delivered: published just before the ack's position was read, and
      // late. Deliver it; the position already covers it.
      if (offset == null || o > offset) {
        ahead.add(o);
        settlePosition();
      }
      return true;
    }

    /** Takes the position an ack carries (plain subscribe, recovered true or false); never backwards in an epoch. */
    void positionFromAck(JsonObject ack) {
      Long o = ack.getValue("offset") instanceof Number n ? n.longValue() : null;
      String ep = ack.getString("epoch");
      if (o != null && ep != null) {
        if (!ep.equals(epoch)) {
          resetPosition(ep, o);
        } else if (offset == null || o > offset) {
          offset = o; // what is below was replayed, or published before the subscription
        }
        settlePosition();
      } else if (Boolean.FALSE.equals(ack.getBoolean("recovered"))) {
        // The server cannot send what is missing: do not wait for it.
        closeGap();
      }
    }

    /** The position a resubscribe resumes from, or null when none is known yet. */
    JsonObject position() {
      if (epoch == null) {
        return null;
      }
      Long o = offset;
      if (o == null) {
        // No ack with a position yet: the run of messages seen so far, from the lowest.
        if (ahead.isEmpty()) {
          return null;
        }
        o = ahead.first();
        while (ahead.contains(o + 1)) {
          o++;
        }
      }
      return new JsonObject().put("offset", o).put("epoch", epoch);
    }

    void resetPosition(String ep, Long o) {
      epoch = ep;
      offset = o;
      ahead = new TreeSet<>();
      delivered = new LinkedHashSet<>();
      cancelGap();
    }

    void settlePosition() {
      if (offset != null) {
        ahead.headSet(offset, true).clear();
        while (ahead.remove(offset + 1)) {
          offset++;
        }
      }
      if (ahead.isEmpty()) {
        cancelGap();
      } else if (ahead.size() > 1000) {
        closeGap();
      } else if (gapTimer < 0) {
        gapTimer = vertx.setTimer(Math.max(1, opts.reorderWindow.toMillis()), t -> {
          gapTimer = -1;
          if (subs.get(channel) == this) {
            closeGap();
          }
        });
      }
    }

    /** Moves the position past a gap whose messages are not coming: the highest offset delivered. */
    void closeGap() {
      cancelGap();
      if (!ahead.isEmpty()) {
        offset = offset == null ? ahead.last() : Math.max(offset, ahead.last());
        ahead.clear();
      }
    }

    void cancelGap() {
      cancel(gapTimer);
      gapTimer = -1;
    }

    Entry(String channel) {
      this.channel = channel;
    }
  }

  /** A renewal waiting its turn; seq 0: the renewal timer asking the supplier again, which changes no token. */
  private static final class RenewJob {
    Supplier<Future<String>> source;
    boolean fixed;
    long seq;
    final List<Promise<Void>> waiters = new ArrayList<>();
  }

  private static final class Pending {
    final JsonObject frame;
    final Promise<JsonObject> promise;
    final boolean subscribe;
    long timer = -1;
    boolean sent;

    Pending(JsonObject frame, Promise<JsonObject> promise, boolean subscribe) {
      this.frame = frame;
      this.promise = promise;
      this.subscribe = subscribe;
    }
  }

  private SwitchboardClient(Vertx vertx, Options opts) {
    if (opts.urls.isEmpty()) {
      throw new IllegalArgumentException("give at least one url, e.g. ws://127.0.0.1:8080/ws");
    }
    if (opts.token == null) {
      throw new IllegalArgumentException("give a token (a JWT, or a supplier of one)");
    }
    this.vertx = vertx;
    this.ctx = vertx.getOrCreateContext();
    this.opts = opts;
    this.urls = List.copyOf(opts.urls);
    this.tokenSource = opts.token;
    this.fixedToken = opts.fixedToken;
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
    subscribedHandlers.add(handler);
    return this;
  }

  /** Error frames that answer nothing (e.g. rate_limited), refused resubscribes, refused tokens. */
  public SwitchboardClient onError(Handler<Throwable> handler) {
    errorHandlers.add(handler);
    return this;
  }

  /** Every delivery on any channel, subscribed by a handler or automatically. */
  public SwitchboardClient onMessage(Handler<Delivery> handler) {
    messageHandlers.add(handler);
    return this;
  }

  /**
   * Starts connecting (and keeps reconnecting until {@link #close}). Completes at the next successful
   * authentication; fails if the client was closed or needs a new token first. Also starts again after the
   * server closed for good (1000, 1009), restoring the subscriptions, and, with a token supplier, after a
   * 1008/4010 (the supplier is asked again and must give another token).
   */
  public Future<Void> connect() {
    return call(() -> {
      if (userClosed) {
        return Future.failedFuture(new SwitchboardException("closed", "the client was closed; create a new one"));
      }
      if (state == State.CONNECTED) {
        return Future.succeededFuture();
      }
      Promise<Void> p = Promise.promise();
      connectWaiters.add(p);
      boolean stopped = state == State.CLOSED || (waitingForToken && !fixedToken);
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
    return call(() -> {
      long seq = ++tokenSeq;
      if (state == State.CONNECTED && !userClosed) {
        return queueRenewal(source, fixed, seq);
      }
      useToken(source, fixed, seq);
      if (!userClosed && waitingForToken) {
        waitingForToken = false;
        attempt = 0;
        connectNow();
      }
      return Future.succeededFuture();
    });
  }

  /** Makes a token the one connection attempts use, unless a newer setToken() already took its place. */
  private void useToken(Supplier<Future<String>> source, boolean fixed, long seq) {
    if (seq >= tokenInUse) {
      tokenInUse = seq;
      tokenSource = source;
      fixedToken = fixed;
      needNewToken = false;
    }
  }

  /**
   * Subscribes a handler; restored after every reconnect. Completes with the first ack (at once for a
   * channel already acked), fails when the server refuses it (SwitchboardException with the code).
   */
  public Future<Subscription> subscribe(String channel, Handler<Delivery> handler) {
    Objects.requireNonNull(channel, "channel");
    Objects.requireNonNull(handler, "handler");
    return call(() -> {
      if (userClosed) {
        return Future.failedFuture(new SwitchboardException("closed", "the client is closed"));
      }
      Entry e = subs.get(channel);
      boolean isNew = e == null;
      if (isNew) {
        e = new Entry(channel);
        subs.put(channel, e);
      }
      e.handlers.add(handler);
      Entry entry = e;
      Promise<Subscribed> acked = Promise.promise();
      if (e.acked != null) {
        acked.complete(e.acked);
      } else {
        e.waiters.add(acked);
      }
      if (isNew && state == State.CONNECTED) {
        enqueueSubscribe(e, false, true);
      }
      return acked.future().map(info -> new Subscription() {
        @Override
        public String channel() {
          return channel;
        }

        @Override
        public Subscribed acked() {
          return info;
        }

        @Override
        public Future<Void> unsubscribe() {
          return call(() -> removeHandler(entry, handler));
        }
      });
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
    return call(() -> {
      Entry e = subs.get(channel);
      return Future.succeededFuture(e == null ? null : e.position());
    });
  }

  /** Closes for good with 1000 and releases the WebSocket client; pending requests fail with code "closed". */
  public Future<Void> close() {
    return call(() -> {
      if (!userClosed) {
        userClosed = true;
        waitingForToken = false;
        cancelTimers();
        resetSubscribes();
        cancel(reconnectTimer);
        reconnectTimer = -1;
        WebSocket s = ws;
        ws = null;
        socketSeq++;
        failAll("closed", "the client was closed");
        setState(State.CLOSED, 1000, "client closed", 0);
        Future<Void> closing = s == null || s.isClosed() ? Future.succeededFuture()
            : s.close((short) 1000, "client closed").otherwiseEmpty();
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
    Future<String> tokenFuture;
    try {
      tokenFuture = tokenSource.get();
    } catch (RuntimeException e) {
      tokenFuture = Future.failedFuture(e);
    }
    tokenFuture.onComplete(ar -> run(() -> {
      if (seq != socketSeq || userClosed) {
        return;
      }
      if (ar.failed()) {
        error(new SwitchboardException("token", "the token supplier failed: " + ar.cause().getMessage()));
        scheduleReconnect(CloseCode.Reconnect.WITH_BACKOFF, null, "token supplier failed");
        return;
      }
      String token = ar.result();
      if (needNewToken && Objects.equals(token, lastToken)) {
        waitForToken(CloseCode.POLICY_VIOLATION.code(), "token refused");
        return;
      }
      needNewToken = false;
      lastToken = token;
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
    connectTimer = vertx.setTimer(opts.connectTimeout.toMillis(), t -> {
      connectTimer = -1;
      if (seq == socketSeq) {
        abandon(ABNORMAL, "no auth_success within " + opts.connectTimeout.toMillis() + " ms");
      }
    });
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
    resetSubscribes();
    dropInFlight();
    CloseCode.Reconnect policy = reconnectPolicy(code);
    if (policy == CloseCode.Reconnect.WITH_NEW_TOKEN && fixedToken && !userClosed) {
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
        needNewToken = true;
        scheduleReconnect(CloseCode.Reconnect.WITH_BACKOFF, code, reason);
      }
      default -> scheduleReconnect(policy, code, reason);
    }
  }

  private void waitForToken(int code, String reason) {
    waitingForToken = true;
    state = State.DISCONNECTED;
    emitState(new StateChange(State.DISCONNECTED, url, code, reason, attempt, 0, true));
    SwitchboardException e = new SwitchboardException("unauthorized",
        "the server refused the token (close " + code + "); call setToken() with a new one to reconnect");
    failConnectWaiters(e);
    error(e);
  }

  private void scheduleReconnect(CloseCode.Reconnect policy, Integer code, String reason) {
    if (policy == CloseCode.Reconnect.WITH_LONG_BACKOFF) {
      attempt = Math.max(attempt, opts.longBackoffAttempt);
    }
    long delay = policy == CloseCode.Reconnect.AT_ONCE ? 0
        : backoffDelay(attempt, opts.backoffBase.toMillis(), opts.backoffCap.toMillis(), opts.random.getAsDouble());
    int n = attempt++;
    String next = urls.get(urlIndex % urls.size());
    state = State.RECONNECTING;
    emitState(new StateChange(State.RECONNECTING, next, code, reason, n, delay));
    if (delay == 0) {
      reconnectTimer = -1;
      ctx.runOnContext(v -> connectNow());
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
      case "message" -> onMessage(f);
      case "pong" -> { }
      default -> {
        Long id = idOf(f);
        Pending p = id == null ? null : pending.get(id);
        if (p != null) {
          settle(id, p, f);
        } else if ("error".equals(type)) {
          error(new SwitchboardException(f.getString("code"), f.getString("message")));
        }
      }
    }
  }

  private static Long idOf(JsonObject f) {
    return f.getValue("id") instanceof Number n ? n.longValue() : null;
  }

  private void onAuthSuccess(JsonObject f) {
    Long id = idOf(f);
    Pending p = id == null ? null : pending.get(id);
    if (p != null || state == State.CONNECTED) {
      if (p != null) {
        settle(id, p, f);
      }
      scheduleRenew(f.getLong("expires_in"));
      return;
    }
    cancel(connectTimer);
    connectTimer = -1;
    attempt = 0;
    userId = f.getString("user_id");
    node = f.getString("node");
    Set<String> auto = new HashSet<>();
    f.getJsonArray("channels", new JsonArray()).forEach(c -> auto.add(String.valueOf(c)));
    automatic = auto;
    setState(State.CONNECTED, null, null, 0);
    for (Promise<Void> w : List.copyOf(connectWaiters)) {
      w.tryComplete();
    }
    connectWaiters.clear();
    if (state != State.CONNECTED) {
      return;
    }
    schedulePing(f.getInteger("heartbeat", 0));
    scheduleRenew(f.getLong("expires_in"));
    connId++;
    resetSubscribes();
    // The server's budget for this session starts full; ours is the smaller share of it.
    subTokens = opts.subscribeBurst;
    subTokensAt = System.nanoTime();
    for (Entry e : List.copyOf(subs.values())) {
      // An entry acked on an earlier connection is a resubscribe; the app may need its recovered flag.
      enqueueSubscribe(e, e.acked != null, false);
    }
    pumpSubscribes();
    if (state != State.CONNECTED) {
      return;
    }
    for (Map.Entry<Long, Pending> q : List.copyOf(pending.entrySet())) {
      if (!q.getValue().sent && pending.containsKey(q.getKey())) {
        q.getValue().sent = true;
        write(q.getValue().frame);
      }
    }
  }

  private void onMessage(JsonObject f) {
    String channel = f.getString("channel");
    Entry e = subs.get(channel);
    Long offset = f.getValue("offset") instanceof Number n ? n.longValue() : null;
    String epoch = f.getString("epoch");
    if (e != null && offset != null && epoch != null && !e.track(offset, epoch)) {
      return; // already delivered (a replay after a reconnect)
    }
    Delivery d = new Delivery(channel, f.getValue("message"), f.getString("from_user"), f.getString("timestamp"), offset, epoch);
    if (e != null) {
      for (Handler<Delivery> h : List.copyOf(e.handlers)) {
        try {
          h.handle(d);
        } catch (RuntimeException ex) {
          error(ex);
        }
      }
    }
    for (Handler<Delivery> h : messageHandlers) {
      try {
        h.handle(d);
      } catch (RuntimeException ex) {
        error(ex);
      }
    }
  }

  private void sendSubscribe(Entry e, boolean resubscribe) {
    if (!needsSubscribeFrame(e)) {
      subscribed(e, new Subscribed(e.channel, null, resubscribe, true));
      return;
    }
    JsonObject frame = new JsonObject().put("type", "subscribe").put("channel", e.channel);
    JsonObject since = e.position();
    if (since != null) {
      frame.put("since", since);
    }
    e.sentOn = connId;
    // No client-side timeout: a subscription stays wanted until unsubscribed; liveness is the ping's job.
    send(frame, true, 0).onComplete(ar -> {
      if (subs.get(e.channel) != e) {
        return;
      }
      if (ar.succeeded()) {
        e.retries = 0;
        e.positionFromAck(ar.result());
        subscribed(e, new Subscribed(e.channel, ar.result().getBoolean("recovered"), resubscribe,
            automatic.contains(e.channel)));
        return;
      }
      SwitchboardException err = ar.cause() instanceof SwitchboardException se ? se
          : new SwitchboardException("internal", ar.cause().getMessage());
      if (FINAL_SUBSCRIBE_ERRORS.contains(err.code()) && automatic.contains(e.channel)) {
        // The session is on it anyway; only the position is not to be had (a config that refuses the subscribe).
        e.automaticRefused = true;
        subscribed(e, new Subscribed(e.channel, null, resubscribe, true));
        return;
      }
      if (FINAL_SUBSCRIBE_ERRORS.contains(err.code())) {
        subs.remove(e.channel);
        for (Promise<Subscribed> w : List.copyOf(e.waiters)) {
          w.tryFail(err);
        }
        e.waiters.clear();
        error(new SwitchboardException(err.code(), e.channel + ": " + err.getMessage()));
        return;
      }
      if ("closed".equals(err.code())) {
        return; // failAll already told the waiters
      }
      if ("rate_limited".equals(err.code())) {
        // The server's bucket is empty (the app's own frames count too): let ours wait for it to refill.
        subTokens = 0;
        subTokensAt = System.nanoTime();
      } else {
        error(new SwitchboardException(err.code(), e.channel + ": " + err.getMessage()));
      }
      retrySubscribe(e, resubscribe);
    });
  }

  private void enqueueSubscribe(Entry e, boolean resubscribe, boolean pump) {
    e.resubscribe = resubscribe;
    if (!e.queued) {
      e.queued = true;
      subQueue.add(e);
    }
    if (pump) {
      pumpSubscribes();
    }
  }

  /**
   * Sends queued subscribes within a token bucket (subscribeBurst at once, then subscribeRate a second), so 60
   * channels after a reconnect are not answered rate_limited for what the server's bucket cannot take.
   */
  private void pumpSubscribes() {
    if (state != State.CONNECTED) {
      return;
    }
    long now = System.nanoTime();
    subTokens = Math.min(opts.subscribeBurst, subTokens + Math.max(0, now - subTokensAt) / 1e9 * opts.subscribeRate);
    subTokensAt = now;
    while (!subQueue.isEmpty()) {
      Entry e = subQueue.peek();
      boolean live = subs.get(e.channel) == e;
      boolean needsFrame = live && needsSubscribeFrame(e);
      if (needsFrame && subTokens < 1) {
        break;
      }
      subQueue.poll();
      e.queued = false;
      if (!live) {
        continue; // unsubscribed while it waited
      }
      if (needsFrame) {
        subTokens -= 1;
      }
      sendSubscribe(e, e.resubscribe);
      if (state != State.CONNECTED) {
        return; // an onSubscribed handler closed the client
      }
    }
    if (!subQueue.isEmpty() && subPumpTimer < 0) {
      long wait = Math.max(1, (long) Math.ceil((1 - subTokens) * 1000 / opts.subscribeRate));
      subPumpTimer = vertx.setTimer(wait, t -> {
        subPumpTimer = -1;
        pumpSubscribes();
      });
    }
  }

  /** Sends a refused-for-now subscribe again after a growing delay, half of it jitter, on the same session only. */
  private void retrySubscribe(Entry e, boolean resubscribe) {
    int n = e.retries++;
    double ceiling = Math.min((double) opts.backoffCap.toMillis(),
        opts.subscribeRetryBase.toMillis() * Math.pow(2, Math.min(n, 30)));
    long delay = Math.max(1, (long) Math.floor(ceiling / 2 + opts.random.getAsDouble() * ceiling / 2));
    long conn = connId;
    cancel(e.retryTimer);
    e.retryTimer = vertx.setTimer(delay, t -> {
      e.retryTimer = -1;
      if (subs.get(e.channel) == e && connId == conn && state == State.CONNECTED) {
        enqueueSubscribe(e, resubscribe, true);
      }
    });
  }

  /** Forgets what was queued or waiting to retry on the session that ended; the next one resubscribes all. */
  private void resetSubscribes() {
    cancel(subPumpTimer);
    subPumpTimer = -1;
    for (Entry e : subQueue) {
      e.queued = false;
    }
    subQueue.clear();
    for (Entry e : subs.values()) {
      cancel(e.retryTimer);
      e.retryTimer = -1;
      // A gap open when the session ended is left to the resubscribe's since, which replays what is missing.
      e.cancelGap();
    }
  }

  /**
   * The server puts every session on user:&lt;self&gt;, broadcast and segment:… itself. A subscribe for
   * user:&lt;self&gt; is still sent when the app listens to it: its ack carries the position, and a since after a
   * reconnect recovers the direct messages sent meanwhile, when the user namespace keeps history. The server
   * refuses it for broadcast and segment:…, which keep no history.
   */
  private boolean needsSubscribeFrame(Entry e) {
    if (!automatic.contains(e.channel)) {
      return true;
    }
    return e.channel.startsWith("user:") && !e.automaticRefused;
  }

  private void subscribed(Entry e, Subscribed info) {
    e.acked = info;
    for (Promise<Subscribed> w : List.copyOf(e.waiters)) {
      w.tryComplete(info);
    }
    e.waiters.clear();
    for (Handler<Subscribed> h : subscribedHandlers) {
      h.handle(info);
    }
  }

  private Future<Void> removeHandler(Entry e, Handler<Delivery> handler) {
    e.handlers.remove(handler);
    if (e.handlers.isEmpty() && subs.get(e.channel) == e) {
      subs.remove(e.channel);
      cancel(e.retryTimer);
      e.retryTimer = -1;
      e.cancelGap();
      // Still queued or waiting to retry: the server never heard of it on this session, so nothing to leave.
      if (state == State.CONNECTED && e.sentOn == connId && !automatic.contains(e.channel)) {
        return send(new JsonObject().put("type", "unsubscribe").put("channel", e.channel), false,
            opts.requestTimeout.toMillis()).mapEmpty();
      }
    }
    return Future.succeededFuture();
  }

  // ---- requests ----------------------------------------------------------------------------------

  private Future<JsonObject> request(JsonObject frame, Duration timeout) {
    long ms = (timeout == null ? opts.requestTimeout : timeout).toMillis();
    return call(() -> send(frame, false, ms));
  }

  /** On ctx: sends now when connected, else queues until the next authentication. */
  private Future<JsonObject> send(JsonObject frame, boolean subscribe, long timeoutMs) {
    if (userClosed || state == State.CLOSED) {
      return Future.failedFuture(new SwitchboardException("closed", "the client is closed; connect() it again first"));
    }
    long id = nextId++;
    JsonObject out = frame.copy().put("id", id);
    Pending p = new Pending(out, Promise.promise(), subscribe);
    if (timeoutMs > 0) {
      p.timer = vertx.setTimer(timeoutMs, t -> {
        if (pending.remove(id, p)) {
          p.promise.tryFail(new SwitchboardException("timeout",
              "no answer to " + frame.getString("type") + " within " + timeoutMs + " ms"));
        }
      });
    }
    pending.put(id, p);
    if (state == State.CONNECTED) {
      p.sent = true;
      write(out);
    }
    return p.promise.future();
  }

  private void settle(long id, Pending p, JsonObject f) {
    pending.remove(id);
    cancel(p.timer);
    if ("error".equals(f.getString("type"))) {
      p.promise.tryFail(new SwitchboardException(f.getString("code"), f.getString("message")));
    } else {
      p.promise.tryComplete(f);
    }
  }

  /** Requests written to the lost socket may or may not have been handled: fail them; keep the queued ones. */
  private void dropInFlight() {
    for (Map.Entry<Long, Pending> q : List.copyOf(pending.entrySet())) {
      Pending p = q.getValue();
      if (!p.sent) {
        continue;
      }
      pending.remove(q.getKey());
      cancel(p.timer);
      if (!p.subscribe) {
        p.promise.tryFail(new SwitchboardException("disconnected",
            "the connection was lost before the answer to " + p.frame.getString("type") + " arrived"));
      }
      // A subscribe is simply sent again after the reconnect.
    }
  }

  private void failAll(String code, String message) {
    for (Pending p : List.copyOf(pending.values())) {
      cancel(p.timer);
      p.promise.tryFail(new SwitchboardException(code, message));
    }
    pending.clear();
    for (Entry e : subs.values()) {
      for (Promise<Subscribed> w : List.copyOf(e.waiters)) {
        w.tryFail(new SwitchboardException(code, message));
      }
      e.waiters.clear();
    }
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

  // ---- liveness and renewal ----------------------------------------------------------------------

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

  private void scheduleRenew(Long expiresIn) {
    cancel(renewTimer);
    renewTimer = -1;
    if (fixedToken || expiresIn == null || expiresIn <= 0) {
      return;
    }
    // Renew at 80 % of the token's remaining life, well inside the server's expiry grace.
    renewTimer = vertx.setTimer(Math.max(1000, expiresIn * 800), t -> {
      renewTimer = -1;
      if (renewInFlight == null && renewNext == null) {
        queueRenewal(tokenSource, fixedToken, 0);
      }
    });
  }

  private Future<Void> queueRenewal(Supplier<Future<String>> source, boolean fixed, long seq) {
    RenewJob job = renewNext;
    if (job == null) {
      job = new RenewJob();
      renewNext = job;
    }
    // Not sent yet, so a newer token simply takes its place: the older one would be replaced at once anyway.
    job.source = source;
    job.fixed = fixed;
    job.seq = seq;
    Promise<Void> done = Promise.promise();
    job.waiters.add(done);
    pumpRenewal();
    return done.future();
  }

  private void pumpRenewal() {
    if (renewInFlight != null || renewNext == null) {
      return;
    }
    RenewJob job = renewNext;
    renewNext = null;
    renewInFlight = job;
    renew(job).onComplete(ar -> {
      renewInFlight = null;
      if (ar.failed()) {
        error(ar.cause());
      }
      for (Promise<Void> w : job.waiters) {
        if (ar.succeeded()) {
          w.tryComplete();
        } else {
          w.tryFail(ar.cause());
        }
      }
      pumpRenewal();
    });
  }

  /** On ctx: one renewal; completes on ctx. */
  private Future<Void> renew(RenewJob job) {
    Future<String> tf;
    try {
      tf = job.source.get();
    } catch (RuntimeException e) {
      tf = Future.failedFuture(e);
    }
    Promise<Void> done = Promise.promise();
    tf.onComplete(ar -> run(() -> {
      if (ar.failed()) {
        done.fail(new SwitchboardException("token", "the token supplier failed: " + ar.cause().getMessage()));
        return;
      }
      if (state != State.CONNECTED) {
        // The session went away first: like a token set while disconnected, the next attempt uses it.
        if (job.seq > 0) {
          useToken(job.source, job.fixed, job.seq);
        }
        done.complete();
        return;
      }
      String token = ar.result();
      send(new JsonObject().put("type", "auth").put("token", token), false, opts.requestTimeout.toMillis())
          .onComplete(sent -> {
            if (sent.succeeded()) {
              lastToken = token;
              if (job.seq > 0) {
                useToken(job.source, job.fixed, job.seq);
              }
              done.complete();
              return;
            }
            String code = sent.cause() instanceof SwitchboardException se ? se.code() : "internal";
            if (code.equals("disconnected") || code.equals("closed")) {
              if (job.seq > 0) {
                useToken(job.source, job.fixed, job.seq);
              }
              done.complete();
              return;
            }
            // Refused: the session still runs on the token it has, so that one stays for reconnecting; taking
            // the refused one would fail the next attempt, or make it another user.
            done.fail(new SwitchboardException(code, "the server refused the new token: " + sent.cause().getMessage()));
          });
    }));
    return done.future();
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
    cancel(connectTimer);
    cancel(pingTimer);
    cancel(pongTimer);
    cancel(renewTimer);
    connectTimer = pingTimer = pongTimer = renewTimer = -1;
  }

  private void cancel(long timer) {
    if (timer >= 0) {
      vertx.cancelTimer(timer);
    }
  }

  private void run(Runnable r) {
    if (Vertx.currentContext() == ctx) {
      r.run();
    } else {
      ctx.runOnContext(v -> r.run());
    }
  }

  private <T> Future<T> call(Supplier<Future<T>> body) {
    if (Vertx.currentContext() == ctx) {
      return body.get();
    }
    Promise<T> p = Promise.promise();
    ctx.runOnContext(v -> body.get().onComplete(p));
    return p.future();
  }
}
