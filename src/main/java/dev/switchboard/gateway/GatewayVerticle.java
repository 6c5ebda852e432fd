package dev.switchboard.gateway;

import dev.switchboard.bus.Addresses;
import dev.switchboard.cluster.ClusterView;
import dev.switchboard.cluster.NodeContext;
import dev.switchboard.config.SwitchboardConfig;
import dev.switchboard.limiter.InflationLimit;
import dev.switchboard.limiter.RefusalLog;
import dev.switchboard.metrics.LogLineLayout;
import dev.switchboard.metrics.MetricsRoutes;
import dev.switchboard.protocol.CloseCode;
import dev.switchboard.router.ChannelRules;
import dev.switchboard.router.Fanout;
import dev.switchboard.router.Glob;
import io.netty.channel.Channel;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.VerticleBase;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.ServerWebSocket;
import io.vertx.core.http.ServerWebSocketHandshake;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.PemKeyCertOptions;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.handler.StaticHandler;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HTTP server of one event loop: the {@code /ws} upgrade (Origin, admission and token are decided
 * before or right after the handshake), the HTTP API, health, metrics and the static client files.
 * Each instance runs on its own event loop (one per core by default) and owns a {@link SessionHub} and one
 * timer that drives every session's heartbeat, idle, auth-timeout and expiry checks (no per-session timers).
 * The instances of a node share its channel consumers ({@link ChannelFeeds}).
 */
public final class GatewayVerticle extends VerticleBase {

  private static final Logger log = LoggerFactory.getLogger(GatewayVerticle.class);
  private static final DeliveryOptions LOCAL = new DeliveryOptions().setLocalOnly(true);
  /**
   * How long a stopping node waits for its clients to answer the 1001 close frame before it resets their
   * sockets, and then for those resets. Short: the drain (SIGTERM) is the slow, gentle path; a plain stop
   * must not hang on a client that stopped reading.
   */
  private static final long STOP_GRACE_MS = 1_000;
  /** Period of the timer that drives every session's heartbeat, idle, auth-timeout and expiry checks. */
  static final long TICK_MS = 1_000;

  private final NodeContext node;
  private final SwitchboardConfig config;
  private SessionHub hub;
  private SessionServices services;
  private HttpServer server;
  private RequestDeadlines deadlines;
  private RefusalLog slowRequests;
  private long ticker = -1;

  public GatewayVerticle(NodeContext node) {
    this.node = node;
    this.config = node.config();
  }

