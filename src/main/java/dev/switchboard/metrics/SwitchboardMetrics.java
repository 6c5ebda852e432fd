package dev.switchboard.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/**
 * Every Switchboard meter name and label, in one place (SPEC §7). Counters are cached per label value so the
 * hot path does one map lookup at most; delivery counting is a single {@link Counter#increment(double)} per
 * publication per gateway instance, not per socket.
 *
 * <p>Prometheus names (Micrometer adds the unit and {@code _total}): {@code switchboard_connections},
 * {@code switchboard_connects_total{result}}, {@code switchboard_disconnects_total{code}},
 * {@code switchboard_messages_in_total{type}}, {@code switchboard_messages_delivered_total},
 * {@code switchboard_messages_dropped_total{reason}}, {@code switchboard_publish_to_socket_seconds} (histogram),
 * {@code switchboard_cluster_nodes}, {@code switchboard_event_loop_delay_seconds} and
 * {@code switchboard_event_loop_lag_seconds{loop}}.
 *
 * <p>Besides the cumulative Prometheus histogram, publish→socket latencies also go to an HdrHistogram
 * {@link Recorder}: the dashboard wants the percentiles of the last second, which a cumulative histogram
 * cannot give without bucket arithmetic. Recording is wait-free from any event loop.
 */
public final class SwitchboardMetrics {

  /** Connect results counted, each pre-registered at zero. */
  static final String[] CONNECT_RESULTS = {"ok", "unauthorized", "too_many_connections", "auth_timeout",
      "forbidden_origin", "node_full", "draining", "no_quorum", "header_timeout", "body_timeout"};
  static final String[] DROP_REASONS = {"slow_consumer", "rate_limited", "no_session", "too_large", "no_quorum"};
  static final String[] MESSAGE_TYPES = {"auth", "subscribe", "unsubscribe", "broadcast", "send", "presence",
      "request", "history", "ping", "invalid", "binary"};
  static final int[] CLOSE_CODES = {1000, 1001, 1006, 1008, 1009, 1011, 4008, 4009, 4010, 4029};
  /** Codes a peer may close with besides those: RFC 6455 §7.4.1's. Any other counts as "other". */
  private static final Set<Integer> PEER_CODES = Set.of(1002, 1003, 1005, 1007, 1010);

  static final Duration[] LATENCY_BUCKETS = java.util.stream.Stream.of(0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0,
      250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0).map(ms -> Duration.ofNanos((long) (ms * 1_000_000))).toArray(Duration[]::new);

  /** One hour in microseconds: anything later than that is clamped, not lost. */
  private static final long MAX_LATENCY_MICROS = 3_600_000_000L;

  private final MeterRegistry registry;
  private final ConcurrentMap<String, Counter> connects = new ConcurrentHashMap<>();
  private final ConcurrentMap<String, Counter> disconnects = new ConcurrentHashMap<>();
  private final ConcurrentMap<String, Counter> messagesIn = new ConcurrentHashMap<>();
  private final ConcurrentMap<String, Counter> dropped = new ConcurrentHashMap<>();
  private final Counter delivered;
  private final Timer publishToSocket;
  private final Recorder latencyWindow = new Recorder(MAX_LATENCY_MICROS, 2);
  private final Timer loopDelay;
  private Histogram recycled;

  public SwitchboardMetrics(MeterRegistry registry) {
    this.registry = registry;
    this.delivered = Counter.builder("switchboard.messages.delivered")
        .description("Messages written to sockets").register(registry);
    this.publishToSocket = Timer.builder("switchboard.publish.to.socket")
        .description("Time from the router accepting a publish to the frame being written to a socket")
        // Fixed buckets, 1-2.5-5 per decade from 0.5 ms to 10 s: enough for histogram_quantile at the scale a
        // push gateway's latency lives on, where Micrometer's percentile histogram over the same range made
        // about 110 series per node.
        .serviceLevelObjectives(LATENCY_BUCKETS)
        .register(registry);
    this.loopDelay = Timer.builder("switchboard.event.loop.delay")
        .description("How late a probe task ran on an event loop (all loops): a busy or blocked loop shows here")
        .register(registry);
  }

  public MeterRegistry registry() {
    return registry;
  }

