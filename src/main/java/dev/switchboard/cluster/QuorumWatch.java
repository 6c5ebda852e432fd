package dev.switchboard.cluster;

import com.hazelcast.cluster.Member;
import com.hazelcast.cluster.MembershipEvent;
import com.hazelcast.cluster.MembershipListener;
import com.hazelcast.core.HazelcastInstance;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.spi.cluster.hazelcast.HazelcastClusterManager;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the node's {@link Quorum} current: counts the Switchboard nodes Hazelcast shows this member when one
 * joins or leaves, and once a second besides, since a merge after a split replaces the member list without
 * telling this member one event per node. Deployed only on a clustered node with {@code min_nodes} above 1,
 * before the gateway, so no connection is accepted before the first count.
 *
 * <p>When the quorum is lost the node's sessions are closed with 1001 over {@code drain.period}, as in a drain,
 * so their clients reconnect (through the load balancer, which no longer sends them here) to the nodes that
 * still hold it and recover with {@code since}. Closes already scheduled go ahead even if the quorum comes
 * back meanwhile: those sessions missed what the other side published while this node was cut off.
 */
public final class QuorumWatch extends VerticleBase {

  private static final Logger log = LoggerFactory.getLogger(QuorumWatch.class);
  static final String CUT_OFF = "cut off from the cluster: reconnect elsewhere";

  private final NodeContext node;
  private final Quorum quorum;
  private HazelcastInstance hazelcast;
  private UUID listener;
  private long ticker;

  public QuorumWatch(NodeContext node) {
    this.node = node;
    this.quorum = node.quorum();
  }

  @Override
  public Future<?> start() {
    hazelcast = ((HazelcastClusterManager) node.clusterManager()).getHazelcastInstance();
    listener = hazelcast.getCluster().addMembershipListener(new MembershipListener() {
      @Override
      public void memberAdded(MembershipEvent e) {
        context.runOnContext(v -> count());
      }

      @Override
      public void memberRemoved(MembershipEvent e) {
        context.runOnContext(v -> count());
      }
    });
    ticker = vertx.setPeriodic(1000, t -> count());
    int nodes = visibleNodes();
    quorum.update(nodes);
    if (!quorum.held()) {
      log.warn("event=quorum_lost node={} nodes={} min_nodes={} reason=\"{} at start: not ready, refusing "
          + "connections and publishes until more nodes join\"", node.name(), nodes, quorum.minNodes(), quorum.shortfall());
    }
    return Future.succeededFuture();
  }

  @Override
  public Future<?> stop() {
    vertx.cancelTimer(ticker);
    try {
      hazelcast.getCluster().removeMembershipListener(listener);
    } catch (RuntimeException leaving) {
      // Hazelcast is already shutting down: its listeners go with it.
    }
    return Future.succeededFuture();
  }

  private void count() {
    int nodes = visibleNodes();
    if (nodes < 0 || !quorum.update(nodes)) {
      return;
    }
    if (quorum.held()) {
      log.info("event=quorum_regained node={} nodes={} min_nodes={} reason=\"{}: ready, accepting connections "
          + "and publishes\"", node.name(), nodes, quorum.minNodes(), quorum.shortfall());
      return;
    }
    long period = node.config().drain().period().toMillis();
    log.warn("event=quorum_lost node={} nodes={} min_nodes={} sessions={} period_ms={} reason=\"{}: not ready, "
        + "refusing connections and publishes; sessions sent to reconnect elsewhere\"", node.name(), nodes,
        quorum.minNodes(), node.sessions().connections(), period, quorum.shortfall());
    if (!node.draining()) {
      node.closeSessions(CUT_OFF);
    }
  }

  /** Data members as this member sees them, or -1 once Hazelcast is shutting down. */
  private int visibleNodes() {
    try {
      int n = 0;
      for (Member m : hazelcast.getCluster().getMembers()) {
        if (Seniority.isNode(m)) {
          n++;
        }
      }
      return n;
    } catch (RuntimeException leaving) {
      return -1;
    }
  }
}