  @Override
  public Future<?> start() {
    hub = new SessionHub(context, node);
    services = new SessionServices(node, hub, new ChannelRules(config.channels()), new ClusterView(node),
        new Glob(config.rpc().allowed()), new Fanout(node));
    Router router = Router.router(vertx);
    MetricsRoutes.mount(router, node);
    new ApiRoutes(node).mount(router);
    DemoRoutes.mount(router, vertx, config);
    router.route("/*").handler(StaticHandler.create("webroot").setCachingEnabled(false));

    SwitchboardConfig.Server s = config.server();
    HttpServerOptions opts = new HttpServerOptions()
        .setHost(s.host())
        .setPort(s.port())
        .setMaxWebSocketFrameSize(config.session().maxMessageSize())
        .setMaxWebSocketMessageSize(config.session().maxMessageSize())
        .setPerMessageWebSocketCompressionSupported(s.compression())
        .setPerFrameWebSocketCompressionSupported(s.compression())
        // Clients that ask for no context takeover get it: ~40 KiB per connection instead of ~250 (BENCHMARKS.md).
        .setWebSocketAllowServerNoContext(true)
        .setWebSocketPreferredClientNoContext(true)
        // Bounds HTTP connections gone silent between requests or inside a body (a request head has
        // server.header_timeout in all, a body server.body_timeout: RequestDeadlines). An accepted WebSocket
        // drops the handler (UpgradeLeftovers): its session's idle rule (1001) and close grace take over.
        .setIdleTimeout((int) config.session().idleTimeout().toSeconds() + 5)
        .setIdleTimeoutUnit(java.util.concurrent.TimeUnit.SECONDS)
        // Every HTTP response and upgrade is written from this verticle's event loop, so the connection can
        // write straight to Netty instead of through a multi-producer queue: ~4.6 KiB less heap per WebSocket,
        // whose upgraded HTTP connection stays referenced (BENCHMARKS.md, connect). A write from another
        // thread fails with IllegalStateException instead of racing.
        .setStrictThreadMode(true)
        // HTTP/1.1 only. With h2c on (Vert.x's default) the connection handler runs only once the first head is
        // complete, too late to time that head; and an h2c connection is handed over after its 24-byte preface,
        // from where a HEADERS frame sent a byte at a time kept it open for good: every byte reset the idle
        // timeout. Nothing here uses HTTP/2 (TLS offers no ALPN, so it never had it either).
        .setHttp2ClearTextEnabled(false);
    if (s.tls()) {
      TlsFiles.check(s.tlsCert(), s.tlsKey());
      opts.setSsl(true).setKeyCertOptions(new PemKeyCertOptions().setCertPath(s.tlsCert()).setKeyPath(s.tlsKey()));
    }
    int maxMessage = config.session().maxMessageSize();
    slowRequests = new RefusalLog(vertx, log, "connect_refused");
    deadlines = new RequestDeadlines(s.headerTimeout(), s.bodyTimeout(), new RequestDeadlines.Expiry() {
      @Override
      public void headTooSlow(Channel ch, String reason) {
        refuseSlow(ch, "header_timeout", reason, "");
      }

      @Override
      public void bodyTooSlow(Channel ch, String reason, boolean answered) {
        // answer=none: a response to the request, or to one before it, had already begun (TimeoutAnswer).
        refuseSlow(ch, "body_timeout", reason, answered ? " answer=408" : " answer=none");
      }
    });
    server = vertx.createHttpServer(opts)
        .connectionHandler(conn -> {
          deadlines.watch(conn);
          InflationLimit.install(conn, opts, maxMessage);
          // A client resetting its connection mid-request is routine, and any client can do it at will:
          // without a handler Vert.x logs each one as an ERROR with a stack trace.
          conn.exceptionHandler(GatewayVerticle::connectionError);
        })
        .exceptionHandler(GatewayVerticle::connectionError)
        .webSocketHandshakeHandler(this::handshake)
        .requestHandler(router);
    ticker = vertx.setPeriodic(TICK_MS, t -> tick());
    var disconnect = vertx.eventBus().<JsonObject>consumer(Addresses.DISCONNECT_USER, msg -> {
      int n = hub.disconnectUser(msg.body().getString("user"), CloseCode.NORMAL, "disconnected by server");
      if (n > 0) {
        log.info("event=disconnect_user user={} sessions={}", msg.body().getString("user"), n);
      }
    });
    var drain = vertx.eventBus().<JsonObject>localConsumer(Addresses.DRAIN, msg -> {
      drain(msg.body().getLong("period_ms", 10_000L), msg.body().getString("reason", "node going away"));
      msg.reply(new JsonObject().put("sessions", hub.sessions().size()));
    });
    return Future.all(server.listen(), disconnect.completion(), drain.completion());
  }

  /** The port actually bound (useful when config asks for port 0). */
  public int actualPort() {
    return server.actualPort();
  }

