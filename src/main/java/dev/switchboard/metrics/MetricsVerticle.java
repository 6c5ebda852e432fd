package dev.switchboard.metrics;

import dev.switchboard.bus.Addresses;
import dev.switchboard.bus.Publication;
import dev.switchboard.cluster.ConsumerDirectory;
import dev.switchboard.cluster.NodeContext;
import dev.switchboard.protocol.Channel;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryUsage;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.HistogramIterationValue;

/**
 * The live side of observability: once a second this node publishes its own stats as an ordinary
 * {@link Publication} on the {@value Channel#SYSTEM_STATS} channel, so an admin session connected to any node
 * receives every node's stats through the normal fan-out (one consumer per node with admin subscribers,
 * nothing sent anywhere while no dashboard is open). It also runs the {@link EventLoopProbe}.
 *
 * <p>The stats frame ({@code message} of a {@code $sys:stats} message):
 * <pre>{@code
 * {"node":"n1","id":"<cluster id>","ts":<epoch ms>,"interval_ms":1000,"ready":true,"draining":false,
 *  "members":2,"connections":10,"users":9,
 *  "in":{"total":n,"rate":r,"by_type":{"broadcast":r,…}},          rates are per second over the interval
 *  "out":{"total":n,"rate":r},
 *  "dropped":{"total":n,"rate":r,"by_reason":{"rate_limited":{"total":n,"rate":r},…}},
 *  "connects":{"ok":n,…},"disconnects":{"1000":n,…},                totals, non-zero only
 *  "latency":{"count":n,"p50":ms,"p90":ms,"p99":ms,"max":ms,"buckets":[[i,count],…]},
 *  "loop_lag_ms":ms,"heap_used":bytes,"heap_max":bytes,"uptime_s":s}
 * }</pre>
 * Latency covers the deliveries of the last interval on this node. Bucket {@code i} holds values up to
 * {@code 10^((i+1)/20)} µs (20 buckets per decade), so a dashboard can merge nodes and take cluster-wide
 * percentiles instead of averaging per-node ones.
 */
public final class MetricsVerticle extends VerticleBase {

  static final long INTERVAL_MS = 1000;
  static final int BUCKETS_PER_DECADE = 20;

  private final NodeContext node;
  private final SwitchboardMetrics metrics;
  private final long startedAt = System.currentTimeMillis();
  private EventLoopProbe probe;
  private long timer = -1;
  /** Ticks of the stats timer; written by this verticle's loop only, read by tests. */
  private volatile int ticks;
  private long lastNanos;
  private double lastIn;
  private double lastOut;
  private final Map<String, Double> lastInByType = new HashMap<>();
  private final Map<String, Double> lastDropped = new HashMap<>();

  public MetricsVerticle(NodeContext node) {
    this.node = node;
    this.metrics = node.metrics();
  }

  @Override
  public Future<?> start() {
    probe = new EventLoopProbe(vertx, metrics);
    probe.start();
    lastNanos = System.nanoTime();
    snapshot();
    timer = vertx.setPeriodic(INTERVAL_MS, t -> publish());
    return Future.succeededFuture();
  }

  @Override
  public Future<?> stop() {
    vertx.cancelTimer(timer);
    probe.stop();
    return Future.succeededFuture();
  }

  /**
   * Takes the snapshot every second either way, so the rates and the latency window always cover one
   * interval, but publishes it only while some member may have an admin subscriber: on a cluster, a publish
   * on an address nobody consumes is a read of Hazelcast's subscription table (Vert.x caches only addresses
   * that have consumers), which every node would otherwise pay each second for a feed nobody reads.
   */
  private void publish() {
    ticks++;
    JsonObject stats = snapshot();
    if (ConsumerDirectory.worthPublishing(vertx, Addresses.STATS)) {
      vertx.eventBus().publish(Addresses.STATS, Publication.now(Channel.SYSTEM_STATS, stats, null).toJson());
    }
  }

  /** How many times the stats timer has fired. */
  int ticks() {
    return ticks;
  }

