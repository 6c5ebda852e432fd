package dev.switchboard.bench;

import dev.switchboard.client.SwitchboardClient;
import io.vertx.core.Context;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Promise;
import io.vertx.core.VerticleBase;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.http.WebSocket;
import io.vertx.core.http.WebSocketClient;
import io.vertx.core.http.WebSocketClientOptions;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/**
 * The load generator's side of every scenario: real WebSocket connections on the Vert.x client,
 * spread over source addresses 127.0.0.2… so neither per-IP limits nor one address's ephemeral ports
 * cap the connection count, plus the publisher. The measured sessions are lean connections of its own, which
 * scan each delivery's bytes instead of parsing them; the WebSocket publisher is the Java client,
 * {@link SwitchboardClient}, which publishes the same way any JVM service would.
 *
 * <p>Threads: {@code loops} receiver event loops own the sockets; one more loop runs the publisher and
 * the connect dispatcher, so a busy receiver never delays a send (its lateness would otherwise show up
 * as server latency). Each message carries {@code {"seq":n,"p":phase,"t":nanoTime}}; the receiver finds
 * those numbers by scanning the frame's bytes (no JSON parse per delivery), records publish→receive
 * latency for the message's phase and counts down the message's expected receipts, so a lost or
 * duplicated delivery is seen exactly.
 */
final class LoadClient implements AutoCloseable {

