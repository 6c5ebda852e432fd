package dev.switchboard;

import dev.switchboard.auth.AuthVerticle;
import dev.switchboard.auth.JwksKeys;
import dev.switchboard.auth.JwtTokenVerifier;
import dev.switchboard.cluster.ClusterSetup;
import dev.switchboard.cluster.NodeContext;
import dev.switchboard.cluster.QuorumWatch;
import dev.switchboard.cluster.Seniority;
import dev.switchboard.cluster.NodeDirectory;
import dev.switchboard.config.ConfigException;
import dev.switchboard.config.ConfigLoader;
import dev.switchboard.config.SwitchboardConfig;
import dev.switchboard.gateway.GatewayVerticle;
import dev.switchboard.gateway.NetTransport;
import dev.switchboard.gateway.Session;
import dev.switchboard.history.HazelcastHistoryStore;
import dev.switchboard.history.HistorySettings;
import dev.switchboard.history.HistoryStore;
import dev.switchboard.history.MemoryHistoryStore;
import dev.switchboard.protocol.Channel;
import dev.switchboard.protocol.CloseCode;
import dev.switchboard.router.ChannelRules;
import io.vertx.spi.cluster.hazelcast.HazelcastClusterManager;
import dev.switchboard.limiter.LimiterVerticle;
import dev.switchboard.metrics.MetricsVerticle;
import dev.switchboard.redis.RedisBridgeVerticle;
import dev.switchboard.router.RouterVerticle;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.VertxBuilder;
import io.vertx.core.VertxOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.core.transport.Transport;
import io.vertx.micrometer.Label;
import io.vertx.micrometer.MetricsDomain;
import io.vertx.micrometer.MicrometerMetricsFactory;
import io.vertx.micrometer.MicrometerMetricsOptions;
import java.io.IOException;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One running Switchboard node: builds Vert.x (clustered through Hazelcast, or standalone), deploys the
 * verticles in dependency order — auth, limiter, node directory, quorum watch, router, gateway, Redis
 * bridge — and drains on request. Tests start several of these in one JVM; {@code switchboard run} starts
 * one.
 */
public final class SwitchboardNode {

  private static final Logger log = LoggerFactory.getLogger(SwitchboardNode.class);

  private final Vertx vertx;
  private final NodeContext context;
  private final int port;

  private SwitchboardNode(Vertx vertx, NodeContext context, int port) {
    this.vertx = vertx;
    this.context = context;
    this.port = port;
  }

  public Vertx vertx() {
    return vertx;
  }

  public NodeContext context() {
    return context;
  }

  /** The HTTP/WebSocket port. */
  public int port() {
    return port;
  }

  public String name() {
    return context.name();
  }

