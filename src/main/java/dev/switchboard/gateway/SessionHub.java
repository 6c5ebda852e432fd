package dev.switchboard.gateway;

import dev.switchboard.bus.Addresses;
import dev.switchboard.bus.Publication;
import dev.switchboard.cluster.NodeContext;
import dev.switchboard.cluster.NodeDirectory;
import dev.switchboard.protocol.Channel;
import dev.switchboard.protocol.CloseCode;
import dev.switchboard.protocol.ServerFrames;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

/**
 * The sessions of one gateway instance, indexed by channel and by user, and the channel consumers that
 * feed them. Everything here runs on the owning instance's event loop: no locks.
 *
 * <p>Interest-based routing: the first local subscriber of a channel registers one event-bus consumer for
 * it; later subscribers wait on the same registration. The subscribe ack waits until the registration
 * is complete and, in a cluster, until every other Switchboard node has proven it routes the channel
 * here (a probe it publishes arrives before its reply). The last subscriber leaving schedules the
 * unregistration after a short linger, re-checked when the timer fires, so churn does not thrash the
 * cluster registry. {@code user:} channels skip the linger, so "no consumer anywhere" means "no session".
 */
public final class SessionHub {

  static final long LINGER_MS = 1000;
  private static final int PROBE_ATTEMPTS = 100;
  private static final long PROBE_RETRY_MS = 10;

  private final Vertx vertx;
  private final NodeContext node;
  private final Map<String, ChannelEntry> channels = new HashMap<>();
  private final Map<String, List<Session>> byUser = new HashMap<>();
  private final Set<Session> sessions = new LinkedHashSet<>();
  private final Set<String> seenProbes = new HashSet<>();

  private final class ChannelEntry {
    final String channel;
    final Set<Session> subscribers = new LinkedHashSet<>();
    MessageConsumer<JsonObject> consumer;
    Future<Void> ready;
    long lingerTimer = -1;

    ChannelEntry(String channel) {
      this.channel = channel;
    }
  }

  public SessionHub(Vertx vertx, NodeContext node) {
    this.vertx = vertx;
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

  /** Drops the session from every index; called once when its socket closes. */
  void remove(Session s) {
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
    if (e.subscribers.add(s)) {
      s.subscriptions().add(channel);
      node.sessions().joined(channel, s.userId());
    }
    ChannelEntry entry = e;
    return e.ready.recover(err -> {
      // Roll back so a later subscribe tries a fresh registration.
      unsubscribe(s, channel);
      if (channels.get(channel) == entry && entry.subscribers.isEmpty()) {
        channels.remove(channel);
      }
      return Future.failedFuture(err);
    });
  }

  private void register(ChannelEntry e) {
    String address = Addresses.channel(e.channel);
    e.consumer = vertx.eventBus().consumer(address, msg -> deliver(e, msg));
    e.ready = e.consumer.completion().compose(v -> node.clustered() ? proveRouted(address) : Future.succeededFuture());
  }

  /** Asks every other Switchboard node to probe the address until each probe is seen here. */
  private Future<Void> proveRouted(String address) {
    List<Future<Void>> all = new ArrayList<>();
    for (String member : node.members()) {
      if (!member.equals(node.nodeId())) {
        Promise<Void> p = Promise.promise();
        probe(member, address, 0, p);
        all.add(p.future());
      }
    }
    return Future.all(all).mapEmpty();
  }

  private void probe(String member, String address, int attempt, Promise<Void> done) {
    String nonce = UUID.randomUUID().toString();
    seenProbes.remove(nonce);
    vertx.eventBus().request(Addresses.node(member, "probe"), new JsonObject().put("address", address).put("nonce", nonce))
        .onComplete(ar -> {
          if (ar.failed()) {
            // Not a Switchboard node (a backend JVM has no directory), or it left: nothing to prove there.
            done.tryComplete();
            return;
          }
          if (seenProbes.remove(nonce) || attempt >= PROBE_ATTEMPTS || !node.members().contains(member)) {
            done.tryComplete();
          } else {
            vertx.setTimer(PROBE_RETRY_MS, t -> probe(member, address, attempt + 1, done));
          }
        });
  }

  void unsubscribe(Session s, String channel) {
    ChannelEntry e = channels.get(channel);
    s.subscriptions().remove(channel);
    if (e == null || !e.subscribers.remove(s)) {
      return;
    }
    node.sessions().left(channel, s.userId());
    if (e.subscribers.isEmpty()) {
      if (channel.startsWith(Channel.USER + ":")) {
        drop(e);
      } else {
        e.lingerTimer = vertx.setTimer(LINGER_MS, t -> {
          e.lingerTimer = -1;
          if (e.subscribers.isEmpty() && channels.get(channel) == e) {
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

  /** Encodes once, writes the same text to every subscriber. */
  private void deliver(ChannelEntry e, Message<JsonObject> msg) {
    String probe = msg.headers().get(NodeDirectory.PROBE_HEADER);
    if (probe != null) {
      seenProbes.add(probe);
      return;
    }
    if (e.subscribers.isEmpty()) {
      return;
    }
    Publication pub = Publication.fromJson(msg.body());
    String frame = ServerFrames.message(pub);
    int n = 0;
    // A write may close a slow session, which mutates the set: iterate a snapshot (one array per
    // publication, not per subscriber).
    for (Session s : e.subscribers.toArray(new Session[0])) {
      if (s.write(frame, pub)) {
        n++;
      }
    }
    node.metrics().delivered(n);
    if (n > 0) {
      node.metrics().publishToSocket(Publication.nowMicros() - pub.acceptedAtMicros());
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
