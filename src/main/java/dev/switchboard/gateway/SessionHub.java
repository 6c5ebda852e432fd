package dev.switchboard.gateway;

import dev.switchboard.bus.Publication;
import dev.switchboard.cluster.NodeContext;
import dev.switchboard.protocol.Channel;
import dev.switchboard.protocol.CloseCode;
import io.netty.buffer.ByteBuf;
import io.netty.channel.EventLoop;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.internal.ContextInternal;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The sessions of one gateway instance, indexed by channel and by user. Everything here runs on the owning
 * instance's event loop: no locks.
 *
 * <p>The first local subscriber of a channel joins this hub to the node's feed for it ({@link ChannelFeeds}:
 * one event-bus consumer per channel per node); later subscribers wait on the same join. The last one
 * leaving takes the hub off the feed at once; the feed lingers before it unregisters, so churn does not
 * thrash the cluster registry.
 */
public final class SessionHub {

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

  private final class ChannelEntry {
    final String channel;
    private final Set<Session> subscribers = new LinkedHashSet<>();
    /** What a fan-out iterates; rebuilt only after the subscribers change, not once per publication. */
    private Session[] snapshot;
    /** Each snapshot entry's {@link Session#directGate}, built on the loop beside it. */
    private SendGate[] gates;
    /** The node's feed for the channel is ready for this hub (completes on this hub's loop). */
    Future<Void> ready;

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

  public SessionHub(Context context, NodeContext node) {
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
    if (closing.add(s)) {
      node.sessions().socketClosing();
    }
  }

  /**
   * Drops the session from every index, the closing watch included: when this side closes it (which then
   * puts it under the watch, {@link #closing(Session)}) and when its socket closes.
   */
  void remove(Session s) {
    if (closing.remove(s)) {
      node.sessions().socketClosed();
    }
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
      e.ready = node.feeds().join(channel, this);
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

  void unsubscribe(Session s, String channel) {
    ChannelEntry e = channels.get(channel);
    s.subscriptions().remove(channel);
    if (e == null || !e.remove(s)) {
      return;
    }
    node.sessions().left(channel, s.userId());
    if (e.isEmpty()) {
      channels.remove(channel);
      node.feeds().leave(channel, this);
    }
  }

  Context context() {
    return context;
  }

  boolean onItsLoop() {
    return loop.inEventLoop();
  }

  /**
   * Writes one publication, rendered once for the node by its feed, to this hub's subscribers of the channel;
   * on this hub's loop. The frame's bytes are encoded once here and every subscriber gets the same buffer.
   */
  void deliver(String channel, Publication pub, String frame) {
    ChannelEntry e = channels.get(channel);
    if (e == null) {
      node.feeds().late(channel, pub);
      return;
    }
    ByteBuf wire = WireFrames.text(frame);
    int n = 0;
    UringSender sender = null;
    try {
      Session[] all = e.snapshot();
      SendGate[] gates = e.gates();
      sender = UringSender.of(loop);
      if (sender != null) {
        sender.prepay(wire, all.length);
      }
      for (int i = 0; i < all.length; i++) {
        SendGate g = gates[i];
        if ((g != null && g.deliver(wire)) || all[i].write(frame, wire, pub)) {
          n++;
        }
      }
    } finally {
      if (sender != null) {
        sender.settle();
      }
      wire.release();
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

  /** Channels this hub has subscribers on. */
  public int channelCount() {
    return channels.size();
  }
}
