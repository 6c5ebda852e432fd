package dev.switchboard.history;

import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.map.IMap;
import com.hazelcast.map.listener.EntryRemovedListener;
import com.hazelcast.ringbuffer.OverflowPolicy;
import com.hazelcast.ringbuffer.ReadResultSet;
import com.hazelcast.ringbuffer.Ringbuffer;
import dev.switchboard.bus.Publication;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

/**
 * History kept in the Hazelcast cluster itself: one Ringbuffer per channel (capacity, TTL and a backup
 * copy configured per namespace by {@code ClusterSetup}), so it survives the loss of any one node.
 *
 * <p>Offsets come from the ringbuffer's sequence (offset = sequence + 1): the partition owner assigns
 * sequences one at a time, so offsets are gapless and unique however many nodes append at once.
 * The channel's epoch lives in an IMap entry placed on the same partition as the ringbuffer
 * ({@code name@channel}), so the two are lost together or survive together: a recreated, empty
 * ringbuffer always comes with a fresh epoch. Epochs are cached per node; the cache is dropped whenever a
 * member leaves (a partition's data may be lost then), and a channel's entry when its epoch is removed by the
 * oldest member's reclaim, wherever that runs: a stale entry would stamp the new history's messages with the
 * old epoch, so clients would take offset 2 of the new history for a message they already had.
 */
public final class HazelcastHistoryStore implements HistoryStore {

  /** Ringbuffer names start with this; ClusterSetup configures "switchboard.history.&lt;namespace&gt;:*". */
  public static final String RING_PREFIX = "switchboard.history.";
  static final String EPOCHS = "switchboard.history-epochs";
  /** Items per read of {@link #readNewest}: up to 64 maximum-size messages (4 MiB at the default 64 KiB) at once. */
  private static final int NEWEST_BATCH = 64;

  private final Vertx vertx;
  private final HazelcastInstance hz;
  private final IMap<String, String> epochs;
  private final Map<String, Ringbuffer<String>> rings = new ConcurrentHashMap<>();
  private final Map<String, String> epochCache = new ConcurrentHashMap<>();

  public HazelcastHistoryStore(Vertx vertx, HazelcastInstance hz) {
    this.vertx = vertx;
    this.hz = hz;
    this.epochs = hz.getMap(EPOCHS);
    hz.getCluster().addMembershipListener(new com.hazelcast.cluster.MembershipListener() {
      @Override
      public void memberAdded(com.hazelcast.cluster.MembershipEvent e) {}

      @Override
      public void memberRemoved(com.hazelcast.cluster.MembershipEvent e) {
        epochCache.clear();
      }
    });
    // The oldest member reclaims idle histories (reclaimIdle): every other member's cached epoch for the channel
    // then names a history that is gone. Only removals are sent; a new channel's epoch costs no event.
    epochs.addEntryListener((EntryRemovedListener<String, String>) e -> epochCache.remove(e.getKey()), false);
  }

  public static String ringName(String channel) {
    return RING_PREFIX + channel + "@" + channel;
  }

  private Ringbuffer<String> ring(String channel) {
    return rings.computeIfAbsent(channel, c -> hz.getRingbuffer(ringName(c)));
  }

  @Override
  public Future<Publication> append(Publication pub) {
    String channel = pub.channel();
    // Hazelcast completes addAsync on its own threads; the caller's state (the router's per-channel chain of
    // appends, the fanout) belongs to the caller's event loop, so the result is handed back there.
    Context caller = vertx.getOrCreateContext();
    String cached = epochCache.get(channel);
    Future<String> epoch = cached != null ? Future.succeededFuture(cached) : vertx.executeBlocking(() -> epochOf(channel));
    return epoch.compose(e -> {
      // Stored without a position: the offset is the ringbuffer sequence, the epoch the channel's.
      return Future.fromCompletionStage(ring(channel).addAsync(pub.toJson().encode(), OverflowPolicy.OVERWRITE), caller)
          .compose(seq -> {
            if (seq == 0 && cached != null) {
              // A fresh ringbuffer under an epoch cached from before: the history was reclaimed, and the removal
              // event may not have reached this member yet. Its first message takes the epoch the channel has now
              // (a reclaim removes the epoch before it destroys the ringbuffer, so this is never the old one).
              epochCache.remove(channel);
              return vertx.executeBlocking(() -> epochOf(channel)).map(fresh -> pub.withPosition(1, fresh));
            }
            return Future.succeededFuture(pub.withPosition(seq + 1, e));
          });
    });
  }

