package dev.switchboard.cluster;

import dev.switchboard.bus.Addresses;
import dev.switchboard.config.SwitchboardConfig;
import dev.switchboard.gateway.ChannelFeeds;
import dev.switchboard.gateway.NodeSessions;
import dev.switchboard.protocol.CloseCode;
import dev.switchboard.history.HistoryStore;
import dev.switchboard.metrics.SwitchboardMetrics;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.internal.VertxInternal;
import io.vertx.core.json.JsonObject;
import io.vertx.core.spi.cluster.ClusterManager;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * What the verticles of one node share: its config, its identity, its metrics, the node-wide session
 * counts, and whether it is ready, draining or cut off from its quorum. One per Vert.x instance; several
 * nodes can live in one JVM (tests), so nothing here is static.
 */
public final class NodeContext {

  private final Vertx vertx;
  private final SwitchboardConfig config;
  private final String name;
  private final PrometheusMeterRegistry registry;
  private final SwitchboardMetrics metrics;
  private final NodeSessions sessions = new NodeSessions();
  private final ChannelFeeds feeds;
  private final AtomicBoolean ready = new AtomicBoolean();
  private final Quorum quorum;
  private volatile HistoryStore history;
  private final AtomicBoolean draining = new AtomicBoolean();
  private final AtomicInteger drainSlots = new AtomicInteger();
  private volatile int drainTotal;

  public NodeContext(Vertx vertx, SwitchboardConfig config, PrometheusMeterRegistry registry) {
    this.vertx = vertx;
    this.config = config;
    this.registry = registry;
    this.metrics = new SwitchboardMetrics(registry);
    this.feeds = new ChannelFeeds(this);
    this.quorum = new Quorum(config.cluster().minNodes());
    String id = nodeId();
    this.name = config.nodeId() != null ? config.nodeId() : "node-" + id.substring(0, Math.min(8, id.length()));
    metrics.gauges(sessions::openSockets, () -> members().size());
    metrics.preRegister();
  }

  public Vertx vertx() {
    return vertx;
  }

  public SwitchboardConfig config() {
    return config;
  }

  /** The node's display name (config node.id, or node-&lt;first 8 of the cluster id&gt;). */
  public String name() {
    return name;
  }

  /** The cluster id of this node (Vert.x node id), used in directed addresses. */
  public String nodeId() {
    ClusterManager cm = clusterManager();
    return cm != null ? cm.getNodeId() : LOCAL_ID.computeIfAbsent(vertx, v -> java.util.UUID.randomUUID().toString());
  }

  private static final java.util.Map<Vertx, String> LOCAL_ID = new java.util.concurrent.ConcurrentHashMap<>();

  /** Null in standalone mode. */
  public ClusterManager clusterManager() {
    return ((VertxInternal) vertx).clusterManager();
  }

  public boolean clustered() {
    return clusterManager() != null;
  }

  /** Cluster member ids, this node included; in standalone mode just this node. */
  public List<String> members() {
    ClusterManager cm = clusterManager();
    return cm != null ? cm.getNodes() : List.of(nodeId());
  }

  public PrometheusMeterRegistry registry() {
    return registry;
  }

  /** Channel history (cluster ringbuffers, or memory when standalone). */
  public HistoryStore history() {
    return history;
  }

  public void history(HistoryStore store) {
    this.history = store;
  }

  public SwitchboardMetrics metrics() {
    return metrics;
  }

  public NodeSessions sessions() {
    return sessions;
  }

  /** The node's channel consumers, one per channel, shared by its gateway instances. */
  public ChannelFeeds feeds() {
    return feeds;
  }

  /** Deployed, not draining, and holding its quorum. */
  public boolean ready() {
    return ready.get() && !draining.get() && quorum.held();
  }

  /** Whether this node sees enough of the cluster to serve ({@code cluster.min_nodes}). */
  public Quorum quorum() {
    return quorum;
  }

  public void markReady() {
    ready.set(true);
  }

  public boolean draining() {
    return draining.get();
  }

  /**
   * Why this node sends sessions away (the 1001 reason: draining, or cut off from its quorum), or null while it
   * takes them. The gateway asks again once an upgrade it let in has completed, since a drain or a lost quorum
   * that came meanwhile closed only the sessions it found.
   */
  public String sendsSessionsAway() {
    if (draining.get()) {
      return CloseCode.GOING_AWAY.reason();
    }
    return quorum.held() ? null : QuorumWatch.CUT_OFF;
  }

  /**
   * Turns readiness off and refuses new upgrades; {@link #closeSessions} then closes what is open.
   *
   * @return true the first time only
   */
  public boolean startDraining() {
    return draining.compareAndSet(false, true);
  }

  /**
   * Closes every session of this node with 1001 and {@code reason}, spread evenly over {@code drain.period}
   * ({@link #nextDrainDelay}) so their clients reconnect without a herd: on a drain, after the node rejoined
   * the cluster from a split, and when it lost its quorum. Each gateway instance closes its own sessions
   * ({@link Addresses#DRAIN}).
   */
  public void closeSessions(String reason) {
    drainSlots.set(0);
    drainTotal = sessions.connections();
    vertx.eventBus().publish(Addresses.DRAIN, new JsonObject().put("period_ms", config.drain().period().toMillis())
        .put("reason", reason), new DeliveryOptions().setLocalOnly(true));
  }

  /**
   * When to close the next session during a drain, counted from the drain's start. Every gateway instance
   * takes its slots from this one schedule, so the node's sessions close evenly over the period rather than
   * each instance starting its own burst at zero.
   */
  public long nextDrainDelay(long periodMs) {
    int total = Math.max(1, drainTotal);
    int slot = Math.min(drainSlots.getAndIncrement(), total - 1);
    return periodMs * slot / total;
  }
}
