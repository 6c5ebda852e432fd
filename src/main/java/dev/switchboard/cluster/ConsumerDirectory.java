package dev.switchboard.cluster;

import com.hazelcast.core.EntryEvent;
import com.hazelcast.core.EntryListener;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.map.MapEvent;
import com.hazelcast.multimap.MultiMap;
import dev.switchboard.bus.Addresses;
import io.vertx.core.Completable;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.EventBus;
import io.vertx.core.eventbus.impl.clustered.ClusteredEventBus;
import io.vertx.core.eventbus.impl.clustered.NodeSelector;
import io.vertx.core.internal.ContextInternal;
import io.vertx.core.internal.VertxInternal;
import io.vertx.core.shareddata.LocalMap;
import io.vertx.core.shareddata.Shareable;
import io.vertx.core.spi.cluster.ClusterManager;
import io.vertx.core.spi.cluster.RegistrationInfo;
import io.vertx.spi.cluster.hazelcast.HazelcastClusterManager;
import java.lang.ref.WeakReference;
import java.lang.reflect.Field;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Answers "does any cluster member hold a consumer for this address?" from the clustered event bus's own
 * routing table, so a {@code user:} publish's undelivered check costs no Hazelcast call.
 *
 * <p>Why this table: the event bus already keeps, per address it has published to, the list of nodes holding
 * a consumer (Vert.x's {@code NodeSelector}), and keeps it current from the cluster manager's registration
 * events (vertx-hazelcast: an entry listener on the subscription MultiMap, coalesced per address for 20 ms,
 * then one read of that address's entry). Every publish is routed from that list, so asking it right after
 * the publish answers "did this publish go to any node?" — the very thing a {@code no_session} report means —
 * and it is exactly as current as delivery itself:
 * <ul>
 *   <li>an address with consumers is answered at once from the cached list (no remote call);</li>
 *   <li>an address without consumers is not cached by Vert.x: the publish itself reads the table, and this
 *       question joins that same read instead of making a second one;</li>
 *   <li>after the last consumer goes away (a session disconnects, or its node leaves the cluster), the list
 *       empties when the registration event arrives: Hazelcast's event delivery plus at most 20 ms, then one
 *       table read — tens of milliseconds on a healthy cluster; a crashed node's consumers disappear once
 *       Hazelcast declares it dead. In that window the publish too still goes to the old node.</li>
 * </ul>
 *
 * <p>Vert.x exposes the selector to no public API, so it is read once by reflection from the clustered event
 * bus. If that fails (another Vert.x version, a strict module path), every question falls back to a
 * {@link ClusterManager#getRegistrations} read, which is correct but costs a Hazelcast call per publish;
 * {@link #usesEventBusTable()} says which mode is on. A failed lookup fails the future; callers then report
 * nothing.
 *
 * <p>Service addresses ({@link Addresses#INBOUND}, {@link Addresses#UNDELIVERED}) and the admin stats feed
 * ({@link Addresses#STATS}, published by every node each second) are the opposite case: usually nobody
 * consumes them, and Vert.x does not cache "no consumer", so each publish on them would read Hazelcast.
 * {@link #mayHaveConsumer} answers them from a flag per address, kept current by a Hazelcast entry listener
 * on that one key of the subscription MultiMap and re-read after each change: a consumer that
 * registers is seen within Hazelcast's event delivery plus one read (milliseconds). Until the watch is set
 * up and has read once, or after a failed read, the answer is "maybe", so the publish goes out as before;
 * setting up and reading run on a worker thread, never on an event loop. Only
 * clustered consumers count ({@code consumer()}, not {@code localConsumer()}), which is what a backend in
 * another JVM uses anyway. Thread-safe; one instance per Vert.x ({@link #of}), shared as is (hence
 * {@link Shareable}).
 */
public final class ConsumerDirectory implements Shareable {

  private static final Logger log = LoggerFactory.getLogger(ConsumerDirectory.class);
  /** The name vertx-hazelcast's SubsMapHelper gives the event bus's subscription table. */
  static final String SUBS_MAP = "__vertx.subs";
  private static final List<String> WATCHED = List.of(Addresses.INBOUND, Addresses.UNDELIVERED, Addresses.STATS);
  /** Kept in its Vert.x's local shared data, so it lives and dies with that instance. */
  private static final String LOCAL_MAP = "switchboard.consumer-directory";
  /** The last one handed out: a node JVM has one Vert.x, so {@link #of} is a volatile read per publish. */
  private static volatile WeakReference<ConsumerDirectory> last = new WeakReference<>(null);

  private final Vertx owner;
  private final ClusterManager clusterManager;
  private final NodeSelector selector;
  private final LongAdder answeredFromTable = new LongAdder();
  private final LongAdder awaitedLookup = new LongAdder();
  private final Map<String, Watch> watches = new ConcurrentHashMap<>();

  private ConsumerDirectory(Vertx owner, ClusterManager clusterManager, NodeSelector selector) {
    this.owner = owner;
    this.clusterManager = clusterManager;
    this.selector = selector;
    if (clusterManager instanceof HazelcastClusterManager hcm) {
      ContextInternal context = ((VertxInternal) owner).getOrCreateContext();
      for (String address : WATCHED) {
        watches.put(address, new Watch(address, context));
      }
      // Creating the map proxy and registering listeners are remote calls.
      context.executeBlocking(() -> subscriptionMap(hcm), false).onComplete(ar -> {
        if (ar.succeeded() && ar.result() != null) {
          watches.values().forEach(w -> w.start(ar.result()));
        } else if (ar.failed()) {
          log.warn("event=consumer_directory_no_watch reason=\"{}\"", ar.cause().toString());
        }
      });
    }
  }

  /** The directory of a clustered Vert.x, or null when it has no cluster manager (standalone). */
  public static ConsumerDirectory of(Vertx vertx) {
    ConsumerDirectory d = last.get();
    if (d != null && d.owner == vertx) {
      return d;
    }
    ClusterManager cm = ((VertxInternal) vertx).clusterManager();
    if (cm == null) {
      return null;
    }
    LocalMap<String, ConsumerDirectory> map = vertx.sharedData().getLocalMap(LOCAL_MAP);
    synchronized (ConsumerDirectory.class) {
      d = map.get(LOCAL_MAP);
      if (d == null) {
        d = new ConsumerDirectory(vertx, cm, selectorOf(vertx.eventBus()));
        map.put(LOCAL_MAP, d);
      }
    }
    last = new WeakReference<>(d);
    return d;
  }

  /**
   * Whether a publish on the address could reach anyone: false only on a clustered Vert.x that knows no
   * member consumes that watched service address (see {@link #mayHaveConsumer}). One volatile read or two.
   */
  public static boolean worthPublishing(Vertx vertx, String address) {
    ConsumerDirectory d = of(vertx);
    return d == null || d.mayHaveConsumer(address);
  }

  private static NodeSelector selectorOf(EventBus eventBus) {
    try {
      Field f = ClusteredEventBus.class.getDeclaredField("nodeSelector");
      f.setAccessible(true);
      return (NodeSelector) f.get(eventBus);
    } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
      log.warn("event=consumer_directory_fallback reason=\"the event bus's routing table is not reachable ({}); "
          + "undelivered checks will read the cluster's subscription table on every user: publish\"", e.toString());
      return null;
    }
  }

  /**
   * vertx-hazelcast's subscription MultiMap, or null (no watches) when it is not where this version expects
   * it: watching a wrong name would say "no consumer" forever. Blocking.
   */
  private static MultiMap<String, Object> subscriptionMap(HazelcastClusterManager cm) {
    HazelcastInstance hz = cm.getHazelcastInstance();
    boolean exists = hz.getDistributedObjects().stream()
        .anyMatch(o -> o instanceof MultiMap && SUBS_MAP.equals(o.getName()));
    if (!exists) {
      log.warn("event=consumer_directory_no_watch reason=\"no {} MultiMap in this Hazelcast cluster; publishes "
          + "on service addresses with no consumer will each read the subscription table\"", SUBS_MAP);
      return null;
    }
    return hz.getMultiMap(SUBS_MAP);
  }

  /** Whether answers come from the event bus's routing table (false: one cluster-manager read each). */
  public boolean usesEventBusTable() {
    return selector != null;
  }

  /** Whether a live watch keeps {@link #mayHaveConsumer} current for the address (else it says true). */
  public boolean watches(String address) {
    Watch w = watches.get(address);
    return w != null && w.live;
  }

  /** Questions answered at once from the routing table, without waiting for any cluster read. */
  public long answeredFromTable() {
    return answeredFromTable.sum();
  }

  /** Questions that waited for a read of the cluster's subscription table (shared with the publish's own). */
  public long awaitedLookup() {
    return awaitedLookup.sum();
  }

  /**
   * For a watched address ({@link Addresses#INBOUND}, {@link Addresses#UNDELIVERED}, {@link Addresses#STATS}):
   * false only when this JVM knows that no member holds a clustered consumer for it, so a publish there would
   * reach nobody.
   * True for any other address, until the watch's first read and after a failed one.
   */
  public boolean mayHaveConsumer(String address) {
    Watch w = watches.get(address);
    return w == null || w.mayHaveConsumer;
  }

  /**
   * Whether any member (this one included) holds a consumer for the address. Fails when the cluster's table
   * could not be read. Never blocks; usually complete on return.
   */
  public Future<Boolean> hasConsumer(String address) {
    Promise<Boolean> answer = Promise.promise();
    if (selector == null) {
      awaitedLookup.increment();
      clusterManager.getRegistrations(address, (List<RegistrationInfo> regs, Throwable err) -> {
        if (err != null) {
          answer.fail(err);
        } else {
          answer.complete(regs != null && !regs.isEmpty());
        }
      });
      return answer.future();
    }
    Selection selection = new Selection(answer);
    selector.selectForPublish(address, selection);
    selection.returned = true;
    return answer.future();
  }

  /** Tells an answer given during the call (the cached table) from one that waited for a read. */
  private final class Selection implements Completable<Iterable<String>> {
    private final Promise<Boolean> answer;
    private final Thread caller = Thread.currentThread();
    /** Written and, for a synchronous answer, read by the caller's thread only. */
    boolean returned;

    Selection(Promise<Boolean> answer) {
      this.answer = answer;
    }

    @Override
    public void complete(Iterable<String> nodes, Throwable err) {
      if (Thread.currentThread() == caller && !returned) {
        answeredFromTable.increment();
      } else {
        awaitedLookup.increment();
      }
      if (err != null) {
        answer.fail(err);
      } else {
        answer.complete(nodes != null && nodes.iterator().hasNext());
      }
    }
  }

  /**
   * One watched key. Every change event bumps {@code dirty}; a single read at a time (on a worker thread)
   * re-counts the key's registrations and repeats while changes arrived during it, so the flag always ends
   * on a read that started after the last event.
   */
  private static final class Watch implements EntryListener<String, Object> {
    private final String address;
    private final ContextInternal context;
    private final AtomicInteger dirty = new AtomicInteger();
    private volatile MultiMap<String, Object> subs;
    volatile boolean live;
    volatile boolean mayHaveConsumer = true;

    Watch(String address, ContextInternal context) {
      this.address = address;
      this.context = context;
    }

    /** Runs on a worker thread. */
    void start(MultiMap<String, Object> subs) {
      this.subs = subs;
      try {
        subs.addEntryListener(this, address, false);
        live = true;
        changed();
      } catch (RuntimeException e) {
        log.warn("event=consumer_directory_no_watch address={} reason=\"{}\"", address, e.toString());
      }
    }

    private void changed() {
      if (dirty.getAndIncrement() == 0) {
        read();
      }
    }

    private void read() {
      int seen = dirty.get();
      context.<Integer>executeBlocking(() -> subs.valueCount(address), false).onComplete(ar -> {
        mayHaveConsumer = ar.failed() || ar.result() > 0;
        if (dirty.addAndGet(-seen) > 0) {
          read();
        }
      });
    }

    @Override
    public void entryAdded(EntryEvent<String, Object> event) {
      changed();
    }

    @Override
    public void entryRemoved(EntryEvent<String, Object> event) {
      changed();
    }

    @Override
    public void entryUpdated(EntryEvent<String, Object> event) {
      changed();
    }

    @Override
    public void entryEvicted(EntryEvent<String, Object> event) {
      changed();
    }

    @Override
    public void entryExpired(EntryEvent<String, Object> event) {
      changed();
    }

    @Override
    public void mapCleared(MapEvent event) {
      changed();
    }

    @Override
    public void mapEvicted(MapEvent event) {
      changed();
    }
  }
}
