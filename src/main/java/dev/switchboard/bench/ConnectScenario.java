package dev.switchboard.bench;

import dev.switchboard.auth.TokenIssuer;
import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.HdrHistogram.Histogram;

/**
 * {@code connect}: ramps N authenticated connections, each on its own {@code user:} channel (automatic)
 * and one of 100 rooms (asked for in the auth frame), in equal steps. After each step the connections
 * sit idle while the node's live heap is measured after a full GC and its RSS read, which gives the
 * memory-per-connection curve; CPU per connect counts only the ramp windows, not the measurements.
 */
final class ConnectScenario {

  static final int ROOMS = 100;
  private static final double KIB = 1024;

  private final BenchSettings s;
  private final int n;
  private final int steps;

  ConnectScenario(BenchSettings s, int n, int steps) {
    this.s = s;
    this.n = n;
    this.steps = Math.max(1, Math.min(steps, n));
  }

  String describe() {
    return String.format("%,d authenticated connections (user: channel + 1 of %d rooms), ramped in %d steps, "
        + "%d handshakes in flight, sources 127.0.0.2-127.0.0.%d", n, ROOMS, steps, s.concurrency(),
        1 + Math.max(1, s.sourceAddresses()));
  }

  RunResult run(Variant v, int run, String prefix, PrintStream err) throws Exception {
    RunResult r = new RunResult(v.label(), run);
    try (LoadClient client = new LoadClient(s, s.clientLoopsFor(v.spec().count(), CpuSampler.cores()),
        v.clientCompression());
         Progress progress = new Progress(prefix, client, err, s.progress())) {
      progress.phase("minting tokens", 0);
      TokenIssuer issuer = new TokenIssuer(client.vertx, s.secret());
      String[] tokens = new String[n];
      for (int i = 0; i < n; i++) {
        tokens[i] = issuer.issue("c" + i, List.of("r" + (i % ROOMS)), List.of(), Map.of(), Duration.ofHours(12));
      }
      progress.phase("starting " + v.label(), 0);
      try (NodeGroup nodes = NodeGroup.start(v.spec(), s, s.workDir())) {
        progress.nodes(nodes);
        Thread.sleep(1000);
        Map<String, Long> classes0 = s.memory() ? nodes.liveHeapByClass() : Map.of();
        long heap0 = classes0.getOrDefault("*total", -1L);
        long rss0 = nodes.rssBytes();
        if (heap0 > 0) {
          r.put("heap_mib_base", heap0 / KIB / KIB);
        }
        Histogram connectMicros = new Histogram(3);
        List<LoadClient.Conn> open = Collections.synchronizedList(new ArrayList<>());
        AtomicInteger failed = new AtomicInteger();
        AtomicInteger done = new AtomicInteger();
        double rampSeconds = 0;
        double rampCpu = 0;
        double busiest = 0;
        double rampLoopCpu = 0;
        double rampJitCpu = 0;
        int from = 0;
        for (int step = 1; step <= steps; step++) {
          int to = (int) ((long) n * step / steps);
          int first = from;
          progress.phase("ramp to " + String.format("%,d", to), 0);
          CpuSampler.Sample a = CpuSampler.take(nodes);
          LoadClient.throttled(client.vertx, to - from, s.concurrency(), j -> {
            int i = first + j;
            LoadClient.Conn c = client.conn(i, "c" + i, nodes.nodes().get(i % nodes.size()).port(), i % nodes.size());
            long t0 = System.nanoTime();
            return client.connect(c, tokens[i], List.of("room:r" + (i % ROOMS)), 60_000).onComplete(ar -> {
              if (ar.succeeded()) {
                synchronized (connectMicros) {
                  connectMicros.recordValue((System.nanoTime() - t0) / 1000);
                }
                open.add(c);
              } else {
                failed.incrementAndGet();
                if (client.errorSamples.size() < 5) {
                  client.errorSamples.add("connect " + c.user + ": " + ar.cause().getMessage());
                }
              }
              progress.count(done.incrementAndGet(), n);
            });
          }).await();
          CpuSampler.Usage u = CpuSampler.between(a, CpuSampler.take(nodes));
          rampSeconds += u.seconds();
          rampCpu += u.nodeCpuSeconds();
          rampLoopCpu += u.nodeSecondsByKind()[NodeProcess.LOOPS];
          rampJitCpu += u.nodeSecondsByKind()[NodeProcess.JIT];
          busiest = Math.max(busiest, u.benchBusiestLoop());
          if (step == steps) {
            r.put("node_cpu_ms_per_connect_warm", u.nodeCpuSeconds() * 1000 / Math.max(1, to - from));
          }
          from = to;
          if (s.memory()) {
            progress.phase("measuring memory at " + String.format("%,d", open.size()), 0);
            Thread.sleep(500);
            long heap = nodes.liveHeapByClass().getOrDefault("*total", -1L);
            long rss = nodes.rssBytes();
            int c = Math.max(1, open.size());
            r.memoryCurve.add(new double[] {open.size(), heap0 > 0 && heap > 0 ? (heap - heap0) / (double) c : Double.NaN,
                rss > 0 ? (rss - rss0) / (double) c : Double.NaN});
          }
          nodes.checkAlive();
        }
        int c = Math.max(1, open.size());
        r.put("connections", open.size());
        r.put("connects_per_s", open.size() / Math.max(1e-9, rampSeconds));
        r.put("node_cpu_ms_per_connect", rampCpu * 1000 / c);
        r.put("node_loop_cpu_ms_per_connect", rampLoopCpu * 1000 / c);
        r.put("node_jit_cpu_ms_per_connect", rampJitCpu * 1000 / c);
        r.put("connect_p50_ms", connectMicros.getValueAtPercentile(50) / 1000.0);
        r.put("connect_p99_ms", connectMicros.getValueAtPercentile(99) / 1000.0);
        r.put("bench_loop", busiest);
        if (busiest > CpuSampler.LG_BOUND) {
          r.notes.add("connect rate bounded by the load generator (busiest bench loop " + Math.round(busiest * 100) + "%)");
        }
        if (s.memory()) {
          Map<String, Long> classes = nodes.liveHeapByClass();
          long heap = classes.getOrDefault("*total", -1L);
          long rss = nodes.rssBytes();
          if (heap > 0 && heap0 > 0) {
            r.put("heap_kib_per_conn", (heap - heap0) / KIB / c);
          }
          if (rss > 0 && rss0 > 0) {
            r.put("rss_kib_per_conn", (rss - rss0) / KIB / c);
          }
          classes.entrySet().stream()
              .filter(e -> !e.getKey().equals("*total"))
              .map(e -> Map.entry(e.getKey(), (e.getValue() - classes0.getOrDefault(e.getKey(), 0L)) / (double) c))
              .sorted((x, y) -> Double.compare(y.getValue(), x.getValue()))
              .limit(15)
              .forEach(e -> r.heapByClass.put(e.getKey(), e.getValue()));
        }
        r.put("failed", failed.get());
        if (failed.get() > 0) {
          r.incomplete(failed.get() + " of " + n + " connections failed, e.g. " + client.errorSamples.peek());
        }
        if (client.unexpectedCloses.sum() > 0) {
          r.incomplete(client.unexpectedCloses.sum() + " connections closed by the server, e.g. " + client.errorSamples.peek());
        }
        client.expectCloses();
      }
    }
    return r;
  }
}
