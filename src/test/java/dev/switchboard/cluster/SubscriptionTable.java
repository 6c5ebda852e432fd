package dev.switchboard.cluster;

import io.vertx.core.Vertx;
import io.vertx.core.internal.VertxInternal;
import io.vertx.spi.cluster.hazelcast.HazelcastClusterManager;
import java.util.Collection;

/** What tests can observe of the event bus's subscription table, the MultiMap vertx-hazelcast keeps it in. */
public final class SubscriptionTable {

  private SubscriptionTable() {}

  /** Get operations on the table, summed over the members (each member counts the keys it owns). */
  public static long gets(Collection<Vertx> members) {
    long sum = 0;
    for (Vertx v : members) {
      HazelcastClusterManager cm = (HazelcastClusterManager) ((VertxInternal) v).clusterManager();
      sum += cm.getHazelcastInstance().getMultiMap(ConsumerDirectory.SUBS_MAP).getLocalMultiMapStats()
          .getGetOperationCount();
    }
    return sum;
  }
}