  public static Future<SwitchboardNode> start(SwitchboardConfig config) {
    long t0 = System.nanoTime();
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    SwitchboardConfig.Cluster c = config.cluster();
    VertxOptions options = new VertxOptions()
        .setMetricsOptions(new MicrometerMetricsOptions()
            .setEnabled(true)
            .setRegistryName("switchboard-" + UUID.randomUUID())
            .setJvmMetricsEnabled(true)
            // Event-bus metrics would label every channel address: unbounded cardinality, per-message cost.
            // (categories are MetricsDomain.toCategory() prefixes; the enum names would disable nothing)
            .setDisabledMetricsCategories(Set.of(MetricsDomain.EVENT_BUS.toCategory(), MetricsDomain.HTTP_CLIENT.toCategory()))
            .setLabels(EnumSet.of(Label.HTTP_METHOD, Label.HTTP_CODE, Label.POOL_TYPE, Label.POOL_NAME)))
        .setEventBusOptions(ClusterSetup.eventBusOptions(c));
    if (config.server().eventLoops() > 0) {
      options.setEventLoopPoolSize(config.server().eventLoops());
    }
    ConfigLoader.warnings(config).forEach((key, why) -> log.warn("event=config_warning key={} reason=\"{}\"", key, why));
    Transport transport;
    try {
      transport = NetTransport.choose(config.server().transport());
    } catch (ConfigException e) {
      return Future.failedFuture(e);
    }
    VertxBuilder builder = Vertx.builder().with(options).withMetrics(new MicrometerMetricsFactory(registry))
        .withTransport(transport);
    Future<Vertx> vertxFuture;
    if (c.standalone()) {
      vertxFuture = Future.succeededFuture(builder.build());
    } else {
      ClusterSetup.checkHost(c.host());
      com.hazelcast.config.Config hz = ClusterSetup.hazelcastConfig(c);
      HistorySettings.apply(hz, config.channels());
      if (config.redis().url() != null) {
        RedisBridgeVerticle.markMember(hz);
      }
      vertxFuture = builder.withClusterManager(new HazelcastClusterManager(hz)).buildClustered();
    }
    // The result is a promise bound to no context, completed by hand. A failed start closes this Vert.x, and with
    // it the event loops: a future chained off one of them (deploy()'s, or vertx.close()'s continuation) would
    // deliver the failure to a loop that no longer runs (RejectedExecutionException), and the caller would wait
    // forever instead of learning why the node did not start.
    Promise<SwitchboardNode> started = Promise.promise();
    vertxFuture.onComplete(built -> {
      if (built.failed()) {
        started.fail(built.cause());
        return;
      }
      Vertx vertx = built.result();
      int port;
      try {
        port = config.server().port() == 0 ? freePort() : config.server().port();
      } catch (IOException e) {
        closeAndFail(vertx, e, started);
        return;
      }
      SwitchboardConfig effective = withPort(config, port);
      NodeContext ctx = new NodeContext(vertx, effective, registry);
      ctx.history(historyStore(vertx, ctx));
      SwitchboardNode node = new SwitchboardNode(vertx, ctx, port);
      node.deploy().onComplete(deployed -> {
        if (deployed.failed()) {
          closeAndFail(vertx, deployed.cause(), started);
          return;
        }
        node.watchForRejoins();
        ctx.markReady();
        log.info("event=node_ready node={} port={} clustered={} members={} transport={} start_ms={}", ctx.name(),
            port, ctx.clustered(), ctx.members().size(), NetTransport.name(transport),
            (System.nanoTime() - t0) / 1_000_000);
        started.complete(node);
      });
    });
    return started.future();
  }

  /**
   * Closes a node that failed to start (undeploying what was deployed and, clustered, leaving the cluster),
   * then fails {@code started} with the original cause; a failure to close is logged, never reported instead.
   */
  private static void closeAndFail(Vertx vertx, Throwable cause, Promise<SwitchboardNode> started) {
    vertx.close().onComplete(closed -> {
      if (closed.failed()) {
        log.warn("event=close_after_failed_start_failed reason=\"{}\"", closed.cause().getMessage());
      }
      started.fail(cause);
    });
  }

  /** History in the cluster (ringbuffers with a backup copy), or in this JVM when standalone. */
  private static HistoryStore historyStore(Vertx vertx, NodeContext ctx) {
    ChannelRules rules = new ChannelRules(ctx.config().channels());
    if (ctx.clusterManager() instanceof HazelcastClusterManager hcm) {
      HazelcastHistoryStore store = new HazelcastHistoryStore(vertx, hcm.getHazelcastInstance());
      // The oldest node reclaims histories whose items all expired, so idle channels cost nothing.
      vertx.setPeriodic(60_000, t -> {
        if (Seniority.isOldest(hcm, Seniority::isNode)) {
          store.reclaimIdle().onFailure(e -> log.warn("event=history_reclaim_failed reason=\"{}\"", e.getMessage()));
        }
      });
      return store;
    }
    return new MemoryHistoryStore(ch -> rules.rules(Channel.of(ch)));
  }

