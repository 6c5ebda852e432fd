package dev.switchboard.cluster;

import com.hazelcast.cluster.Member;
import io.vertx.core.spi.cluster.ClusterManager;
import io.vertx.spi.cluster.hazelcast.HazelcastClusterManager;
import java.util.function.Predicate;

/**
 * Which member does a job that exactly one should do (reclaim idle histories, write Redis messages into a
 * channel's history): the oldest member that can. Hazelcast lists the members oldest first, in the same
 * order on every member, so each decides alone and all agree; when that member leaves, the next oldest
 * takes over as soon as the cluster drops it.
 */
public final class Seniority {

  private Seniority() {}

  /** Whether this node is the oldest member that {@code eligible} accepts; a standalone node always is. */
  public static boolean isOldest(ClusterManager cm, Predicate<Member> eligible) {
    if (!(cm instanceof HazelcastClusterManager hcm)) {
      return true;
    }
    for (Member m : hcm.getHazelcastInstance().getCluster().getMembers()) {
      if (eligible.test(m)) {
        return m.localMember();
      }
    }
    return false;
  }

  /** Switchboard nodes are Hazelcast's data members; backend JVMs join as lite members. */
  public static boolean isNode(Member m) {
    return !m.isLiteMember();
  }
}
