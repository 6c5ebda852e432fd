package dev.switchboard.bench;

import dev.switchboard.auth.TokenIssuer;
import dev.switchboard.client.SwitchboardClient;
import io.vertx.core.json.JsonObject;
import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;
import org.HdrHistogram.Histogram;

/**
 * {@code fanout}, {@code direct}, {@code cluster} and {@code deflate}: sessions that receive, a
 * publisher, and three phases — a warm-up (closed loop, then the steady rate: both servers are
 * JIT-compiled for the measured traffic before anything counts), a steady open-loop phase at the given
 * rate, which gives the latency percentiles and the CPU cost per delivery, and a closed-loop saturation
 * phase (a fixed number of messages in flight: the highest delivery rate server + load generator
 * sustain). Every phase ends by waiting for its last
 * deliveries, and every expected receipt is counted.
 *
 * <p>fanout: every session subscribes to {@code room:bench}; the publisher sends client {@code broadcast}
 * frames (or {@code POST /api/publish}, or publishes on the event bus from a JVM that joined the cluster,
 * {@link BusPublisher}). direct: sessions only have their own {@code user:} channel; each
 * message is a {@code send} from a random session to another random one. Against several bare servers —
 * which do no routing — the bench does the routing itself: the publisher writes to every server, and a
 * direct send goes from a session on the recipient's server.
 */
final class DeliveryScenario {

  enum Mode { FANOUT, DIRECT }

  /** How fanout publishes: client {@code broadcast} frames, {@code POST /api/publish}, or the clustered event bus. */
  enum Publish {
    WS("client broadcast frames"), HTTP("POST /api/publish"), BUS("a backend JVM on the clustered event bus");

    final String description;

    Publish(String description) {
      this.description = description;
    }

    /** {@code --publisher}'s value. */
    static Publish of(String option) {
      return valueOf(option.toUpperCase(Locale.ROOT));
    }
  }

  /**
   * @param window messages in flight in the closed-loop phases
   * @param text realistic text padding (compressible like chat) instead of a run of one letter
   */
  record Params(String name, Mode mode, int sessions, double rate, long warmupMs, long saturationMs, long durationMs,
                int window, int payloadBytes, Publish publisher, boolean text, boolean memory) {

    /** Whether the servers must be clustered for the publisher (a bus publisher joins their cluster). */
    boolean busPublisher() {
      return mode == Mode.FANOUT && publisher == Publish.BUS;
    }
  }

  /** The steady phase may offer this much less than the rate asked before it is reported as falling short. */
  static final double OFFERED_SHORTFALL = 0.05;
  /** Deliveries/s may fall this much below receivers × offered (the drain's tail) before it is reported. */
  static final double DELIVERED_SHORTFALL = 0.10;

  private static final String ROOM = "room:bench";
  private static final long DRAIN_MS = 15_000;
  private static final double KIB = 1024;
  private static final String[] WORDS = ("the quick update for your order shipped today and will arrive tomorrow "
      + "between noon and four please keep your phone nearby our driver may call when near the address on file "
      + "thanks for shopping with us reply stop to unsubscribe from delivery notifications").split(" ");

  private final BenchSettings s;
  private final Params p;

  DeliveryScenario(BenchSettings s, Params p) {
    this.s = s;
    this.p = p;
  }

  Params params() {
    return p;
  }

  String describe(int nodes) {
    String who = p.mode() == Mode.FANOUT
        ? String.format("%,d subscribers on %s, publisher %s", p.sessions(), ROOM,
            p.publisher().description)
        : String.format("%,d sessions on their user: channels, send frames between random pairs", p.sessions());
    int cores = CpuSampler.cores();
    int cpus = s.cpusPerServer(nodes, cores);
    String sizing = cpus > 0 ? String.format("; each server JVM sized to %d of the %d cores (-XX:ActiveProcessorCount)",
        cpus, cores) : "";
    if (s.nodeNice() > 0) {
      sizing += String.format("; servers %d nicer than the load generator (nice -n)", s.nodeNice());
    }
    int loops = s.clientLoopsFor(nodes, cores);
    sizing += String.format("; load generator with %d receiver loop%s", loops, loops == 1 ? "" : "s");
    if (s.eventLoops() > 0) {
      sizing += String.format("; Switchboard nodes with %d event loop(s) (server.event_loops)", s.eventLoops());
    }
    return String.format("%s; %d node(s)%s; warm-up %d s, steady %,.0f msg/s for %d s, saturation %d s (window %d); "
            + "payload ~%d B", who, nodes, sizing, p.warmupMs() / 1000, p.rate(), p.durationMs() / 1000,
        p.saturationMs() / 1000, p.window(), p.payloadBytes());
  }