  private Future<Void> deploy() {
    SwitchboardConfig config = context.config();
    int loops = config.server().instances() > 0 ? config.server().instances() : defaultGatewayInstances();
    return verifier(config)
        .compose(verifier -> vertx.deployVerticle(new AuthVerticle(verifier)))
        .compose(id -> vertx.deployVerticle(new LimiterVerticle(context)))
        .compose(id -> vertx.deployVerticle(new NodeDirectory(context)))
        // Before the gateway, so no connection is accepted before the first count of the nodes.
        .compose(id -> context.clustered() && context.quorum().enabled()
            ? vertx.deployVerticle(new QuorumWatch(context)) : Future.succeededFuture())
        // One router: a session's publishes are requests round-robined over router instances, so with several
        // two publishes of one session could leave out of order. Routing is light; fan-out is the gateways' job.
        .compose(id -> vertx.deployVerticle(new RouterVerticle(context)))
        .compose(id -> vertx.deployVerticle(() -> new GatewayVerticle(context), new DeploymentOptions().setInstances(loops)))
        .compose(id -> vertx.deployVerticle(new MetricsVerticle(context)))
        .compose(id -> config.redis().url() == null ? Future.succeededFuture()
            : vertx.deployVerticle(new RedisBridgeVerticle(context)))
        .mapEmpty();
  }

  /**
   * One gateway event loop per core. Vert.x's default pool (two loops per core) allows for handlers that
   * block; the gateway's never do, and each extra loop holding sessions of a channel is one more loop to
   * wake per publication, competing for the same cores (BENCHMARKS.md item 16: on a 3-node cluster sharing two
   * cores, p99 10.6 → 8.8 ms). The pool keeps its default size: the other verticles use the spare loops.
   */
  static int defaultGatewayInstances() {
    return Runtime.getRuntime().availableProcessors();
  }

  /**
   * The token verifier, with the JWKS keys of auth.jwks_url or auth.jwks_file and of each auth.issuers entry read
   * once at start, all at once.
   */
  private Future<JwtTokenVerifier> verifier(SwitchboardConfig config) {
    SwitchboardConfig.Auth auth = config.auth();
    Future<List<JsonObject>> own = auth.jwksFile() == null && auth.jwksUrl() == null ? Future.succeededFuture(null)
        : loadJwks(auth.jwksUrl(), auth.jwksFile(), auth.jwksFile() != null ? "auth.jwks_file" : "auth.jwks_url");
    List<Future<List<JsonObject>>> all = new ArrayList<>(List.of(own));
    for (SwitchboardConfig.TrustedIssuer t : auth.issuers()) {
      all.add(loadJwks(t.jwksUrl(), t.jwksFile(), t.sourceKey()));
    }
    return Future.join(all).transform(done -> {
      // The first source in config order that cannot be read stops start-up, named.
      for (Future<List<JsonObject>> f : all) {
        if (f.failed()) {
          return Future.failedFuture(f.cause());
        }
      }
      Map<String, List<JsonObject>> byIssuer = new HashMap<>();
      for (int i = 0; i < auth.issuers().size(); i++) {
        byIssuer.put(auth.issuers().get(i).issuer(), all.get(i + 1).result());
      }
      return Future.succeededFuture(
          new JwtTokenVerifier(vertx, auth, config.channels().segments(), own.result(), byIssuer));
    });
  }

  /**
   * JWKS keys from a file or a URL, read once at start. The read is the one the running node's refresh makes
   * ({@link JwksKeys#fetch}): bounded by its timeout, a status other than 200 is a failure, and an entry that is
   * not a usable key is skipped rather than failing the set. A source that cannot be read stops start-up naming
   * its key, as any bad setting does.
   */
  private Future<List<JsonObject>> loadJwks(String url, String file, String key) {
    JwksKeys once = new JwksKeys(vertx, url, file);
    String what = file != null ? "cannot read a JWKS document: " : "cannot fetch JWKS: ";
    Future<List<JsonObject>> keys;
    try {
      keys = once.fetch();
    } catch (RuntimeException e) {
      keys = Future.failedFuture(e);
    }
    return keys.eventually(once::close)
        .recover(e -> Future.failedFuture(new ConfigException(key, what + reasonOf(e))));
  }

