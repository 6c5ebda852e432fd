package dev.switchboard.bench;

import dev.switchboard.cluster.ClusterSetup;
import dev.switchboard.config.SwitchboardConfig;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.vertx.core.Context;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.Vertx;
import io.vertx.core.VertxBuilder;
import io.vertx.core.VertxOptions;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.ServerWebSocket;
import io.vertx.core.http.WebSocketFrameType;
import io.vertx.core.http.impl.WebSocketImplBase;
import io.vertx.core.http.impl.ws.WebSocketFrameImpl;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.auth.PubSecKeyOptions;
import io.vertx.ext.auth.authentication.TokenCredentials;
import io.vertx.ext.auth.jwt.JWTAuth;
import io.vertx.ext.auth.jwt.JWTAuthOptions;
import io.vertx.spi.cluster.hazelcast.HazelcastClusterManager;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The baseline every bench figure is compared with: the plain Vert.x WebSocket server a team would write
 * in an afternoon. Default Vert.x and HTTP server options (NIO transport), one verticle per event loop,
 * a list of sockets per channel, HS256 verified once at auth with vertx-auth-jwt, the same JSON frames as
 * Switchboard, and nothing else: no routing, rules, limits, heartbeats, metrics or cluster.
 *
 * <p>Run it alone with {@code java -cp switchboard.jar dev.switchboard.bench.BareServer --port 8090
 * --secret <hs256-secret>}. It prints {@code bare ready: port=<port>} once listening.
 */
public final class BareServer {

  /** Where a clustered bare server takes publishes from the event bus: {@code {"channel": …, "message": …}}. */
  static final String BUS_ADDRESS = "bare.publish";

  /** Every instance of this process, so a publish reaches the sockets of every event loop. */
  private static final List<Instance> INSTANCES = new CopyOnWriteArrayList<>();

  private BareServer() {}