  RunResult run(Variant v, int run, String prefix, PrintStream err) throws Exception {
    RunResult r = new RunResult(v.label(), run);
    try (LoadClient client = new LoadClient(s, s.clientLoopsFor(v.spec().count(), CpuSampler.cores()),
        v.clientCompression());
         Progress progress = new Progress(prefix, client, err, s.progress())) {
      TokenIssuer issuer = new TokenIssuer(client.vertx, s.secret());
      String[] tokens = new String[p.sessions()];
      for (int i = 0; i < tokens.length; i++) {
        tokens[i] = issuer.issue(user(i), List.of("bench"), List.of(), Map.of(), Duration.ofHours(12));
      }
      progress.phase("starting " + v.label(), 0);
      try (NodeGroup nodes = NodeGroup.start(v.spec(), s, s.workDir());
           BusPublisher bus = p.busPublisher() ? BusPublisher.join(nodes, 120_000) : null) {
        progress.nodes(nodes);
        Map<String, Long> classes0 = p.memory() ? nodes.liveHeapByClass() : Map.of();
        long heap0 = classes0.getOrDefault("*total", -1L);
        long rss0 = nodes.rssBytes();

        // sessions, spread over the nodes
        progress.phase("connecting", 0);
        Histogram subscribeMicros = new Histogram(3);
        List<LoadClient.Conn> conns = Collections.synchronizedList(new ArrayList<>());
        AtomicInteger failed = new AtomicInteger();
        AtomicInteger done = new AtomicInteger();
        LoadClient.Conn[] byIndex = new LoadClient.Conn[p.sessions()];
        LoadClient.throttled(client.vertx, p.sessions(), s.concurrency(), i -> {
          int node = i % nodes.size();
          LoadClient.Conn c = client.conn(i, user(i), nodes.nodes().get(node).port(), node);
          var f = client.connect(c, tokens[i], List.of(), 60_000);
          if (p.mode() == Mode.FANOUT) {
            f = f.compose(x -> {
              long t0 = System.nanoTime();
              return client.subscribe(c, ROOM, 60_000).onSuccess(y -> {
                synchronized (subscribeMicros) {
                  subscribeMicros.recordValue((System.nanoTime() - t0) / 1000);
                }
              });
            });
          }
          return f.onComplete(ar -> {
            if (ar.succeeded()) {
              conns.add(c);
              byIndex[i] = c;
            } else {
              failed.incrementAndGet();
              if (client.errorSamples.size() < 5) {
                client.errorSamples.add("session " + c.user + ": " + ar.cause().getMessage());
              }
            }
            progress.count(done.incrementAndGet(), p.sessions());
          });
        }).await();
        if (failed.get() > 0) {
          r.incomplete(failed.get() + " of " + p.sessions() + " sessions failed to connect, e.g. " + client.errorSamples.peek());
        }
        if (p.mode() == Mode.FANOUT) {
          r.put("subscribe_ack_p50_ms", subscribeMicros.getValueAtPercentile(50) / 1000.0);
          r.put("subscribe_ack_p99_ms", subscribeMicros.getValueAtPercentile(99) / 1000.0);
        }
        LoadClient.Sender sender = sender(v, client, issuer, nodes, bus, conns, byIndex);

        if (p.warmupMs() > 0) {
          // Closed loop first (many iterations: the JIT gets hot fast), then the steady rate itself, so the
          // measured phase starts with code compiled for its own traffic shape and pays no deoptimisations.
          progress.phase("warm-up", p.warmupMs() / 1000);
          client.closedLoop(LoadClient.PHASE_WARMUP, p.window(), p.warmupMs() / 2, DRAIN_MS, sender, pad(p)).await();
          client.openLoop(LoadClient.PHASE_WARMUP, p.rate(), p.warmupMs() - p.warmupMs() / 2, DRAIN_MS,
              (int) Math.max(100, p.rate() * 2), sender, pad(p)).await();
        }
        nodes.checkAlive();
        progress.phase("steady " + (int) p.rate() + " msg/s", p.durationMs() / 1000);
        CpuSampler.Sample a = CpuSampler.take(nodes);
        int maxOutstanding = (int) Math.max(100, p.rate() * 2);
        LoadClient.PhaseRun ph = client.openLoop(LoadClient.PHASE_RATE, p.rate(), p.durationMs(), DRAIN_MS,
            maxOutstanding, sender, pad(p)).await();
        CpuSampler.Usage u = CpuSampler.between(a, CpuSampler.take(nodes));
        long delivered = client.delivered[LoadClient.PHASE_RATE].sum();
        Histogram h = client.takeLatency(LoadClient.PHASE_RATE);
        r.latency = h;
        double offered = ph.sent() / Math.max(1e-9, (ph.sendEndNanos() - ph.startNanos()) / 1e9);
        r.put("offered_msgs_per_s", offered);
        r.put("deliveries_per_s", delivered / ph.seconds());
        if (delivered == 0) {
          // 0 deliveries would print as 0 CPU and 0 ms: figures that would meet any target without a measurement
          r.incomplete("the steady phase delivered nothing: its latency and CPU figures are not measured");
        } else {
          steadyFigures(r, u, h, delivered, nodes.size(), v, client);
        }
        double perMessage = ph.sent() == 0 ? 0 : (double) client.expectedReceipts[LoadClient.PHASE_RATE] / ph.sent();
        shortfall(p.rate(), offered, delivered / ph.seconds(), perMessage).forEach(r::shortOfLoad);
        r.put("bench_loop", u.benchBusiestLoop());
        r.put("bench_cores", u.benchCores());
        r.put("other_cores", u.otherCores());
        r.put("steal_cores", u.stealCores());
        r.put("throttled", ph.throttled());
        if (u.lostCoresToHost()) {
          r.notes.add(String.format(Locale.ROOT, "steady phase lost %.2f cores to the hypervisor (steal time): its "
              + "latency and CPU figures are disturbed", u.stealCores()));
        }
        if (u.loadGeneratorBound()) {
          r.notes.add("steady phase bounded by the load generator (busiest bench loop "
              + Math.round(u.benchBusiestLoop() * 100) + "%)");
        }
        if (ph.throttled() > 0) {
          r.notes.add(ph.throttled() + " sends skipped in the steady phase: the server fell more than "
              + maxOutstanding + " messages behind");
        }

        if (p.saturationMs() > 0) {
          progress.phase("saturation", p.saturationMs() / 1000);
          CpuSampler.Sample sa = CpuSampler.take(nodes);
          LoadClient.PhaseRun sph = client.closedLoop(LoadClient.PHASE_SATURATION, p.window(), p.saturationMs(),
              DRAIN_MS, sender, pad(p)).await();
          CpuSampler.Usage su = CpuSampler.between(sa, CpuSampler.take(nodes));
          long sdelivered = client.delivered[LoadClient.PHASE_SATURATION].sum();
          Histogram sh = client.takeLatency(LoadClient.PHASE_SATURATION);
          r.put("sat_deliveries_per_s", sdelivered / sph.seconds());
          r.put("sat_node_cpu_s_per_m", su.nodeCpuSeconds() / Math.max(1, sdelivered) * 1e6);
          r.put("sat_node_loop_cpu_s_per_m", su.nodeSecondsByKind()[NodeProcess.LOOPS] / Math.max(1, sdelivered) * 1e6);
          r.put("sat_p99_ms", sh.getValueAtPercentile(99) / 1000.0);
          r.put("sat_bench_loop", su.benchBusiestLoop());
          if (su.loadGeneratorBound()) {
            r.notes.add("saturation bounded by the load generator (busiest bench loop "
                + Math.round(su.benchBusiestLoop() * 100) + "%)");
          }
          nodes.checkAlive();
        }
        if (p.memory()) {
          progress.phase("measuring memory", 0);
          long heap = nodes.liveHeapByClass().getOrDefault("*total", -1L);
          long rss = nodes.rssBytes();
          int c = Math.max(1, conns.size());
          if (heap > 0 && heap0 > 0) {
            r.put("heap_kib_per_conn", (heap - heap0) / KIB / c);
          }
          if (rss > 0 && rss0 > 0) {
            r.put("rss_kib_per_conn", (rss - rss0) / KIB / c);
          }
        }

        long lost = 0;
        for (int phase = 0; phase < LoadClient.PHASES; phase++) {
          lost += client.expectedReceipts[phase] - client.delivered[phase].sum();
        }
        r.put("lost", lost);
        if (p.mode() == Mode.FANOUT) {
          r.put("out_of_order", client.outOfOrder.sum());
        }
        if (lost != 0) {
          r.incomplete(lost + " deliveries missing (negative = duplicates)");
        }
        if (client.errors.sum() > 0) {
          r.incomplete(client.errors.sum() + " error frames, e.g. " + client.errorSamples.peek());
        }
        if (client.unexpectedCloses.sum() > 0) {
          r.incomplete(client.unexpectedCloses.sum() + " sessions closed by the server, e.g. " + client.errorSamples.peek());
        }
        nodes.checkAlive();
        client.expectCloses();
      }
    }
    return r;
  }

