package dev.switchboard.history;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.hazelcast.config.Config;
import com.hazelcast.core.Hazelcast;
import com.hazelcast.core.HazelcastInstance;
import dev.switchboard.bus.Publication;
import dev.switchboard.cluster.ClusterSetup;
import dev.switchboard.cluster.Tally;
import dev.switchboard.config.SwitchboardConfig;
import dev.switchboard.testing.TestNodes;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.Checkpoint;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.UUID;
import java.util.stream.LongStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The history store on a real three-member Hazelcast cluster on loopback. */
@ExtendWith(VertxExtension.class)
class HazelcastHistoryStoreTest {

  private final List<HazelcastInstance> members = new ArrayList<>();

  @AfterEach
  void shutdown() {
    members.forEach(HazelcastInstance::shutdown);
  }

  private List<HazelcastInstance> cluster(int n) {
    return cluster(n, 50);
  }

  private List<HazelcastInstance> cluster(int n, int historySize) {
    String name = "hist-" + UUID.randomUUID();
    List<Integer> ports = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      ports.add(TestNodes.freePort());
    }
    JsonArray memberList = new JsonArray();
    ports.forEach(p -> memberList.add("127.0.0.1:" + p));
    for (int i = 0; i < n; i++) {
      SwitchboardConfig c = TestNodes.config(new JsonObject()
          .put("cluster", new JsonObject().put("name", name).put("port", ports.get(i)).put("members", memberList))
          .put("channels", new JsonObject().put("namespaces", new JsonObject()
              .put("room", new JsonObject().put("subscribe", "claim").put("publish", "members")
                  .put("history_size", historySize).put("history_ttl", "10m")))));
      Config hz = ClusterSetup.hazelcastConfig(c.cluster());
      HistorySettings.apply(hz, c.channels());
      members.add(Hazelcast.newHazelcastInstance(hz));
    }
    return members;
  }

  @Test
  void concurrentAppendsFromTwoMembersGetGaplessUniqueOffsets(Vertx vertx) {
    List<HazelcastInstance> hz = cluster(2);
    HistoryStore a = new HazelcastHistoryStore(vertx, hz.get(0));
    HistoryStore b = new HazelcastHistoryStore(vertx, hz.get(1));
    List<Future<Publication>> all = new ArrayList<>();
    for (int i = 0; i < 40; i++) {
      all.add(a.append(Publication.now("room:x", "a" + i, null)));
      all.add(b.append(Publication.now("room:x", "b" + i, null)));
    }
    Future.all(all).await();
    TreeSet<Long> offsets = new TreeSet<>();
    String epoch = all.get(0).result().epoch();
    for (Future<Publication> f : all) {
      offsets.add(f.result().offset());
      assertEquals(epoch, f.result().epoch());
    }
    assertEquals(80, offsets.size(), "no duplicates");
    assertEquals(1L, offsets.first());
    assertEquals(80L, offsets.last(), "no gaps");
    HistoryStore.Page page = a.read("room:x", 70, 100).await();
    assertEquals(10, page.publications().size());
    assertEquals(71, page.publications().get(0).offset());
    assertEquals(80, page.offset());
    assertEquals(31, page.oldestOffset(), "capacity 50 keeps offsets 31..80");
  }

  /**
   * A history answer's read goes back from the newest in batches and stops at its byte budget (a channel of
   * large messages costs the budget in memory, not its whole history), across batch boundaries without a gap.
   */
  @Test
  void theNewestReadGoesBackInBatchesAndStopsAtItsByteBudget(Vertx vertx) {
    List<HazelcastInstance> hz = cluster(2, 200);
    HistoryStore a = new HazelcastHistoryStore(vertx, hz.get(0));
    HistoryStore b = new HazelcastHistoryStore(vertx, hz.get(1));
    for (int i = 1; i <= 150; i++) {
      a.append(Publication.now("room:many", i, null)).await();
    }
    HistoryStore.Page all = b.readNewest("room:many", 150, Long.MAX_VALUE).await();
    assertEquals(LongStream.rangeClosed(1, 150).boxed().toList(),
        all.publications().stream().map(Publication::offset).toList());
    assertEquals(150, all.publications().get(149).message());
    HistoryStore.Page newest = b.readNewest("room:many", 100, Long.MAX_VALUE).await();
    assertEquals(LongStream.rangeClosed(51, 150).boxed().toList(),
        newest.publications().stream().map(Publication::offset).toList());
    assertFalse(newest.leftOutOfNewest(100));

    String kb = "x".repeat(1000);
    for (int i = 1; i <= 20; i++) {
      a.append(Publication.now("room:big", kb, null)).await();
    }
    long one = Publication.now("room:big", kb, null).toJson().encode().length();
    HistoryStore.Page fits = b.readNewest("room:big", 20, (one + 128) * 5 + one / 2).await();
    assertEquals(List.of(16L, 17L, 18L, 19L, 20L), fits.publications().stream().map(Publication::offset).toList());
    assertEquals(fits.epoch(), fits.publications().get(0).epoch());
    assertTrue(fits.leftOutOfNewest(20));
  }

  @Test
  void appendsCompleteOnTheCallersEventLoop(Vertx vertx, VertxTestContext test) {
    List<HazelcastInstance> hz = cluster(2);
    // Appending through the member that does not own the ringbuffer: the reply comes on a Hazelcast thread.
    boolean firstOwns = hz.get(0).getPartitionService().getPartition(HazelcastHistoryStore.ringName("room:ctx"))
        .getOwner().localMember();
    HistoryStore store = new HazelcastHistoryStore(vertx, hz.get(firstOwns ? 1 : 0));
    Context caller = vertx.getOrCreateContext();
    Checkpoint done = test.checkpoint(2);
    caller.runOnContext(v -> store.append(Publication.now("room:ctx", 1, null)).onComplete(test.succeeding(first -> {
      test.verify(() -> assertSame(caller, Vertx.currentContext(), "first append completes on the caller"));
      done.flag();
      // The first append read the epoch on a worker; this one has it cached and goes straight to Hazelcast.
      store.append(Publication.now("room:ctx", 2, null)).onComplete(test.succeeding(second -> test.verify(() -> {
        assertSame(caller, Vertx.currentContext(), "an append with the epoch cached completes on the caller,"
            + " not on a Hazelcast thread (" + Thread.currentThread().getName() + ")");
        assertEquals(2, second.offset());
        done.flag();
      })));
    })));
  }

  @Test
  void historySurvivesTheLossOfAnyOneMember(Vertx vertx) {
    List<HazelcastInstance> hz = cluster(3);
    HistoryStore writer = new HazelcastHistoryStore(vertx, hz.get(0));
    String epoch = null;
    for (int i = 1; i <= 20; i++) {
      epoch = writer.append(Publication.now("room:keep", i, null)).await().epoch();
    }
    // Kill the member that owns the channel's partition, not a random one.
    HazelcastInstance owner = null;
    String ring = HazelcastHistoryStore.ringName("room:keep");
    for (HazelcastInstance m : hz) {
      if (m.getPartitionService().getPartition(ring).getOwner().localMember()) {
        owner = m;
      }
    }
    assertTrue(owner != null);
    owner.getLifecycleService().terminate();
    HazelcastInstance survivor = hz.stream().filter(m -> m.getLifecycleService().isRunning()).findFirst().orElseThrow();
    HistoryStore reader = new HazelcastHistoryStore(vertx, survivor);
    HistoryStore.Page page = reader.read("room:keep", 0, 100).await();
    assertEquals(20, page.publications().size());
    assertEquals(epoch, page.epoch(), "the backup copy keeps the epoch");
    assertEquals(21, reader.append(Publication.now("room:keep", 21, null)).await().offset());
  }

  @Test
  void reclaimingAnEmptyHistoryStartsANewEpoch(Vertx vertx) {
    List<HazelcastInstance> hz = cluster(1);
    HazelcastHistoryStore store = new HazelcastHistoryStore(vertx, hz.get(0));
    String first = store.append(Publication.now("room:idle", 1, null)).await().epoch();
    hz.get(0).getRingbuffer(HazelcastHistoryStore.ringName("room:idle")).destroy();
    store.reclaimIdle().await();
    Publication p = store.append(Publication.now("room:idle", 2, null)).await();
    assertEquals(1, p.offset());
    assertNotEquals(first, p.epoch());
  }

  @Test
  void afterAReclaimEveryMembersAppendsCarryTheNewEpoch(Vertx vertx) {
    List<HazelcastInstance> hz = cluster(3);
    HazelcastHistoryStore oldest = new HazelcastHistoryStore(vertx, hz.get(0));
    HazelcastHistoryStore second = new HazelcastHistoryStore(vertx, hz.get(1));
    HazelcastHistoryStore third = new HazelcastHistoryStore(vertx, hz.get(2));
    String before = second.append(Publication.now("room:idle", 1, null)).await().epoch();
    assertEquals(before, third.append(Publication.now("room:idle", 2, null)).await().epoch());
    // Its items expired (TTL): the oldest member reclaims it, while the other two still hold its epoch.
    hz.get(0).getRingbuffer(HazelcastHistoryStore.ringName("room:idle")).destroy();
    assertEquals(1, oldest.reclaimIdle().await());

    Publication first = second.append(Publication.now("room:idle", 3, null)).await();
    assertEquals(1, first.offset());
    assertNotEquals(before, first.epoch(), "the first message of the new history carries the new epoch");
    Tally.waitFor(() -> !third.cachesEpoch("room:idle"), 5_000, () -> "the reclaim reaches every member's cache");
    Publication next = third.append(Publication.now("room:idle", 4, null)).await();
    assertEquals(2, next.offset());
    assertEquals(first.epoch(), next.epoch(), "another member appends under the same new epoch");
    assertEquals(first.epoch(), oldest.read("room:idle", 0, 10).await().epoch());
  }
}
