package dev.switchboard.examples;

import dev.switchboard.cluster.ClusterSetup;
import dev.switchboard.config.ConfigException;
import dev.switchboard.config.ConfigLoader;
import dev.switchboard.config.SwitchboardConfig;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A backend service that joins a Switchboard cluster as a plain clustered Vert.x — not a Switchboard node:
 * no HTTP port, no sessions — and serves {@link ExampleService}. It reads the same settings as a node
 * (conf/switchboard.json, then SWITCHBOARD_CLUSTER_* env vars), so it finds the nodes the way they find each
 * other. Its own Hazelcast port defaults to 5801 so it can run beside a node on the same host.
 *
 * <pre>
 * java -jar target/switchboard.jar                        # a node: HTTP 8080, Hazelcast 5701
 * SWITCHBOARD_CLUSTER_MEMBERS=127.0.0.1:5701 \
 *   java -cp target/switchboard.jar dev.switchboard.examples.ExampleBackend
 * </pre>
 */
public final class ExampleBackend {

  static final int DEFAULT_PORT = 5801;

  private ExampleBackend() {}

  public static void main(String[] args) throws Exception {
    Map<String, String> env = new HashMap<>(System.getenv());
    env.putIfAbsent("SWITCHBOARD_CLUSTER_PORT", String.valueOf(DEFAULT_PORT));
    SwitchboardConfig.Cluster cluster;
    try {
      cluster = ConfigLoader.load(null, env, Map.of()).cluster();
      if (cluster.standalone()) {
        throw new ConfigException("cluster.standalone", "a backend reaches the nodes only through the cluster");
      }
    } catch (ConfigException e) {
      System.err.println("example-backend: config error: " + e.getMessage());
      System.exit(2);
      return;
    }
    Vertx vertx = start(cluster).toCompletionStage().toCompletableFuture().get(120, TimeUnit.SECONDS);
    System.out.println("example-backend ready: cluster=" + cluster.name() + " hazelcast=" + cluster.host() + ":"
        + cluster.port() + " members=" + cluster.members() + " serving service.echo, service.time");
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try {
        // Leave the cluster cleanly, so nodes stop routing requests here at once.
        vertx.close().toCompletionStage().toCompletableFuture().get(15, TimeUnit.SECONDS);
      } catch (Exception e) {
        System.err.println("example-backend: close failed: " + e);
      }
    }, "example-backend-close"));
    Thread.currentThread().join();
  }

  /** Joins the cluster and deploys the service; completes with the clustered Vert.x (close it to leave). */
  public static Future<Vertx> start(SwitchboardConfig.Cluster cluster) {
    return Vertx.builder()
        .with(ClusterSetup.vertxOptions(cluster))
        .withClusterManager(ClusterSetup.clusterManager(cluster))
        .buildClustered()
        .compose(vertx -> vertx.deployVerticle(new ExampleService())
            .map(id -> vertx)
            .recover(err -> vertx.close().transform(v -> Future.failedFuture(err))));
  }
}
