package dev.switchboard.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.function.Supplier;

/**
 * Every Switchboard meter name and label, in one place (SPEC §7). Counters are cached per label value so the
 * hot path does one map lookup at most; delivery counting is a single {@link Counter#increment(double)} per
 * publication per gateway instance, not per socket.
 */
public final class SwitchboardMetrics {

  private final MeterRegistry registry;
  private final ConcurrentMap<String, Counter> connects = new ConcurrentHashMap<>();
  private final ConcurrentMap<String, Counter> disconnects = new ConcurrentHashMap<>();
  private final ConcurrentMap<String, Counter> messagesIn = new ConcurrentHashMap<>();
  private final ConcurrentMap<String, Counter> dropped = new ConcurrentHashMap<>();
  private final Counter delivered;
  private final Timer publishToSocket;

  public SwitchboardMetrics(MeterRegistry registry) {
    this.registry = registry;
    this.delivered = Counter.builder("switchboard.messages.delivered")
        .description("Messages written to sockets").register(registry);
    this.publishToSocket = Timer.builder("switchboard.publish.to.socket")
        .description("Time from the router accepting a publish to the frame being written to a socket")
        .publishPercentileHistogram()
        .minimumExpectedValue(Duration.ofNanos(100_000))
        .maximumExpectedValue(Duration.ofSeconds(10))
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

  /** result: ok, unauthorized, auth_timeout, forbidden_origin, too_many_connections, node_full, draining. */
  public void connect(String result) {
    connects.computeIfAbsent(result, r -> Counter.builder("switchboard.connects").tag("result", r)
        .description("Connection attempts by result").register(registry)).increment();
  }

  public void disconnect(int code) {
    disconnects.computeIfAbsent(Integer.toString(code), c -> Counter.builder("switchboard.disconnects")
        .tag("code", c).description("Closed connections by close code").register(registry)).increment();
  }

  public void messageIn(String type) {
    messagesIn.computeIfAbsent(type, t -> Counter.builder("switchboard.messages.in").tag("type", t)
        .description("Inbound client frames by type").register(registry)).increment();
  }

  public void delivered(int n) {
    if (n > 0) {
      delivered.increment(n);
    }
  }

  /** reason: slow_consumer, rate_limited, no_session. */
  public void dropped(String reason) {
    dropped.computeIfAbsent(reason, r -> Counter.builder("switchboard.messages.dropped").tag("reason", r)
        .description("Messages dropped by reason").register(registry)).increment();
  }

  public void publishToSocket(long micros) {
    if (micros >= 0) {
      publishToSocket.record(Duration.ofNanos(micros * 1000));
    }
  }

  /** Pre-registers the labelled series so a scrape shows them at zero before the first event. */
  public void preRegister() {
    for (String r : new String[] {"ok", "unauthorized", "too_many_connections"}) {
      connects.computeIfAbsent(r, x -> Counter.builder("switchboard.connects").tag("result", x).register(registry));
    }
    for (String r : new String[] {"slow_consumer", "rate_limited", "no_session"}) {
      dropped.computeIfAbsent(r, x -> Counter.builder("switchboard.messages.dropped").tag("reason", x)
          .register(registry));
    }
  }
}
