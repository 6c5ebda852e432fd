package dev.switchboard.cli;

import dev.switchboard.SwitchboardNode;
import dev.switchboard.config.ConfigException;
import dev.switchboard.config.ConfigLoader;
import dev.switchboard.config.SwitchboardConfig;
import io.vertx.core.json.JsonObject;
import java.lang.management.ManagementFactory;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Starts a node (the default command). Flags override SWITCHBOARD_* env vars, which override the file.
 * SIGTERM drains: readiness false, upgrades refused, sessions closed with 1001 over the drain period,
 * then the node leaves the cluster.
 */
@Command(name = "run", mixinStandardHelpOptions = true, description = "Start a Switchboard node (default command).")
public final class RunCommand implements Callable<Integer> {

  @Option(names = "--conf", description = "Config file (default: SWITCHBOARD_CONF, then conf/switchboard.json).")
  String conf;

  @Option(names = "--port", description = "HTTP/WebSocket port (SWITCHBOARD_PORT).")
  Integer port;

  @Option(names = "--host", description = "Interface to bind (SWITCHBOARD_HOST).")
  String host;

  @Option(names = "--node-id", description = "Node name shown to clients and in /api/nodes (SWITCHBOARD_NODE_ID).")
  String nodeId;

  @Option(names = "--cluster-port", description = "Hazelcast port (SWITCHBOARD_CLUSTER_PORT).")
  Integer clusterPort;

  @Option(names = "--cluster-members", description = "host:port,… to join (SWITCHBOARD_CLUSTER_MEMBERS).")
  String clusterMembers;

  @Option(names = "--cluster-host", description = "Hazelcast interface (SWITCHBOARD_CLUSTER_HOST).")
  String clusterHost;

  @Option(names = "--cluster-name", description = "Cluster name; nodes with different names never join (SWITCHBOARD_CLUSTER_NAME).")
  String clusterName;

  @Option(names = "--standalone", description = "No cluster manager (SWITCHBOARD_STANDALONE=true).")
  Boolean standalone;

  @Option(names = "--redis-url", description = "Redis ingress, redis://host:port (SWITCHBOARD_REDIS_URL).")
  String redisUrl;

  @Override
  public Integer call() throws Exception {
    Map<String, Object> flags = new LinkedHashMap<>();
    flags.put("server.port", port);
    flags.put("server.host", host);
    flags.put("node.id", nodeId);
    flags.put("cluster.port", clusterPort);
    flags.put("cluster.members", clusterMembers);
    flags.put("cluster.host", clusterHost);
    flags.put("cluster.name", clusterName);
    flags.put("cluster.standalone", standalone);
    flags.put("redis.url", redisUrl);
    SwitchboardConfig config;
    try {
      config = ConfigLoader.load(conf, System.getenv(), flags);
    } catch (ConfigException e) {
      System.err.println("switchboard: config error: " + e.getMessage());
      return 2;
    }
    SwitchboardNode node;
    try {
      node = SwitchboardNode.start(config).toCompletionStage().toCompletableFuture().get(120, TimeUnit.SECONDS);
    } catch (ConfigException e) {
      System.err.println("switchboard: config error: " + e.getMessage());
      return 2;
    } catch (java.util.concurrent.ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof ConfigException) {
        // A setting only start-up could judge (a key file, a cluster address): the same answer as any bad setting.
        System.err.println("switchboard: config error: " + cause.getMessage());
        return 2;
      }
      String why = String.valueOf(cause.getMessage());
      if (why.contains("Address already in use")) {
        why = "server.port: port " + config.server().port() + " is in use by another process (" + why + ")";
      }
      System.err.println("switchboard: failed to start: " + why);
      return 1;
    }
    System.out.println(banner("switchboard ready: node=" + node.name() + " port=" + node.port()
        + " jvm_uptime_ms=" + ManagementFactory.getRuntimeMXBean().getUptime()));
    long drainMs = config.drain().period().toMillis();
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try {
        node.drain().toCompletionStage().toCompletableFuture().get(drainMs + 15_000, TimeUnit.MILLISECONDS);
        System.out.println(banner("switchboard stopped: node=" + node.name() + " drained and left the cluster"));
      } catch (Exception e) {
        System.err.println("switchboard: drain did not finish cleanly: " + e);
      }
    }, "switchboard-drain"));
    dev.switchboard.bench.BenchParent.exitWhenGone();
    // Vert.x event-loop threads keep the JVM alive; wait here so the exit code stays ours.
    Thread.currentThread().join();
    return 0;
  }

  /**
   * The lines scripts wait for ("switchboard ready"): plain text, or with {@code SWITCHBOARD_LOG_FORMAT=json} a
   * JSON line holding the same text, so that stdout stays all JSON lines for a log shipper.
   */
  static String banner(String text) {
    return "json".equalsIgnoreCase(System.getenv("SWITCHBOARD_LOG_FORMAT"))
        ? new JsonObject().put("ts", Instant.now().truncatedTo(ChronoUnit.MILLIS).toString()).put("message", text).encode()
        : text;
  }
}