  /** Whether this member has the channel's epoch cached (tests: a reclaim elsewhere drops it). */
  boolean cachesEpoch(String channel) {
    return epochCache.containsKey(channel);
  }

  /** The channel's epoch, created when absent; blocking (worker thread). */
  private String epochOf(String channel) {
    String e = epochs.get(channel);
    if (e == null) {
      String fresh = UUID.randomUUID().toString().substring(0, 8);
      String prev = epochs.putIfAbsent(channel, fresh);
      e = prev == null ? fresh : prev;
    }
    epochCache.put(channel, e);
    return e;
  }

  @Override
  public Future<Page> read(String channel, long afterOffset, int limit) {
    return page(channel, (ring, epoch, head, tail) -> {
      List<Publication> out = new ArrayList<>();
      long fromSeq = afterOffset < 0 ? Math.max(head, tail - limit + 1) : Math.max(afterOffset, head);
      if (limit > 0 && fromSeq <= tail) {
        int count = (int) Math.min(limit, tail - fromSeq + 1);
        ReadResultSet<String> rs = ring.readManyAsync(fromSeq, 0, Math.min(count, 1000), null)
            .toCompletableFuture().get();
        for (int i = 0; i < rs.size(); i++) {
          Publication p = Publication.fromJson(new JsonObject(rs.get(i)));
          out.add(p.withPosition(rs.getSequence(i) + 1, epoch));
        }
      }
      return out;
    });
  }

  @Override
  public Future<Page> readNewest(String channel, int limit, long maxBytes) {
    return page(channel, (ring, epoch, head, tail) -> {
      long stop = Math.max(head, tail - limit + 1);
      ArrayDeque<Publication> out = new ArrayDeque<>();
      long bytes = 0;
      // Back from the newest in small batches: the budget, not the channel's history, bounds what is read.
      reading:
      for (long last = tail; last >= stop; last -= NEWEST_BATCH) {
        long first = Math.max(stop, last - NEWEST_BATCH + 1);
        // A start below the head (items expired or overwritten since) is moved up to the head, and the batch then
        // runs on past last into items already read: those are skipped, and nothing older is left to read.
        ReadResultSet<String> rs = ring.readManyAsync(first, 0, (int) (last - first + 1), null)
            .toCompletableFuture().get();
        for (int i = rs.size() - 1; i >= 0; i--) {
          long seq = rs.getSequence(i);
          if (seq > last) {
            continue;
          }
          String item = rs.get(i);
          bytes += HistoryStore.frameBytes(item);
          if (bytes > maxBytes) {
            break reading;
          }
          out.addFirst(Publication.fromJson(new JsonObject(item)).withPosition(seq + 1, epoch));
        }
        if (rs.size() == 0 || rs.getSequence(0) > first) {
          break;
        }
      }
      return new ArrayList<>(out);
    });
  }

  /** What a read takes from a channel's ringbuffer, given its epoch and its head and tail sequences. */
  private interface Pick {
    List<Publication> from(Ringbuffer<String> ring, String epoch, long head, long tail) throws Exception;
  }

  /** A page of the channel's history and its position, read on a worker thread (Hazelcast's calls block). */
  private Future<Page> page(String channel, Pick pick) {
    return vertx.executeBlocking(() -> {
      Ringbuffer<String> ring = ring(channel);
      String epoch = epochOf(channel);
      long head = ring.headSequence();
      long tail = ring.tailSequence();
      return new Page(pick.from(ring, epoch, head, tail), tail + 1, epoch, head + 1);
    });
  }

  /**
   * Reclaims histories whose items all expired (TTL): destroys the ringbuffer and forgets the epoch, so
   * idle channels cost nothing. Run periodically by one member; a later publish starts a new epoch.
   */
  public Future<Integer> reclaimIdle() {
    return vertx.executeBlocking(() -> {
      int n = 0;
      for (Map.Entry<String, String> entry : epochs.entrySet()) {
        String channel = entry.getKey();
        Ringbuffer<String> ring = hz.getRingbuffer(ringName(channel));
        if (ring.size() == 0) {
          // The epoch goes first, and only the one seen: an append between the two steps then starts a new epoch
          // rather than stamping the first message of the next history with the old one.
          if (!epochs.remove(channel, entry.getValue())) {
            continue; // a new epoch since: the channel is in use again
          }
          epochCache.remove(channel);
          ring.destroy();
          rings.remove(channel);
          n++;
        }
      }
      return n;
    });
  }
}
