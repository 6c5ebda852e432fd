package dev.switchboard.bench;

import dev.switchboard.client.Publisher;
import dev.switchboard.client.Switchboard;
import dev.switchboard.cluster.ClusterSetup;
import dev.switchboard.config.SwitchboardConfig;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.util.concurrent.TimeUnit;

/**
 * {@code --publisher bus}: the bench as a backend service, a JVM that joins the servers' cluster and publishes
 * on the clustered event bus (SPEC §1: publish "from any JVM that joins the cluster"). Against Switchboard it is
 * the Java helper, {@link Switchboard#publisher}, which publishes straight onto the channel's address on every
 * node: one hop, no request/reply, no node in between. Against bare servers it publishes once to their one
 * consumer address ({@link BareServer#BUS_ADDRESS}), and Vert.x hands it to every server.
 *
 * <p>Joined before the sessions subscribe, so a subscribe's ack also waits until this JVM's publishes reach
 * the new subscriber (the helper answers the nodes' subscription probes). Publishes run on one context of its
 * own, so they leave in the order the load generator sent them.
 */
final class BusPublisher implements AutoCloseable {

  private final Vertx vertx;
  private final Context context;
  private final Target target;
  private final Publisher publisher;

  private BusPublisher(Vertx vertx, Target target) {
    this.vertx = vertx;
    this.context = vertx.getOrCreateContext();
    this.target = target;
    this.publisher = target == Target.SWITCHBOARD ? Switchboard.publisher(vertx) : null;
  }

  /** Joins {@code group}'s cluster as a lite member (it holds no cluster data), on a port of the run's range. */
  static BusPublisher join(NodeGroup group, long timeoutMs) throws Exception {
    NodeGroup.ClusterAddress address = group.cluster();
    if (address == null) {
      throw new IllegalStateException("--publisher bus needs clustered servers");
    }
    SwitchboardConfig.Cluster c = new SwitchboardConfig.Cluster(false, "127.0.0.1", group.nextPort(),
        address.members(), null, address.name(), null, 0);
    Vertx vertx = Vertx.builder().with(ClusterSetup.vertxOptions(c)).withClusterManager(ClusterSetup.clusterManager(c))
        .buildClustered().await(timeoutMs, TimeUnit.MILLISECONDS);
    try {
      Future<Void> probes = group.target() == Target.SWITCHBOARD ? Switchboard.answerProbes(vertx) : Future.succeededFuture();
      probes.await(timeoutMs, TimeUnit.MILLISECONDS);
      return new BusPublisher(vertx, group.target());
    } catch (Exception | Error e) {
      vertx.close();
      throw e;
    }
  }

  /** Publishes {@code message} to {@code channel}; a publish the helper refuses fails the returned future. */
  Future<Void> publish(String channel, JsonObject message) {
    return Future.future(done -> context.runOnContext(v -> {
      if (publisher != null) {
        publisher.publish(channel, message).onComplete(done);
      } else {
        vertx.eventBus().publish(BareServer.BUS_ADDRESS, new JsonObject().put("channel", channel).put("message", message));
        done.complete();
      }
    }));
  }

  Target target() {
    return target;
  }

  @Override
  public void close() {
    try {
      vertx.close().await(30, TimeUnit.SECONDS);
    } catch (Exception e) {
      // leaving the cluster late only delays the servers' own shutdown
    }
  }
}