  /** Registers the gauges whose values live elsewhere (connection and node counts). */
  public void gauges(Supplier<Number> connections, Supplier<Number> clusterNodes) {
    Gauge.builder("switchboard.connections", connections).description("Open WebSocket connections")
        .register(registry);
    Gauge.builder("switchboard.cluster.nodes", clusterNodes).description("Members of the cluster")
        .register(registry);
  }

  /**
   * result: ok, unauthorized, auth_timeout, forbidden_origin, too_many_connections, node_full, draining, no_quorum,
   * header_timeout, body_timeout.
   */
  public void connect(String result) {
    connects.computeIfAbsent(result, r -> Counter.builder("switchboard.connects").tag("result", r)
        .description("Connection attempts by result").register(registry)).increment();
  }

  public void disconnect(int code) {
    disconnectCounter(codeLabel(code)).increment();
  }

  /**
   * A client chooses its own close code (3000–4999 are free for applications), so each code outside the
   * known ones would otherwise become a series of its own: thousands of them, from one client.
   */
  static String codeLabel(int code) {
    for (int known : CLOSE_CODES) {
      if (known == code) {
        return Integer.toString(code);
      }
    }
    return PEER_CODES.contains(code) ? Integer.toString(code) : "other";
  }

  private Counter disconnectCounter(String code) {
    return disconnects.computeIfAbsent(code, c -> Counter.builder("switchboard.disconnects")
        .tag("code", c).description("Closed connections by close code").register(registry));
  }

  public void messageIn(String type) {
    messageInCounter(type).increment();
  }

  private Counter messageInCounter(String type) {
    return messagesIn.computeIfAbsent(type, t -> Counter.builder("switchboard.messages.in").tag("type", t)
        .description("Inbound client frames by type").register(registry));
  }

  public void delivered(int n) {
    if (n > 0) {
      delivered.increment(n);
    }
  }

  /** reason: slow_consumer, rate_limited, no_session, too_large. */
  public void dropped(String reason) {
    droppedCounter(reason).increment();
  }

  private Counter droppedCounter(String reason) {
    return dropped.computeIfAbsent(reason, r -> Counter.builder("switchboard.messages.dropped").tag("reason", r)
        .description("Messages dropped by reason").register(registry));
  }

  /** One delivery's lag from router acceptance (wall clock, so it spans nodes); negative skew is ignored. */
  public void publishToSocket(long micros) {
    if (micros >= 0) {
      publishToSocket.record(micros, TimeUnit.MICROSECONDS);
      latencyWindow.recordValue(Math.min(micros, MAX_LATENCY_MICROS));
    }
  }

  /** How late a scheduled probe ran on an event loop. */
  void eventLoopDelay(long nanos) {
    loopDelay.record(Math.max(0, nanos), TimeUnit.NANOSECONDS);
  }

  /**
   * The publish→socket latencies (µs) recorded since the previous call. Call from one thread only; the
   * returned histogram is reused by the next call.
   */
  synchronized Histogram takeLatencyWindow() {
    recycled = latencyWindow.getIntervalHistogram(recycled);
    return recycled;
  }

  /** Pre-registers the labelled series so a scrape shows them at zero before the first event. */
  public void preRegister() {
    for (String r : CONNECT_RESULTS) {
      connects.computeIfAbsent(r, x -> Counter.builder("switchboard.connects").tag("result", x)
          .description("Connection attempts by result").register(registry));
    }
    for (String r : DROP_REASONS) {
      droppedCounter(r);
    }
    for (String t : MESSAGE_TYPES) {
      messageInCounter(t);
    }
    for (int c : CLOSE_CODES) {
      disconnectCounter(Integer.toString(c));
    }
  }

  // ---- totals for the live stats feed ------------------------------------------------------------

  double deliveredTotal() {
    return delivered.count();
  }

  double publishToSocketCount() {
    return publishToSocket.count();
  }

  Map<String, Double> messagesInByType() {
    return totals(messagesIn);
  }

  Map<String, Double> droppedByReason() {
    return totals(dropped);
  }

  Map<String, Double> connectsByResult() {
    return totals(connects);
  }

  Map<String, Double> disconnectsByCode() {
    return totals(disconnects);
  }

  private static Map<String, Double> totals(Map<String, Counter> counters) {
    Map<String, Double> out = new TreeMap<>();
    counters.forEach((k, c) -> out.put(k, c.count()));
    return out;
  }
}
