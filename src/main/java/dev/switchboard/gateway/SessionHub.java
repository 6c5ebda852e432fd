package dev.switchboard.gateway;

import dev.switchboard.bus.Addresses;
import dev.switchboard.bus.Publication;
import dev.switchboard.cluster.NodeContext;
import dev.switchboard.cluster.ProbeResponder;
import dev.switchboard.protocol.Channel;
import dev.switchboard.protocol.CloseCode;
import dev.switchboard.protocol.ServerFrames;
import dev.switchboard.router.Undelivered;
import io.netty.buffer.ByteBuf;
import io.netty.channel.EventLoop;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.eventbus.impl.MessageConsumerImpl;
import io.vertx.core.internal.ContextInternal;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The sessions of one gateway instance, indexed by channel and by user, and the channel consumers that
 * feed them. Everything here runs on the owning instance's event loop: no locks.
 *
 * <p>Interest-based routing: the first local subscriber of a channel registers one event-bus consumer for
 * it; later subscribers wait on the same registration. The subscribe ack waits until the registration
 * is complete and, in a cluster, until every member (this node, and backend JVMs using the Java helper)
 * has proven it routes the channel here: a probe it publishes through its own routing arrives. The event
 * bus routes from a per-member cache of the subscription table that is updated asynchronously, so
 * "registered" alone does not yet mean "every publisher sees it". The last subscriber leaving schedules
 * the unregistration after a short linger, re-checked when the timer fires, so churn does not thrash the
 * cluster registry. {@code user:} channels skip the linger, so "no consumer anywhere" means "no session".
 */
public final class SessionHub {

  static final long LINGER_MS = 1000;
  private static final long PROBE_DEADLINE_MS = 3000;
  private static final long PROBE_RETRY_MS = 5;
  private static final DeliveryOptions PROBE_REQUEST = new DeliveryOptions().setSendTimeout(2000);
  private static final Logger log = LoggerFactory.getLogger(SessionHub.class);

  private final Vertx vertx;
  /** The gateway instance's context: its sessions' sockets live on this event loop. */
  private final Context context;
  private final EventLoop loop;
  private final NodeContext node;
  private final Map<String, ChannelEntry> channels = new HashMap<>();
  private final List<Session> unflushed = new ArrayList<>();
  private final Map<String, List<Session>> byUser = new HashMap<>();
  private final Set<Session> sessions = new LinkedHashSet<>();
  /** Sessions this side closed whose socket has not closed yet ({@link Session#tickClosing}). */
  private final Set<Session> closing = new LinkedHashSet<>();
  /** Probe nonces this hub is waiting for → the round each proves. */
  private final Map<String, ProbeRound> pendingProbes = new HashMap<>();

  private final class ChannelEntry {
    final String channel;
    private final Set<Session> subscribers = new LinkedHashSet<>();
    /** What a fan-out iterates; rebuilt only after the subscribers change, not once per publication. */
    private Session[] snapshot;
    /** Each snapshot entry's {@link Session#directGate}, built on the loop beside it. */
    private SendGate[] gates;
    MessageConsumer<JsonObject> consumer;
    Future<Void> ready;
    long lingerTimer = -1;

    ChannelEntry(String channel) {
      this.channel = channel;
    }

    boolean add(Session s) {
      boolean added = subscribers.add(s);
      if (added) {
        snapshot = null;
        gates = null;
      }
      return added;
    }

    boolean remove(Session s) {
      boolean removed = subscribers.remove(s);
      if (removed) {
        snapshot = null;
        gates = null;
      }
      return removed;
    }

    boolean isEmpty() {
      return subscribers.isEmpty();
    }

    /**
     * The subscribers as an array nobody mutates: a write may close a slow session, which unsubscribes it
     * mid-loop, and the loop must not see that.
     */
    Session[] snapshot() {
      Session[] all = snapshot;
      if (all == null) {
        all = subscribers.toArray(new Session[0]);
        snapshot = all;
      }
      return all;
    }

    /**
     * The snapshot's gates, index for index; null where a session has none yet (its upgrade not written,
     * or not io_uring). Only on the sockets' loop. A gate's own flag, not this array, says whether it may
     * be used, so the array need not change when a session starts recovering or closes.
     */
    SendGate[] gates() {
      SendGate[] g = gates;
      if (g == null) {
        Session[] all = snapshot();
        g = new SendGate[all.length];
        for (int i = 0; i < all.length; i++) {
          g[i] = all[i].directGate();
        }
        gates = g;
      }
      return g;
    }
  }

  public SessionHub(Vertx vertx, Context context, NodeContext node) {
    this.vertx = vertx;
    this.context = context;
    this.loop = ((ContextInternal) context).nettyEventLoop();
    this.node = node;
  }

  public Set<Session> sessions() {
    return sessions;
  }

  void add(Session s) {
    sessions.add(s);
    node.sessions().connectionOpened();
  }

  void authenticated(Session s) {
    byUser.computeIfAbsent(s.userId(), u -> new ArrayList<>(1)).add(s);
    node.sessions().userAdded(s.userId());
  }

