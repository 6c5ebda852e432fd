package dev.switchboard.client;

import dev.switchboard.cluster.ProbeResponder;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.internal.VertxInternal;
import io.vertx.core.spi.cluster.ClusterManager;
import java.util.Collections;
import java.util.Map;
import java.util.WeakHashMap;

/**
 * Entry point for backend code: {@code Switchboard.publisher(vertx).toRoom("lobby", msg)}.
 *
 * <p>The Vert.x instance must be clustered with the nodes' cluster name and network (see
 * {@code dev.switchboard.examples.ExampleBackend} for the few lines that build one from the same
 * SWITCHBOARD_CLUSTER_* settings). The first publisher created on a clustered instance also makes it
 * answer subscription probes, so a client's {@code subscribe} ack also waits until this JVM's publishes
 * reach the new subscriber.
 */
public final class Switchboard {

  /** The default max_message_size of a node (64 KiB). */
  public static final int DEFAULT_MAX_MESSAGE_SIZE = 65536;

  private static final Map<Vertx, Future<Void>> PROBE_RESPONDERS = Collections.synchronizedMap(new WeakHashMap<>());

  private Switchboard() {}

  /** A publisher on a clustered (or, in tests, standalone) Vert.x that shares the nodes' event bus. */
  public static Publisher publisher(Vertx vertx) {
    answerProbes(vertx);
    return new Publisher(vertx, DEFAULT_MAX_MESSAGE_SIZE, Map.of(), null, true);
  }

  /**
   * Makes this clustered Vert.x answer subscription probes (idempotent; {@link #publisher} calls it).
   * Completes once the responder is registered cluster-wide; at once on a standalone instance.
   */
  public static Future<Void> answerProbes(Vertx vertx) {
    ClusterManager cm = ((VertxInternal) vertx).clusterManager();
    if (cm == null) {
      return Future.succeededFuture();
    }
    return PROBE_RESPONDERS.computeIfAbsent(vertx,
        v -> ProbeResponder.register(v, cm.getNodeId()).completion());
  }
}