  public static void main(String[] args) {
    int port = 8090;
    String host = "127.0.0.1";
    String secret = System.getenv().getOrDefault("SWITCHBOARD_JWT_SECRET", "switchboard-dev-secret-change-me-0123456789");
    String apiKey = "dev-api-key";
    String compression = "default";
    int instances = VertxOptions.DEFAULT_EVENT_LOOP_POOL_SIZE;
    String write = "text";
    boolean nativeTransport = false;
    boolean ioUring = false;
    int clusterPort = 0;
    List<String> clusterMembers = List.of();
    String clusterName = null;
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      String v = i + 1 < args.length ? args[i + 1] : null;
      switch (a) {
        case "--port" -> { port = Integer.parseInt(v); i++; }
        case "--host" -> { host = v; i++; }
        case "--secret" -> { secret = v; i++; }
        case "--api-key" -> { apiKey = v; i++; }
        case "--instances" -> { instances = Integer.parseInt(v); i++; }
        case "--compression" -> { compression = v; i++; }
        case "--write" -> { write = v; i++; }
        case "--native" -> nativeTransport = true;
        case "--io-uring" -> ioUring = true;
        case "--cluster-port" -> { clusterPort = Integer.parseInt(v); i++; }
        case "--cluster-members" -> { clusterMembers = List.of(v.split(",")); i++; }
        case "--cluster-name" -> { clusterName = v; i++; }
        default -> {
          System.err.println("usage: BareServer [--port 8090] [--host 127.0.0.1] [--secret s] [--api-key k]"
              + " [--instances n] [--compression default|off|nocontext] [--write text|frame|raw|coalesce] [--native] [--io-uring]"
              + " [--cluster-port p --cluster-members host:port,… --cluster-name n]");
          System.exit(2);
        }
      }
    }
    BenchParent.exitWhenGone();
    HttpServerOptions opts = new HttpServerOptions().setHost(host).setPort(port);
    switch (compression) {
      case "off" -> opts.setPerMessageWebSocketCompressionSupported(false).setPerFrameWebSocketCompressionSupported(false);
      case "nocontext" -> opts.setWebSocketAllowServerNoContext(true).setWebSocketPreferredClientNoContext(true);
      case "default", "on" -> { }
      default -> throw new IllegalArgumentException("--compression must be default, off or nocontext");
    }
    if (!List.of("text", "frame", "raw", "coalesce").contains(write)) {
      throw new IllegalArgumentException("--write must be text, frame, raw or coalesce");
    }
    boolean uring = ioUring;
    SwitchboardConfig.Cluster cluster = clusterName == null ? null
        : new SwitchboardConfig.Cluster(false, "127.0.0.1", clusterPort, clusterMembers, null, clusterName, null, 0);
    VertxBuilder builder = Vertx.builder().with((cluster == null ? new VertxOptions() : ClusterSetup.vertxOptions(cluster))
        .setPreferNativeTransport(nativeTransport));
    if (uring) {
      builder.withTransport(io.vertx.core.transport.Transport.IO_URING);
    }
    // Clustered, it is the plain Vert.x answer to "publish from a backend": a data member of the same loopback-only
    // Hazelcast set-up as the nodes, with one event-bus consumer that hands each message to every event loop.
    Future<Vertx> started = cluster == null ? Future.succeededFuture(builder.build())
        : builder.withClusterManager(new HazelcastClusterManager(ClusterSetup.hazelcastConfig(cluster))).buildClustered();
    String key = apiKey;
    int p = port;
    Write mode = Write.valueOf(write.toUpperCase(java.util.Locale.ROOT));
    String secretKey = secret;
    int loops = instances;
    started.compose(vertx -> {
      JWTAuth jwt = JWTAuth.create(vertx, new JWTAuthOptions()
          .addPubSecKey(new PubSecKeyOptions().setAlgorithm("HS256").setBuffer(secretKey)));
      return vertx.deployVerticle(() -> new Instance(jwt, opts, key, mode), new DeploymentOptions().setInstances(loops))
          .compose(id -> cluster == null ? Future.succeededFuture()
              : vertx.eventBus().<JsonObject>consumer(BUS_ADDRESS,
                  m -> publishAll(m.body().getString("channel"), m.body().getValue("message"), null, null)).completion())
          .map(vertx);
    }).onSuccess(vertx -> System.out.println("bare ready: port=" + p + " instances=" + INSTANCES.size() + " write=" + mode
            + " native=" + vertx.isNativeTransportEnabled() + " io_uring=" + uring
            + (cluster == null ? "" : " cluster=" + cluster.name())))
        .onFailure(e -> {
          System.err.println("bare: failed to start: " + e.getMessage());
          System.exit(1);
        });
  }

  /**
   * Encodes once, then every event loop writes the same frame to each of its sockets; {@code self}, the
   * instance whose loop runs this (null from the event bus's), writes at once.
   */
  static void publishAll(String channel, Object message, String fromUser, Instance self) {
    if (INSTANCES.isEmpty()) {
      return;
    }
    Object frame = INSTANCES.get(0).frame(channel, message, fromUser);
    for (Instance i : INSTANCES) {
      if (i == self) {
        i.deliver(channel, frame);
      } else {
        i.ctx.runOnContext(v -> i.deliver(channel, frame));
      }
    }
  }

  /**
   * How a delivery is written. TEXT is what the baseline does: {@code writeTextMessage(String)} per socket.
   * FRAME and RAW exist to measure what the hot-path optimisations suggested for Switchboard are worth on
   * the same machine: FRAME encodes the UTF-8 payload once and gives every socket a duplicate of it as a
   * text frame; RAW builds the whole WebSocket frame (header + payload) once and writes a retained
   * duplicate of those bytes straight into each socket's Netty pipeline, below the WebSocket encoder.
   * COALESCE is RAW without a flush per write: each socket written to is flushed once by a task queued
   * behind the deliveries already waiting on the loop, so a busy loop sends several frames per syscall.
   */
  enum Write { TEXT, FRAME, RAW, COALESCE }

  /** One event loop's server and sockets. Everything in it runs on that loop. */
  static final class Instance extends VerticleBase {
    private final JWTAuth jwt;
    private final HttpServerOptions opts;
    private final String apiKey;
    private final Write write;
    private final Map<String, List<ServerWebSocket>> channels = new HashMap<>();
    private final List<ChannelHandlerContext> unflushed = new ArrayList<>();
    private Context ctx;

    Instance(JWTAuth jwt, HttpServerOptions opts, String apiKey, Write write) {
      this.jwt = jwt;
      this.opts = opts;
      this.apiKey = apiKey;
      this.write = write;
    }

    @Override
    public Future<?> start() {
      ctx = context;
      INSTANCES.add(this);
      return vertx.createHttpServer(opts).webSocketHandler(this::onSocket).requestHandler(this::onHttp).listen();
    }

    private void onSocket(ServerWebSocket ws) {
      Conn c = new Conn(ws);
      ws.textMessageHandler(text -> onText(c, text));
      ws.closeHandler(v -> {
        for (String ch : c.channels) {
          List<ServerWebSocket> l = channels.get(ch);
          if (l != null) {
            l.remove(ws);
          }
        }
      });
      // Like Switchboard (SPEC §4): the token in the upgrade's Authorization header (how the Java client sends
      // it), in ?token=, or in a first auth frame.
      String bearer = ws.headers() == null ? null : ws.headers().get(HttpHeaders.AUTHORIZATION);
      String q = ws.query();
      if (bearer != null && bearer.regionMatches(true, 0, "Bearer ", 0, 7)) {
        auth(c, null, bearer.substring(7).trim(), new JsonArray());
      } else if (q != null && q.startsWith("token=")) {
        auth(c, null, q.substring(6), new JsonArray());
      }
    }

    private void onText(Conn c, String text) {
      JsonObject f;
      try {
        f = new JsonObject(text);
      } catch (RuntimeException e) {
        c.ws.writeTextMessage(error(null, "bad_request", "not JSON"));
        return;
      }
      Object id = f.getValue("id");
      String type = f.getString("type", "");
      if (c.user == null && !type.equals("auth")) {
        c.ws.writeTextMessage(error(id, "unauthorized", "authenticate first"));
        return;
      }
      switch (type) {
        case "auth" -> auth(c, id, f.getString("token"), f.getJsonArray("channels", new JsonArray()));
        case "subscribe" -> {
          join(c, f.getString("channel"));
          c.ws.writeTextMessage(ack(id));
        }
        case "unsubscribe" -> {
          String ch = f.getString("channel");
          c.channels.remove(ch);
          List<ServerWebSocket> l = channels.get(ch);
          if (l != null) {
            l.remove(c.ws);
          }
          c.ws.writeTextMessage(ack(id));
        }
        case "broadcast", "publish" -> {
          publish(f.getString("channel"), f.getValue("message"), c.user);
          c.ws.writeTextMessage(ack(id));
        }
        case "send" -> {
          publish("user:" + f.getString("to"), f.getValue("message"), c.user);
          c.ws.writeTextMessage(ack(id));
        }
        case "ping" -> c.ws.writeTextMessage(id == null ? "{\"type\":\"pong\"}" : new JsonObject().put("type", "pong").put("id", id).encode());
        default -> c.ws.writeTextMessage(error(id, "bad_request", "unknown type " + type));
      }
    }

    private void auth(Conn c, Object id, String token, JsonArray wanted) {
      if (token == null) {
        c.ws.writeTextMessage(error(id, "bad_request", "missing token"));
        return;
      }
      jwt.authenticate(new TokenCredentials(token)).onComplete(ar -> {
        if (ar.failed()) {
          c.ws.writeTextMessage(error(id, "unauthorized", ar.cause().getMessage()));
          c.ws.close((short) 1008, "auth failure");
          return;
        }
        if (c.user == null) {
          c.user = ar.result().principal().getString("sub");
          join(c, "user:" + c.user);
          join(c, "broadcast");
          for (Object ch : wanted) {
            join(c, String.valueOf(ch));
          }
        }
        JsonObject ok = new JsonObject().put("type", "auth_success");
        if (id != null) {
          ok.put("id", id);
        }
        c.ws.writeTextMessage(ok.put("user_id", c.user).put("session_id", c.sessionId).put("node", "bare")
            .put("channels", new JsonArray(c.channels)).put("heartbeat", 25).encode());
      });
    }

    private void join(Conn c, String channel) {
      if (channel != null && !c.channels.contains(channel)) {
        c.channels.add(channel);
        channels.computeIfAbsent(channel, k -> new ArrayList<>()).add(c.ws);
      }
    }

    private void publish(String channel, Object message, String fromUser) {
      publishAll(channel, message, fromUser, this);
    }

    /** The delivery as this server's write mode sends it: a string, or the bytes to duplicate per socket. */
    Object frame(String channel, Object message, String fromUser) {
      String text = new JsonObject().put("type", "message").put("channel", channel).put("message", message)
          .put("from_user", fromUser).put("timestamp", Instant.now().toString()).encode();
      return switch (write) {
        case TEXT -> text;
        case FRAME -> Unpooled.unreleasableBuffer(Unpooled.wrappedBuffer(text.getBytes(StandardCharsets.UTF_8)));
        case RAW, COALESCE -> Unpooled.unreleasableBuffer(rawTextFrame(text.getBytes(StandardCharsets.UTF_8)));
      };
    }

    private void deliver(String channel, Object frame) {
      List<ServerWebSocket> l = channels.get(channel);
      if (l == null) {
        return;
      }
      boolean firstSinceFlush = unflushed.isEmpty();
      for (ServerWebSocket ws : l) {
        switch (write) {
          case TEXT -> ws.writeTextMessage((String) frame);
          case FRAME -> ws.writeFrame(new WebSocketFrameImpl(WebSocketFrameType.TEXT, ((ByteBuf) frame).duplicate(), true));
          case RAW -> ((WebSocketImplBase<?>) ws).channelHandlerContext().writeAndFlush(((ByteBuf) frame).duplicate());
          case COALESCE -> {
            ChannelHandlerContext chctx = ((WebSocketImplBase<?>) ws).channelHandlerContext();
            chctx.write(((ByteBuf) frame).duplicate(), chctx.voidPromise());
            unflushed.add(chctx);
          }
        }
      }
      if (write == Write.COALESCE && firstSinceFlush && !unflushed.isEmpty()) {
        // first batch since the last flush: flush after whatever else is queued on this loop
        ctx.runOnContext(v -> flushAll());
      }
    }

    private void flushAll() {
      ChannelHandlerContext[] all = unflushed.toArray(new ChannelHandlerContext[0]);
      unflushed.clear();
      for (ChannelHandlerContext c : all) {
        c.flush();
      }
    }

    /** A complete unmasked server text frame: FIN + opcode, length (7, 16 or 64 bit), payload. */
    static ByteBuf rawTextFrame(byte[] payload) {
      ByteBuf b = Unpooled.buffer(payload.length + 10);
      b.writeByte(0x81);
      if (payload.length < 126) {
        b.writeByte(payload.length);
      } else if (payload.length < 65536) {
        b.writeByte(126).writeShort(payload.length);
      } else {
        b.writeByte(127).writeLong(payload.length);
      }
      return b.writeBytes(payload);
    }

    /** {@code POST /api/publish {"channel":…,"message":…}} with {@code Authorization: Bearer <api key>}. */
    private void onHttp(HttpServerRequest req) {
      if (req.method() != HttpMethod.POST || !"/api/publish".equals(req.path())) {
        req.response().setStatusCode(404).end();
        return;
      }
      if (!("Bearer " + apiKey).equals(req.getHeader(HttpHeaders.AUTHORIZATION))) {
        req.response().setStatusCode(401).end();
        return;
      }
      req.body().onSuccess(b -> {
        JsonObject o = b.toJsonObject();
        publish(o.getString("channel"), o.getValue("message"), null);
        req.response().putHeader(HttpHeaders.CONTENT_TYPE, "application/json").end("{\"ok\":true}");
      }).onFailure(e -> req.response().setStatusCode(400).end());
    }

    private static String ack(Object id) {
      return id == null ? "{\"type\":\"ack\"}" : new JsonObject().put("type", "ack").put("id", id).encode();
    }

    private static String error(Object id, String code, String message) {
      JsonObject o = new JsonObject().put("type", "error");
      if (id != null) {
        o.put("id", id);
      }
      return o.put("code", code).put("message", message).encode();
    }
  }

  private static final class Conn {
    final ServerWebSocket ws;
    final String sessionId = Long.toHexString(ThreadLocalRandom.current().nextLong() & Long.MAX_VALUE);
    final List<String> channels = new ArrayList<>(4);
    String user;

    Conn(ServerWebSocket ws) {
      this.ws = ws;
    }
  }
}