  Set<Session> closing() {
    return closing;
  }

  /** The session has queued its close frame; it is watched until its socket closes. */
  void closing(Session s) {
    closing.add(s);
  }

  /**
   * Drops the session from every index, the closing watch included: when this side closes it (which then
   * puts it under the watch, {@link #closing(Session)}) and when its socket closes.
   */
  void remove(Session s) {
    closing.remove(s);
    if (!sessions.remove(s)) {
      return;
    }
    node.sessions().connectionClosed();
    for (String ch : new ArrayList<>(s.subscriptions())) {
      unsubscribe(s, ch);
    }
    if (s.userId() != null) {
      List<Session> list = byUser.get(s.userId());
      if (list != null && list.remove(s)) {
        node.sessions().userRemoved(s.userId());
        if (list.isEmpty()) {
          byUser.remove(s.userId());
        }
      }
    }
  }

  /** Completes when a publish from any node after this point reaches the session. */
  Future<Void> subscribe(Session s, String channel) {
    ChannelEntry e = channels.get(channel);
    if (e == null) {
      e = new ChannelEntry(channel);
      channels.put(channel, e);
      register(e);
    } else if (e.lingerTimer >= 0) {
      vertx.cancelTimer(e.lingerTimer);
      e.lingerTimer = -1;
    }
    if (e.add(s)) {
      s.subscriptions().add(channel);
      node.sessions().joined(channel, s.userId());
    }
    ChannelEntry entry = e;
    return e.ready.recover(err -> {
      // Roll back so a later subscribe tries a fresh registration.
      unsubscribe(s, channel);
      if (channels.get(channel) == entry && entry.isEmpty()) {
        channels.remove(channel);
      }
      return Future.failedFuture(err);
    });
  }

  private void register(ChannelEntry e) {
    String address = Addresses.channel(e.channel);
    e.consumer = vertx.eventBus().consumer(address, msg -> deliver(e, msg));
    if (e.consumer instanceof MessageConsumerImpl<JsonObject> impl) {
      // What arrives after the unregistration: Vert.x would log a WARN for each (internal API, the only hook).
      impl.discardHandler(msg -> late(e, msg));
    }
    e.ready = e.consumer.completion()
        .compose(v -> node.clustered() ? proveRouted(e, address) : Future.succeededFuture());
  }

  /**
   * Asks every cluster member — this node included, whose own routing cache can be just as stale — to
   * publish a probe on the address through its own routing table, until one of its probes is seen here.
   * A probe that arrives proves that member's routing now includes this consumer, and it stays included:
   * its routing cache is only ever refreshed from the subscription table, which has this registration. A
   * member whose reply arrives without its probe is asked again (its cache may have been stale, or it may
   * still be fetching the table, in which case the earlier probe arrives later and counts as well).
   * Members without a probe responder (a backend JVM that does not use the Java helper) fail fast with no
   * handlers and are skipped; a member that cannot prove it within {@link #PROBE_DEADLINE_MS} is given up on
   * so a subscribe never hangs.
   */
  private Future<Void> proveRouted(ChannelEntry entry, String address) {
    List<Future<Void>> all = new ArrayList<>();
    long deadline = System.currentTimeMillis() + PROBE_DEADLINE_MS;
    for (String member : node.members()) {
      ProbeRound round = new ProbeRound(entry, member, address, deadline);
      probe(round);
      all.add(round.done.future());
    }
    return Future.join(all).mapEmpty();
  }

  /** One member's proof for one channel address; its nonces stay valid until it completes. */
  private final class ProbeRound {
    final ChannelEntry entry;
    final String member;
    final String address;
    final long deadline;
    final Promise<Void> done = Promise.promise();
    final List<String> nonces = new ArrayList<>(2);

    ProbeRound(ChannelEntry entry, String member, String address, long deadline) {
      this.entry = entry;
      this.member = member;
      this.address = address;
      this.deadline = deadline;
    }

    /**
     * The channel's last subscriber left and its consumer is gone: no probe can arrive any more, and there is
     * nobody left to prove it to.
     */
    boolean abandoned() {
      return channels.get(entry.channel) != entry;
    }

    void complete() {
      if (done.tryComplete()) {
        nonces.forEach(pendingProbes::remove);
      }
    }
  }

  private void probe(ProbeRound round) {
    if (round.done.future().isComplete()) {
      return;
    }
    if (round.abandoned()) {
      round.complete();
      return;
    }
    String nonce = UUID.randomUUID().toString();
    round.nonces.add(nonce);
    pendingProbes.put(nonce, round);
    vertx.eventBus().request(Addresses.node(round.member, "probe"),
            new JsonObject().put("address", round.address).put("nonce", nonce), PROBE_REQUEST)
        .onComplete(ar -> {
          if (round.done.future().isComplete()) {
            return;
          }
          if (ar.failed() || !node.members().contains(round.member) || round.abandoned()) {
            round.complete();
          } else if (System.currentTimeMillis() >= round.deadline) {
            log.warn("event=subscribe_unproven address={} member={} after_ms={}", round.address, round.member,
                PROBE_DEADLINE_MS);
            round.complete();
          } else {
            vertx.setTimer(PROBE_RETRY_MS, t -> probe(round));
          }
        });
  }