  private static void steadyFigures(RunResult r, CpuSampler.Usage u, Histogram h, long delivered, int nodeCount,
                                    Variant v, LoadClient client) {
    r.put("node_cpu_s_per_m", u.nodeCpuSeconds() / Math.max(1, delivered) * 1e6);
    r.put("node_cores", u.nodeCores());
    double perM = 1e6 / Math.max(1, delivered);
    r.put("node_loop_cpu_s_per_m", u.nodeSecondsByKind()[NodeProcess.LOOPS] * perM);
    r.put("node_jit_cpu_s_per_m", u.nodeSecondsByKind()[NodeProcess.JIT] * perM);
    r.put("node_gc_cpu_s_per_m", u.nodeSecondsByKind()[NodeProcess.GC] * perM);
    if (nodeCount > 1 && v.spec().target() == Target.SWITCHBOARD) {
      r.put("node_hz_cpu_s_per_m", u.nodeSecondsByKind()[NodeProcess.HAZELCAST] * perM);
    }
    r.put("node_sys_cpu_s_per_m", u.nodeSysSeconds() * perM);
    r.put("p50_ms", h.getValueAtPercentile(50) / 1000.0);
    r.put("p99_ms", h.getValueAtPercentile(99) / 1000.0);
    r.put("p999_ms", h.getValueAtPercentile(99.9) / 1000.0);
    r.put("max_ms", h.getMaxValue() / 1000.0);
    if (nodeCount > 1) {
      // In fanout Switchboard's publisher is on node 1, so the other nodes' tails include the hop between nodes;
      // against bare servers the load generator publishes to each server itself.
      for (int n = 0; n < Math.min(nodeCount, LoadClient.MAX_NODES); n++) {
        Histogram hn = client.steadyLatencyByNode[n].getIntervalHistogram();
        if (hn.getTotalCount() > 0) {
          r.put("p99_ms_node" + (n + 1), hn.getValueAtPercentile(99) / 1000.0);
        }
      }
    }
  }