  static final int PHASES = 4;
  static final int PHASE_WARMUP = 0;
  static final int PHASE_SATURATION = 1;
  static final int PHASE_RATE = 2;
  static final int PHASE_EXTRA = 3;
  private static final long MAX_LATENCY_MICROS = 120_000_000L;
  static final int MAX_NODES = 8;
  private static final int RING = 1 << 20;
  private static final byte[] SEQ = "\"seq\":".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] PHASE = "\"p\":".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] SENT = "\"t\":".getBytes(StandardCharsets.US_ASCII);

  /** How the client offers permessage-deflate: not at all, with context takeover, or asking the server not to keep context. */
  enum Compression { OFF, ON, NOCONTEXT }

  final Vertx vertx;
  private final Context[] recv;
  private final Context pub;
  private final List<WebSocketClient> clients = new ArrayList<>();
  private final List<SwitchboardClient> publishers = new CopyOnWriteArrayList<>();
  private final HttpClient http;

  // per-phase accounting; receivers on several loops write, the bench thread reads after the phase
  final Recorder[] latency = new Recorder[PHASES];
  /** The steady phase's latency by the receiver's node: in a cluster, what the hop between nodes adds. */
  final Recorder[] steadyLatencyByNode = new Recorder[MAX_NODES];
  final LongAdder[] delivered = new LongAdder[PHASES];
  final long[] sent = new long[PHASES];
  final long[] expectedReceipts = new long[PHASES];
  final LongAdder deliveredTotal = new LongAdder();
  final AtomicLong completed = new AtomicLong();
  final LongAdder outOfOrder = new LongAdder();
  final LongAdder errors = new LongAdder();
  final LongAdder unexpectedCloses = new LongAdder();
  final ConcurrentLinkedQueue<String> errorSamples = new ConcurrentLinkedQueue<>();
  private final AtomicIntegerArray remaining = new AtomicIntegerArray(RING);
  private long nextSeq;
  private volatile boolean closing;
  private volatile Runnable onComplete;

  /** @param loops receiver event loops ({@link BenchSettings#clientLoopsFor}); the publisher gets one more */
  LoadClient(BenchSettings s, int loops, Compression compression) {
    int sourceAddresses = s.sourceAddresses();
    VertxOptions vo = new VertxOptions().setEventLoopPoolSize(loops + 1)
        .setWorkerPoolSize(2).setInternalBlockingPoolSize(2);
    vertx = Vertx.builder().with(vo).withTransport(LoadTransport.choose(s.clientTransport(), s.clientUringTuned())).build();
    List<Context> ctxs = new ArrayList<>();
    vertx.deployVerticle(() -> new VerticleBase() {
      @Override
      public Future<?> start() {
        synchronized (ctxs) {
          ctxs.add(context);
        }
        return Future.succeededFuture();
      }
    }, new DeploymentOptions().setInstances(loops + 1)).await();
    pub = ctxs.get(0);
    recv = ctxs.subList(1, ctxs.size()).toArray(new Context[0]);
    int n = Math.max(1, sourceAddresses);
    for (int i = 0; i < n; i++) {
      WebSocketClientOptions o = new WebSocketClientOptions()
          .setMaxConnections(100_000)
          .setConnectTimeout(30_000)
          .setMaxFrameSize(1 << 20)
          .setMaxMessageSize(1 << 22)
          .setTryUsePerMessageCompression(compression != Compression.OFF)
          .setCompressionRequestServerNoContext(compression == Compression.NOCONTEXT)
          .setCompressionAllowClientNoContext(compression == Compression.NOCONTEXT);
      if (sourceAddresses > 0) {
        o.setLocalAddress("127.0.0." + (2 + i));
      }
      clients.add(vertx.createWebSocketClient(o));
    }
    http = vertx.createHttpClient(new HttpClientOptions().setKeepAlive(true), new PoolOptions().setHttp1MaxSize(32));
    for (int p = 0; p < PHASES; p++) {
      latency[p] = new Recorder(MAX_LATENCY_MICROS, 3);
      delivered[p] = new LongAdder();
    }
    for (int node = 0; node < MAX_NODES; node++) {
      steadyLatencyByNode[node] = new Recorder(MAX_LATENCY_MICROS, 3);
    }
  }

  /** One client connection. Its fields are touched only on its receiver loop. */
  final class Conn {
    final int index;
    final String user;
    final int port;
    final int node;
    Context ctx;
    WebSocket ws;
    long received;
    long lastSeq = -1;
    Promise<Void> waiting;
    String waitingFor;
    long timer = -1;

    Conn(int index, String user, int port, int node) {
      this.index = index;
      this.user = user;
      this.port = port;
      this.node = node;
    }

    /** Writes from any thread; Vert.x hands the frame to the socket's own loop. */
    void write(String frame) {
      WebSocket w = ws;
      if (w != null && !w.isClosed()) {
        w.writeTextMessage(frame);
      }
    }
  }

  /** A receiving connection, placed on receiver loop {@code index % loops}. */
  Conn conn(int index, String user, int port, int node) {
    return new Conn(index, user, port, node);
  }

  /**
   * A WebSocket publisher: a {@link SwitchboardClient} on the publisher's own loop, so a publish is written
   * without a thread hop, sharing the receivers' WebSocket client (source address, compression offer).
   * Completes once authenticated; fails after {@code timeoutMs} without it. Its connection closing before
   * {@link #expectCloses()} counts as an unexpected close, and an error frame as an error, as for a receiver.
   */
  Future<SwitchboardClient> publisher(int index, int port, String token, long timeoutMs) {
    Promise<SwitchboardClient> done = Promise.promise();
    pub.runOnContext(v -> {
      SwitchboardClient c = SwitchboardClient.create(vertx, new SwitchboardClient.Options()
          .url("ws://127.0.0.1:" + port + "/ws")
          .token(token)
          .connectTimeout(Duration.ofMillis(timeoutMs))
          .webSocketClient(clients.get(Math.floorMod(index, clients.size()))));
      publishers.add(c);
      boolean[] connected = {false}; // a failed attempt within the connect window is no close; the timeout decides
      c.onStateChange(change -> {
        if (change.state() == SwitchboardClient.State.CONNECTED) {
          connected[0] = true;
        } else if (change.state() == SwitchboardClient.State.DISCONNECTED && connected[0] && !closing) {
          unexpectedCloses.increment();
          sample("publisher closed by server: " + change.closeCode() + " " + change.reason());
        }
      });
      c.onError(e -> {
        sample("publisher: " + e);
        errors.increment();
      });
      c.connect().timeout(timeoutMs, TimeUnit.MILLISECONDS).onComplete(ar -> {
        if (ar.succeeded()) {
          done.complete(c);
        } else {
          c.close();
          done.fail(new IllegalStateException("publisher to port " + port + " not connected within " + timeoutMs
              + " ms: " + ar.cause().getMessage(), ar.cause()));
        }
      });
    });
    return done.future();
  }

  /**
   * Publishes with the ack the client waits for (on the publisher's loop, where the pacing calls it); a
   * refused or unanswered publish counts as an error, and its receipts never come, so the run is flagged.
   */
  void publish(SwitchboardClient publisher, String channel, JsonObject message) {
    publisher.publish(channel, message).onFailure(e -> {
      sample("publish refused: " + e);
      errors.increment();
    });
  }

  /** The same from a JVM on the clustered event bus ({@code --publisher bus}). */
  void publish(BusPublisher publisher, String channel, JsonObject message) {
    publisher.publish(channel, message).onFailure(e -> {
      sample("publish refused: " + e);
      errors.increment();
    });
  }

  /**
   * Connects and authenticates with a first {@code auth} frame (SPEC §4), completing on
   * {@code auth_success}. {@code channels} are asked for in the same frame.
   */
  Future<Void> connect(Conn c, String token, List<String> channels, long timeoutMs) {
    Promise<Void> done = Promise.promise();
    c.ctx = recv[Math.floorMod(c.index, recv.length)];
    c.ctx.runOnContext(v -> {
      WebSocketClient client = clients.get(Math.floorMod(c.index, clients.size()));
      client.connect(new WebSocketConnectOptions().setHost("127.0.0.1").setPort(c.port).setURI("/ws")
              .setTimeout(timeoutMs))
          .onFailure(done::tryFail)
          .onSuccess(ws -> {
            c.ws = ws;
            ws.handler(b -> onFrame(c, b));
            ws.exceptionHandler(e -> { });
            ws.closeHandler(x -> {
              if (!closing) {
                unexpectedCloses.increment();
                sample("closed by server: " + ws.closeStatusCode() + " " + ws.closeReason());
              }
              fail(c, "socket closed (" + ws.closeStatusCode() + " " + ws.closeReason() + ")");
            });
            await(c, "auth_success", timeoutMs).onComplete(done);
            ws.writeTextMessage(new JsonObject().put("type", "auth").put("token", token)
                .put("channels", new JsonArray(channels)).encode());
          });
    });
    return done.future();
  }

  /** Subscribes and completes on the ack (for Switchboard: once the subscription is live cluster-wide). */
  Future<Void> subscribe(Conn c, String channel, long timeoutMs) {
    Promise<Void> done = Promise.promise();
    c.ctx.runOnContext(v -> {
      await(c, "ack", timeoutMs).onComplete(done);
      c.ws.writeTextMessage(new JsonObject().put("type", "subscribe").put("id", 1).put("channel", channel).encode());
    });
    return done.future();
  }

  private Future<Void> await(Conn c, String type, long timeoutMs) {
    Promise<Void> p = Promise.promise();
    c.waiting = p;
    c.waitingFor = "\"type\":\"" + type + "\"";
    c.timer = c.ctx.owner().setTimer(timeoutMs, t -> fail(c, "no " + type + " within " + timeoutMs + " ms"));
    return p.future();
  }

  /** Whether a receipt arrived after a later message on the same connection, in the phase that counts it. */
  static boolean countsAsOutOfOrder(int phase, long seq, long lastSeq) {
    return phase == PHASE_RATE && seq <= lastSeq;
  }

  private void fail(Conn c, String why) {
    Promise<Void> p = c.waiting;
    if (p != null) {
      c.waiting = null;
      c.ctx.owner().cancelTimer(c.timer);
      p.tryFail(why);
    }
  }

  private void onFrame(Conn c, Buffer b) {
    byte[] bytes = b.getBytes();
    int at = indexOf(bytes, SEQ, 0);
    if (at >= 0) {
      long now = System.nanoTime();
      long seq = number(bytes, at, SEQ);
      int p = (int) number(bytes, indexOf(bytes, PHASE, at), PHASE);
      long t = number(bytes, indexOf(bytes, SENT, at), SENT);
      if (p < 0 || p >= PHASES) {
        p = PHASE_EXTRA;
      }
      long micros = Math.min(MAX_LATENCY_MICROS, Math.max(0, (now - t) / 1000));
      latency[p].recordValue(micros);
      if (p == PHASE_RATE && c.node < MAX_NODES) {
        steadyLatencyByNode[c.node].recordValue(micros);
      }
      delivered[p].increment();
      deliveredTotal.increment();
      c.received++;
      // Counted in the steady phase only: the closed-loop phases keep several HTTP publishes in flight at once,
      // which the API may accept in any order, so an overtaking there says nothing about the delivery path.
      if (countsAsOutOfOrder(p, seq, c.lastSeq)) {
        outOfOrder.increment();
      }
      c.lastSeq = seq;
      if (remaining.decrementAndGet((int) (seq & (RING - 1))) == 0) {
        completed.incrementAndGet();
        Runnable r = onComplete;
        if (r != null) {
          pub.runOnContext(v -> r.run());
        }
      }
      return;
    }
    String text = new String(bytes, StandardCharsets.UTF_8);
    if (text.contains("\"type\":\"error\"")) {
      sample(text);
      errors.increment();
      fail(c, text);
      return;
    }
    Promise<Void> p = c.waiting;
    if (p != null && text.contains(c.waitingFor)) {
      c.waiting = null;
      c.ctx.owner().cancelTimer(c.timer);
      p.tryComplete();
    }
  }

  /** Called before {@code errors} is counted, so whoever sees the count also finds the sample. */
  private void sample(String text) {
    if (errorSamples.size() < 5) {
      errorSamples.add(text.length() > 300 ? text.substring(0, 300) : text);
    }
  }

  private static int indexOf(byte[] b, byte[] key, int from) {
    outer:
    for (int i = Math.max(0, from); i <= b.length - key.length; i++) {
      for (int j = 0; j < key.length; j++) {
        if (b[i + j] != key[j]) {
          continue outer;
        }
      }
      return i;
    }
    return -1;
  }

  /** The unsigned integer right after {@code key} found at {@code keyAt}, or -1. */
  private static long number(byte[] b, int keyAt, byte[] key) {
    if (keyAt < 0) {
      return -1;
    }
    long v = 0;
    boolean any = false;
    for (int i = keyAt + key.length; i < b.length && b[i] >= '0' && b[i] <= '9'; i++) {
      v = v * 10 + (b[i] - '0');
      any = true;
    }
    return any ? v : -1;
  }

  // ---- publishing ---------------------------------------------------------------------------------

  /** Writes one message whose payload is given; returns how many receipts it expects. */
  interface Sender {
    int send(String payload, long seq);
  }

  /** The payload: sequence, phase, send time, then padding to about {@code size} bytes of JSON. */
  static String payload(long seq, int phase, String pad) {
    return "{\"seq\":" + seq + ",\"p\":" + phase + ",\"t\":" + System.nanoTime() + ",\"pad\":\"" + pad + "\"}";
  }

  /** HTTP publish ({@code POST /api/publish}); the reply is not waited for by the pacing. */
  void httpPublish(int port, String apiKey, String channel, String payload) {
    String body = "{\"channel\":\"" + channel + "\",\"message\":" + payload + "}";
    http.request(new RequestOptions().setMethod(HttpMethod.POST).setHost("127.0.0.1").setPort(port)
            .setURI("/api/publish").addHeader("Authorization", "Bearer " + apiKey)
            .addHeader("Content-Type", "application/json"))
        .compose(req -> req.send(body))
        .onSuccess(resp -> {
          if (resp.statusCode() != 200) {
            sample("HTTP publish answered " + resp.statusCode());
            errors.increment();
          }
        })
        .onFailure(e -> {
          sample("HTTP publish failed: " + e.getMessage());
          errors.increment();
        });
  }

  /** Result of one publishing phase. */
  record PhaseRun(int phase, long sent, long startNanos, long sendEndNanos, long endNanos, long throttled,
                  boolean drained) {
    double seconds() {
      return (endNanos - startNanos) / 1e9;
    }
  }

  /**
   * Closed loop: keeps {@code window} messages in flight (sent and not yet received by every expected
   * receiver) for {@code durationMs}, then waits for the last ones. Measures the highest rate the pair
   * server + load generator sustains.
   */
  Future<PhaseRun> closedLoop(int phase, int window, long durationMs, long drainMs, Sender sender, String pad) {
    Promise<PhaseRun> done = Promise.promise();
    pub.runOnContext(v -> {
      long start = System.nanoTime();
      long stopAt = start + durationMs * 1_000_000L;
      long[] sendEnd = {0};
      Runnable pump = new Runnable() {
        @Override
        public void run() {
          if (sendEnd[0] != 0) {
            return;
          }
          if (System.nanoTime() >= stopAt) {
            sendEnd[0] = System.nanoTime();
            onComplete = null;
            drain(phase, start, sendEnd[0], 0, drainMs, done);
            return;
          }
          while (nextSeq - completed.get() < window) {
            sendOne(phase, sender, pad);
          }
        }
      };
      onComplete = pump;
      pump.run();
      // a lost message would stall the window forever; the timer ends the phase regardless
      vertx.setTimer(durationMs + 1, t -> pub.runOnContext(x -> pump.run()));
    });
    return done.future();
  }

  /**
   * Open loop at {@code rate} messages/s for {@code durationMs}, paced against the schedule: a one-shot timer
   * wakes the publisher loop when the next message is due (a late tick sends what is due). At 20 msg/s that is
   * 20 wake-ups a second; a 1 ms periodic tick cost the bench 0.06 cores of the two the servers share.
   * {@code maxOutstanding} bounds the backlog when the server falls behind; skipped sends are counted as
   * throttled, and the phase reports it.
   */
  Future<PhaseRun> openLoop(int phase, double rate, long durationMs, long drainMs, int maxOutstanding, Sender sender,
                            String pad) {
    Promise<PhaseRun> done = Promise.promise();
    long durationNanos = durationMs * 1_000_000L;
    pub.runOnContext(v -> {
      long start = System.nanoTime();
      long[] state = {0, 0}; // sent in phase, throttled
      Handler<Long> tick = new Handler<>() {
        @Override
        public void handle(Long id) {
          long now = System.nanoTime();
          long elapsed = Math.min(now - start, durationNanos);
          long due = (long) (elapsed / 1e9 * rate);
          while (state[0] < due) {
            if (nextSeq - completed.get() >= maxOutstanding) {
              state[1] += due - state[0];
              state[0] = due;
              break;
            }
            sendOne(phase, sender, pad);
            state[0]++;
          }
          if (now - start >= durationNanos) {
            drain(phase, start, now, state[1], drainMs, done);
            return;
          }
          long nextDue = Math.min(durationNanos, (long) Math.ceil((state[0] + 1) / rate * 1e9));
          vertx.setTimer(Math.max(1, (start + nextDue - now + 999_999L) / 1_000_000L), this);
        }
      };
      vertx.setTimer(1, tick);
    });
    return done.future();
  }

  private void sendOne(int phase, Sender sender, String pad) {
    long seq = nextSeq;
    // the expected count must be in place before the first receipt can arrive
    int slot = (int) (seq & (RING - 1));
    String payload = payload(seq, phase, pad);
    remaining.set(slot, Integer.MAX_VALUE / 2);
    int expected = sender.send(payload, seq);
    nextSeq++;
    sent[phase]++;
    expectedReceipts[phase] += expected;
    if (remaining.addAndGet(slot, expected - Integer.MAX_VALUE / 2) == 0) {
      completed.incrementAndGet();
    }
  }

  private void drain(int phase, long start, long sendEnd, long throttled, long drainMs, Promise<PhaseRun> done) {
    long deadline = System.nanoTime() + drainMs * 1_000_000L;
    vertx.setPeriodic(5, id -> {
      boolean all = completed.get() >= nextSeq;
      if (all || System.nanoTime() > deadline) {
        vertx.cancelTimer(id);
        done.tryComplete(new PhaseRun(phase, sent[phase], start, sendEnd, System.nanoTime(), throttled, all));
      }
    });
  }

  /** From now on a server closing a socket is expected (the node is being stopped); the publishers close now. */
  void expectCloses() {
    closing = true;
    for (SwitchboardClient c : publishers) {
      c.close();
    }
  }

  long outstanding() {
    return nextSeq - completed.get();
  }

  Histogram takeLatency(int phase) {
    return latency[phase].getIntervalHistogram();
  }

  @Override
  public void close() {
    closing = true;
    try {
      vertx.close().toCompletionStage().toCompletableFuture().get(60, java.util.concurrent.TimeUnit.SECONDS);
    } catch (Exception e) {
      // best effort: the process is about to move on or exit
    }
  }

  /** Runs {@code count} tasks with at most {@code concurrency} in flight; completes when all have. */
  static Future<Void> throttled(Vertx vertx, int count, int concurrency, java.util.function.IntFunction<Future<?>> task) {
    Promise<Void> all = Promise.promise();
    if (count == 0) {
      all.complete();
      return all.future();
    }
    AtomicInteger next = new AtomicInteger();
    AtomicInteger finished = new AtomicInteger();
    Runnable[] launch = new Runnable[1];
    launch[0] = () -> {
      int i = next.getAndIncrement();
      if (i >= count) {
        return;
      }
      task.apply(i).onComplete(ar -> {
        if (finished.incrementAndGet() == count) {
          all.tryComplete();
        } else {
          launch[0].run();
        }
      });
    };
    for (int i = 0; i < Math.min(concurrency, count); i++) {
      launch[0].run();
    }
    return all.future();
  }
}