  /** This node's stats since the previous call (the first call only primes the rates). */
  JsonObject snapshot() {
    long now = System.nanoTime();
    double seconds = Math.max(1e-3, (now - lastNanos) / 1e9);
    lastNanos = now;

    Map<String, Double> inByType = metrics.messagesInByType();
    double inTotal = inByType.values().stream().mapToDouble(Double::doubleValue).sum();
    JsonObject inRates = new JsonObject();
    inByType.forEach((type, total) -> {
      double r = rate(total, lastInByType.put(type, total), seconds);
      if (r > 0) {
        inRates.put(type, round(r));
      }
    });
    double outTotal = metrics.deliveredTotal();

    JsonObject byReason = new JsonObject();
    double droppedTotal = 0;
    double droppedRate = 0;
    for (Map.Entry<String, Double> e : metrics.droppedByReason().entrySet()) {
      double r = rate(e.getValue(), lastDropped.put(e.getKey(), e.getValue()), seconds);
      droppedTotal += e.getValue();
      droppedRate += r;
      byReason.put(e.getKey(), new JsonObject().put("total", e.getValue().longValue()).put("rate", round(r)));
    }

    MemoryUsage heap = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage();
    JsonObject stats = new JsonObject()
        .put("node", node.name())
        .put("id", node.nodeId())
        .put("ts", System.currentTimeMillis())
        .put("interval_ms", Math.round(seconds * 1000))
        .put("ready", node.ready() && MetricsRoutes.clusterJoined(node))
        .put("draining", node.draining())
        .put("members", node.members().size())
        .put("connections", node.sessions().openSockets())
        .put("users", node.sessions().users())
        .put("in", new JsonObject().put("total", (long) inTotal).put("rate", round(rate(inTotal, lastIn, seconds)))
            .put("by_type", inRates))
        .put("out", new JsonObject().put("total", (long) outTotal).put("rate", round(rate(outTotal, lastOut, seconds))))
        .put("dropped", new JsonObject().put("total", (long) droppedTotal).put("rate", round(droppedRate))
            .put("by_reason", byReason))
        .put("connects", nonZero(metrics.connectsByResult()))
        .put("disconnects", nonZero(metrics.disconnectsByCode()))
        .put("latency", latency(metrics.takeLatencyWindow()))
        .put("loop_lag_ms", round(probe.closeWindow() / 1e6))
        .put("heap_used", heap.getUsed())
        .put("heap_max", heap.getMax())
        .put("uptime_s", (System.currentTimeMillis() - startedAt) / 1000);
    lastIn = inTotal;
    lastOut = outTotal;
    return stats;
  }

  /** Per second since the previous total; 0 for a series seen for the first time. */
  private static double rate(double total, Double previous, double seconds) {
    return previous == null ? 0 : Math.max(0, total - previous) / seconds;
  }

  static JsonObject latency(Histogram h) {
    JsonObject o = new JsonObject().put("count", h.getTotalCount());
    if (h.getTotalCount() == 0) {
      return o.put("buckets", new JsonArray());
    }
    o.put("p50", ms(h.getValueAtPercentile(50)))
        .put("p90", ms(h.getValueAtPercentile(90)))
        .put("p99", ms(h.getValueAtPercentile(99)))
        .put("max", ms(h.getMaxValue()));
    TreeMap<Integer, Long> buckets = new TreeMap<>();
    for (HistogramIterationValue v : h.recordedValues()) {
      buckets.merge(bucketOf(v.getValueIteratedTo()), v.getCountAtValueIteratedTo(), Long::sum);
    }
    JsonArray arr = new JsonArray();
    buckets.forEach((i, c) -> arr.add(new JsonArray().add(i).add(c)));
    return o.put("buckets", arr);
  }

  /** The log bucket of a latency in µs: bucket i holds values in (10^(i/20), 10^((i+1)/20)]. */
  static int bucketOf(long micros) {
    return micros <= 1 ? 0 : (int) Math.ceil(Math.log10(micros) * BUCKETS_PER_DECADE) - 1;
  }

  private static JsonObject nonZero(Map<String, Double> totals) {
    JsonObject o = new JsonObject();
    totals.forEach((k, v) -> {
      if (v > 0) {
        o.put(k, v.longValue());
      }
    });
    return o;
  }

  private static double ms(long micros) {
    return round(micros / 1000.0);
  }

  private static double round(double v) {
    return Math.round(v * 1000) / 1000.0;
  }
}