  private static String reasonOf(Throwable e) {
    return e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
  }

  /**
   * Graceful drain (SPEC §2): readiness goes false and new upgrades are refused at once; sessions are
   * closed with 1001 spread over the drain period; then the node leaves the cluster. The router keeps
   * serving until the end, so publishes accepted meanwhile still reach subscribers on other nodes.
   */
  public Future<Void> drain() {
    if (!context.startDraining()) {
      return Future.succeededFuture();
    }
    long period = context.config().drain().period().toMillis();
    log.info("event=drain_start node={} sessions={} period_ms={}", name(), context.sessions().connections(), period);
    context.closeSessions(CloseCode.GOING_AWAY.reason());
    Promise<Void> drained = Promise.promise();
    // The last session is closed by the end of the period; a peer that never answers its close frame is cut
    // after the close grace, noticed on the gateway's next 1 s tick (2 s leaves room for a busy loop).
    long deadline = System.currentTimeMillis() + period + Session.closeGraceMillis(context.config()) + 2000;
    vertx.setPeriodic(100, t -> {
      // Until the sockets have closed too, not only the sessions: each socket's cleanup still gives its slots
      // back to the limiter, which must still be deployed then.
      boolean done = context.sessions().connections() == 0 && context.sessions().closingSockets() == 0;
      if (done || System.currentTimeMillis() > deadline) {
        vertx.cancelTimer(t);
        drained.tryComplete();
      }
    });
    return drained.future().compose(v -> {
      log.info("event=drain_done node={} remaining={} closing={}", name(), context.sessions().connections(),
          context.sessions().closingSockets());
      return close();
    });
  }

  /**
   * A node cut off from the others (a long GC or VM pause, a network partition) goes on as a cluster of its
   * own: messages published on the other side never reach its sessions. When Hazelcast merges it back, its
   * sessions reconnect (1001, spread over the drain period) and so recover what they missed with {@code since}
   * where the channel keeps history; a client that stayed would never learn there was a gap.
   */
  void watchForRejoins() {
    if (context.clusterManager() instanceof HazelcastClusterManager hcm) {
      hcm.getHazelcastInstance().getLifecycleService().addLifecycleListener(e -> {
        if (e.getState() == com.hazelcast.core.LifecycleEvent.LifecycleState.MERGED && !context.draining()) {
          long period = context.config().drain().period().toMillis();
          log.info("event=cluster_rejoined node={} sessions={} period_ms={} reason=\"merged back after a split: "
              + "sessions reconnect to recover what they missed\"", name(), context.sessions().connections(), period);
          context.closeSessions("rejoined the cluster after a split: reconnect and recover");
        }
      });
    }
  }

  /** Stops at once: undeploys everything and leaves the cluster. */
  public Future<Void> close() {
    return vertx.close();
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 50, java.net.InetAddress.getByName("127.0.0.1"))) {
      return s.getLocalPort();
    }
  }

  private static SwitchboardConfig withPort(SwitchboardConfig c, int port) {
    SwitchboardConfig.Server s = c.server();
    return new SwitchboardConfig(c.nodeId(), new SwitchboardConfig.Server(s.host(), port, s.wsPath(), s.instances(),
        s.compression(), s.maxConnections(), s.allowedOrigins(), s.tlsCert(), s.tlsKey(), s.transport(),
        s.eventLoops(), s.headerTimeout(), s.bodyTimeout()), c.auth(), c.api(),
        c.session(), c.limits(), c.channels(), c.rpc(), c.cluster(), c.redis(), c.drain(), c.logging());
  }
}