  @Override
  public Future<?> stop() {
    if (ticker >= 0) {
      vertx.cancelTimer(ticker);
    }
    if (server == null) {
      return Future.succeededFuture();
    }
    if (hub == null) {
      return server.close();
    }
    // Left to Vert.x, the sockets would close with 1000, which tells clients to stay away (SPEC §4);
    // a node that stops is going away, so its clients reconnect elsewhere.
    for (Session s : hub.sessions().toArray(new Session[0])) {
      s.close(CloseCode.GOING_AWAY, "node stopping");
    }
    // The server is closed only once every socket is: Vert.x 5.0.10's server close now and then lets the
    // event loop stop with a WebSocket still open (its close frame written but never flushed), and that
    // socket then stays open until the JVM exits, its client waiting for an answer that never comes.
    return socketsClosed(STOP_GRACE_MS)
        .compose(all -> {
          if (all) {
            return Future.succeededFuture(true);
          }
          for (Session s : hub.closing().toArray(new Session[0])) {
            s.cut("node stopping: close frame not answered", STOP_GRACE_MS);
          }
          return socketsClosed(STOP_GRACE_MS);
        })
        .transform(all -> server.close());
  }

  /**
   * Completes with true once no session waits for its socket to close, or with false after {@code withinMs}.
   * A short poll: it runs only while a node stops, and costs the sessions nothing meanwhile.
   */
  private Future<Boolean> socketsClosed(long withinMs) {
    if (hub.closing().isEmpty()) {
      return Future.succeededFuture(true);
    }
    Promise<Boolean> done = Promise.promise();
    long deadline = System.nanoTime() + withinMs * 1_000_000;
    vertx.setPeriodic(10, id -> {
      boolean all = hub.closing().isEmpty();
      if (all || System.nanoTime() > deadline) {
        vertx.cancelTimer(id);
        done.complete(all);
      }
    });
    return done.future();
  }

  private void tick() {
    deadlines.sweep(System.nanoTime());
    long now = System.currentTimeMillis();
    for (Session s : hub.sessions().toArray(new Session[0])) {
      s.tick(now);
    }
    for (Session s : hub.closing().toArray(new Session[0])) {
      s.tickClosing(now);
    }
  }

  private void handshake(ServerWebSocketHandshake hs) {
    if (!config.server().wsPath().equals(hs.path())) {
      UpgradeRefusal.refuse(hs, 404);
      return;
    }
    if (node.draining() || !node.quorum().held()) {
      node.metrics().connect(node.draining() ? "draining" : "no_quorum");
      UpgradeRefusal.refuse(hs, 503);
      return;
    }
    List<String> origins = config.server().allowedOrigins();
    String origin = hs.headers().get(HttpHeaders.ORIGIN);
    if (!origins.isEmpty() && origin != null && !origins.contains(origin) && !origins.contains("*")) {
      node.metrics().connect("forbidden_origin");
      log.info("event=connect_refused reason=origin origin={}", LogLineLayout.quote(origin));
      UpgradeRefusal.refuse(hs, 403);
      return;
    }
    String ip = hs.remoteAddress() == null ? "unknown" : hs.remoteAddress().hostAddress();
    String token = tokenOf(hs);
    vertx.eventBus().request(Addresses.LIMITER_ADMIT, new JsonObject().put("ip", ip), LOCAL).onComplete(ar -> {
      if (ar.failed()) {
        int code = ar.cause() instanceof ReplyException re ? re.failureCode() : 503;
        if (code == 4029) {
          node.metrics().connect("too_many_connections");
          // The limiter logs refusals, summarised per address: a flood must not become a log flood.
          log.debug("event=connect_refused reason=limit ip={} detail=\"{}\"", ip, ar.cause().getMessage());
          // The client learns why from the close code, so accept and close at once.
          accept(hs).onSuccess(ws -> {
            // Done with request heads and HTTP idleness: the close and its grace decide from here.
            UpgradeLeftovers.drop(ws);
            node.metrics().disconnect(CloseCode.TOO_MANY_CONNECTIONS.code());
            ws.close(CloseCode.TOO_MANY_CONNECTIONS.code(), ar.cause().getMessage());
          });
        } else {
          node.metrics().connect("node_full");
          UpgradeRefusal.refuse(hs, 503);
        }
        return;
      }
      accept(hs).onComplete(accepted -> {
        if (accepted.failed()) {
          vertx.eventBus().send(Addresses.LIMITER_RELEASE, new JsonObject().put("ip", ip), LOCAL);
          return;
        }
        var ws = accepted.result();
        UpgradeLeftovers.drop(ws);
        FrameRules.install(ws);
        ws.setWriteQueueMaxSize(config.session().outboundQueueBytes());
        Session session = new Session(ws, services, ip, System.currentTimeMillis());
        hub.add(session);
        session.start(token);
        String away = node.sendsSessionsAway();
        if (away != null) {
          // The drain or quorum loss came while this upgrade was completing: its closes missed this session.
          session.close(CloseCode.GOING_AWAY, away);
        }
      });
    });
  }