  /**
   * Why a steady phase did not carry the load asked for, if it did not: it offered more than
   * {@link #OFFERED_SHORTFALL} below {@code askedRate} (the sender was held back), or delivered more than
   * {@link #DELIVERED_SHORTFALL} below {@code receiversPerMessage} × what it offered (receipts queued behind
   * the server). Its figures then describe an overload, and the report says so.
   */
  static List<String> shortfall(double askedRate, double offered, double deliveriesPerS, double receiversPerMessage) {
    List<String> out = new ArrayList<>();
    if (offered < askedRate * (1 - OFFERED_SHORTFALL)) {
      out.add(String.format(Locale.ROOT, "steady phase offered %,.0f msg/s of the %,.0f asked (%.0f%%): not the "
          + "steady load asked for, the figures are of an overload", offered, askedRate, offered / askedRate * 100));
    }
    double expected = receiversPerMessage * offered;
    if (expected > 0 && deliveriesPerS < expected * (1 - DELIVERED_SHORTFALL)) {
      out.add(String.format(Locale.ROOT, "steady phase delivered %,.0f/s of the %,.0f/s its offered rate makes "
          + "(%,.0f receivers × %,.1f msg/s): deliveries queued behind the server, the figures are of an overload",
          deliveriesPerS, expected, receiversPerMessage, offered));
    }
    return out;
  }