  void unsubscribe(Session s, String channel) {
    ChannelEntry e = channels.get(channel);
    s.subscriptions().remove(channel);
    if (e == null || !e.remove(s)) {
      return;
    }
    node.sessions().left(channel, s.userId());
    if (e.isEmpty()) {
      if (channel.startsWith(Channel.USER + ":")) {
        drop(e);
      } else {
        e.lingerTimer = vertx.setTimer(LINGER_MS, t -> {
          e.lingerTimer = -1;
          if (e.isEmpty() && channels.get(channel) == e) {
            drop(e);
          }
        });
      }
    }
  }

  private void drop(ChannelEntry e) {
    channels.remove(e.channel);
    if (e.consumer != null) {
      e.consumer.unregister();
    }
  }

  /**
   * A publication that reached this instance's consumer after the channel's last subscriber here had left: it
   * was routed here while a subscriber was still present. For a {@code user:} channel that subscriber may have
   * been the user's last session, and then the router, which checked at publish time, saw a session: report
   * it {@code no_session} now if the user has none left. In a cluster the routing table still lists this
   * consumer for a few milliseconds after its removal, so there such a publication usually goes unreported.
   */
  private void late(ChannelEntry e, Message<JsonObject> msg) {
    if (!e.channel.startsWith(Channel.USER + ":") || msg.headers().get(ProbeResponder.HEADER) != null) {
      return;
    }
    log.debug("event=late_publication channel={}", e.channel);
    Undelivered.reportIfNoSession(node, Publication.fromJson(msg.body()), Addresses.channel(e.channel));
  }

  /** Encodes once per publication: every subscriber gets the same frame bytes. */
  private void deliver(ChannelEntry e, Message<JsonObject> msg) {
    String probe = msg.headers().get(ProbeResponder.HEADER);
    if (probe != null) {
      // Probes of other hubs (same channel, other instance or node) reach this consumer too: ignore them.
      ProbeRound round = pendingProbes.get(probe);
      if (round != null) {
        round.complete();
      }
      return;
    }
    node.sessions().fanoutReceived();
    if (e.isEmpty()) {
      late(e, msg);
      return;
    }
    Publication pub = Publication.fromJson(msg.body());
    String frame = ServerFrames.message(pub);
    // Pre-built frames are only written from the sockets' own loop, where the hub can flush them.
    ByteBuf wire = loop.inEventLoop() ? WireFrames.text(frame) : null;
    int n = 0;
    UringSender sender = null;
    try {
      Session[] all = e.snapshot();
      SendGate[] gates = wire == null ? null : e.gates();
      sender = gates == null ? null : UringSender.of(loop);
      if (sender != null) {
        sender.prepay(wire, all.length);
      }
      for (int i = 0; i < all.length; i++) {
        SendGate g = gates == null ? null : gates[i];
        if ((g != null && g.deliver(wire)) || all[i].write(frame, wire, pub)) {
          n++;
        }
      }
    } finally {
      if (sender != null) {
        sender.settle();
      }
      if (wire != null) {
        wire.release();
      }
    }
    // The admin feed ($sys:) is not traffic: counting it would show an idle cluster delivering.
    if (n > 0 && !e.channel.startsWith(Channel.SYSTEM + ":")) {
      node.metrics().delivered(n);
      node.metrics().publishToSocket(Publication.nowMicros() - pub.acceptedAtMicros());
    }
  }

  /**
   * Remembers a socket holding frames written without a flush. The first one since the last flush queues
   * the flush behind whatever is already waiting on the loop: an idle loop flushes right away, a busy one
   * sends several frames per socket in one system call (BENCHMARKS.md, coalesced flushes). Scheduling
   * here, not after the delivery loop, means no exception half-way through a fan-out can leave a frame
   * unflushed.
   */
  void unflushed(Session s) {
    if (unflushed.isEmpty()) {
      context.runOnContext(v -> flushAll());
    }
    unflushed.add(s);
  }

  private void flushAll() {
    Session[] all = unflushed.toArray(new Session[0]);
    unflushed.clear();
    for (Session s : all) {
      s.flushRaw();
    }
  }

  /** Closes every local session of the user. */
  public int disconnectUser(String user, CloseCode code, String reason) {
    List<Session> list = byUser.get(user);
    if (list == null) {
      return 0;
    }
    List<Session> copy = new ArrayList<>(list);
    copy.forEach(s -> s.close(code, reason));
    return copy.size();
  }

  public int channelCount() {
    return channels.size();
  }

  /** True while a consumer is registered for the channel in this instance (tests, metrics). */
  public boolean hasConsumer(String channel) {
    return channels.containsKey(channel);
  }
}