  /**
   * Accepts an upgrade whose admission was decided asynchronously. A client that dropped the connection in the
   * meantime makes Vert.x throw ("Response head already sent") instead of failing the future; as a failed
   * future the caller's failure branch runs and hands the per-IP slot back.
   */
  private static Future<ServerWebSocket> accept(ServerWebSocketHandshake hs) {
    try {
      return hs.accept();
    } catch (RuntimeException e) {
      return Future.failedFuture(e);
    }
  }

  /**
   * A connection about to be closed for taking longer than server.header_timeout over a request head, or
   * server.body_timeout over a body: counted and logged like the limiter's refusals, summarised per address.
   */
  private void refuseSlow(Channel ch, String result, String reason, String fields) {
    node.metrics().connect(result);
    String ip = ch.remoteAddress() instanceof java.net.InetSocketAddress a && a.getAddress() != null
        ? a.getAddress().getHostAddress() : "unknown";
    slowRequests.refused("ip=" + ip, " reason=\"" + reason + "\"" + fields);
  }

  private static void connectionError(Throwable e) {
    log.debug("event=connection_error reason=\"{}\"", e.getMessage());
  }

  /**
   * Authorization: Bearer on the upgrade, else ?token= in the query; null when neither is there. One that is
   * there but empty is "" (refused at once as a token that does not verify): a client that sent one meant to
   * authenticate, and would otherwise wait out auth.auth_timeout for a 1008 "auth timeout" that hides why.
   */
  private static String tokenOf(ServerWebSocketHandshake hs) {
    String empty = null;
    String auth = hs.headers().get(HttpHeaders.AUTHORIZATION);
    if (auth != null && auth.regionMatches(true, 0, "Bearer ", 0, 7)) {
      String t = auth.substring(7).trim();
      if (!t.isEmpty()) {
        return t;
      }
      empty = "";
    } else if (auth != null && auth.trim().equalsIgnoreCase("Bearer")) {
      empty = "";
    }
    String q = hs.query();
    if (q != null) {
      for (String part : q.split("&")) {
        if (part.startsWith("token=")) {
          String t = java.net.URLDecoder.decode(part.substring(6), java.nio.charset.StandardCharsets.UTF_8).trim();
          if (!t.isEmpty()) {
            return t;
          }
          empty = "";
        }
      }
    }
    return empty;
  }

  /**
   * Closes every session with 1001, spread evenly over the period so clients reconnect (elsewhere, on a
   * drain) without a herd.
   */
  private void drain(long periodMs, String reason) {
    List<Session> all = new ArrayList<>(hub.sessions());
    int n = all.size();
    for (int i = 0; i < n; i++) {
      Session s = all.get(i);
      long delay = Math.max(1, node.nextDrainDelay(periodMs));
      vertx.setTimer(delay, t -> s.close(CloseCode.GOING_AWAY, reason));
    }
  }

  Set<Session> sessions() {
    return hub.sessions();
  }

  /** User ids of this instance's authenticated sessions, read on its own event loop (tests, diagnostics). */
  Future<List<String>> sessionUsers() {
    Promise<List<String>> users = Promise.promise();
    context.runOnContext(v -> {
      List<String> out = new ArrayList<>();
      for (Session s : hub.sessions()) {
        if (s.userId() != null) {
          out.add(s.userId());
        }
      }
      users.complete(out);
    });
    return users.future();
  }
}