  private String user(int i) {
    return (p.mode() == Mode.FANOUT ? "s" : "d") + i;
  }

  private LoadClient.Sender sender(Variant v, LoadClient client, TokenIssuer issuer, NodeGroup nodes, BusPublisher bus,
                                   List<LoadClient.Conn> conns, LoadClient.Conn[] byIndex) throws Exception {
    boolean bareRouting = v.spec().target() == Target.BARE && nodes.size() > 1;
    int receivers = conns.size();
    if (p.mode() == Mode.FANOUT) {
      int targets = bareRouting ? nodes.size() : 1;
      if (bus != null) {
        // one publish: the event bus reaches every node, or every clustered bare server
        return (payload, seq) -> {
          client.publish(bus, ROOM, new JsonObject(payload));
          return receivers;
        };
      }
      if (p.publisher() == Publish.HTTP) {
        return (payload, seq) -> {
          for (int n = 0; n < targets; n++) {
            client.httpPublish(nodes.nodes().get(n).port(), s.apiKey(), ROOM, payload);
          }
          return receivers;
        };
      }
      List<SwitchboardClient> pubs = new ArrayList<>();
      for (int n = 0; n < targets; n++) {
        pubs.add(client.publisher(-1 - n, nodes.nodes().get(n).port(),
            issuer.issue("publisher" + n, List.of("bench"), List.of(), Map.of(), Duration.ofHours(12)), 60_000).await());
      }
      return (payload, seq) -> {
        // The payload's fields keep their order, so receivers find seq, phase and send time as in every frame.
        JsonObject message = new JsonObject(payload);
        for (SwitchboardClient c : pubs) {
          client.publish(c, ROOM, message);
        }
        return receivers;
      };
    }
    // direct: per node, the sessions that can reach a recipient there
    List<List<LoadClient.Conn>> perNode = new ArrayList<>();
    for (int n = 0; n < nodes.size(); n++) {
      perNode.add(new ArrayList<>());
    }
    List<LoadClient.Conn> all = new ArrayList<>();
    for (LoadClient.Conn c : byIndex) {
      if (c != null) {
        perNode.get(c.node).add(c);
        all.add(c);
      }
    }
    if (all.size() < 2) {
      throw new IllegalStateException("direct needs at least 2 connected sessions");
    }
    return (payload, seq) -> {
      ThreadLocalRandom rnd = ThreadLocalRandom.current();
      LoadClient.Conn to = all.get(rnd.nextInt(all.size()));
      List<LoadClient.Conn> from = bareRouting ? perNode.get(to.node) : all;
      LoadClient.Conn by = from.get(rnd.nextInt(from.size()));
      if (by == to && from.size() > 1) {
        by = from.get((from.indexOf(to) + 1) % from.size());
      }
      by.write("{\"type\":\"send\",\"to\":\"" + to.user + "\",\"message\":" + payload + "}");
      return 1;
    };
  }

  private static String pad(Params p) {
    int len = Math.max(0, p.payloadBytes() - 60);
    StringBuilder b = new StringBuilder(len);
    int w = 0;
    while (b.length() < len) {
      b.append(p.text() ? WORDS[w++ % WORDS.length] + " " : "x");
    }
    b.setLength(len);
    return b.toString();
  }
}
