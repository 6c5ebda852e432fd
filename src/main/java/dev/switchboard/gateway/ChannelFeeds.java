package dev.switchboard.gateway;

import dev.switchboard.bus.Addresses;
import dev.switchboard.bus.Publication;
import dev.switchboard.cluster.NodeContext;
import dev.switchboard.cluster.ProbeResponder;
import dev.switchboard.protocol.Channel;
import dev.switchboard.protocol.ServerFrames;
import dev.switchboard.router.Undelivered;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.eventbus.impl.MessageConsumerImpl;
import io.vertx.core.internal.ContextInternal;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node's one event-bus consumer per channel (SPEC §1, interest-based routing), shared by the hubs of its
 * gateway instances. The first hub to want a channel registers the consumer; every hub with subscribers on it
 * joins the channel's feed. A publication is decoded and rendered into its {@code message} frame once per
 * node, then handed to each joined hub on that hub's own event loop. Each hub encodes the frame's bytes
 * itself: sharing one buffer between loops would put every send's release on one counter that two cores
 * fight over, while the UTF-8 copy of a rendered frame is cheap.
 *
 * <p>The consumer is ready once registered and, in a cluster, once every member (this node, and backend JVMs
 * using the Java helper) has proven it routes the channel here: a probe it publishes through its own routing
 * arrives. The event bus routes from a per-member cache of the subscription table that is updated
 * asynchronously, so "registered" alone does not yet mean "every publisher sees it". A hub that joins a ready
 * feed is served at once: the node is already routed, and the feed hands it every publication that arrives
 * after the join. The last hub leaving schedules the unregistration after a short linger, re-checked when the
 * timer fires, so churn does not thrash the cluster registry. {@code user:} channels skip the linger, so "no
 * consumer anywhere" means "no session".
 *
 * <p>Thread-safe: hubs on different event loops join and leave; a lock guards the table (subscribe and leave
 * only, never a delivery), and a delivery reads the feed's hub array without it.
 */
public final class ChannelFeeds {

  static final long LINGER_MS = 1000;
  private static final long PROBE_DEADLINE_MS = 3000;
  private static final long PROBE_RETRY_MS = 5;
  private static final DeliveryOptions PROBE_REQUEST = new DeliveryOptions().setSendTimeout(2000);
  private static final SessionHub[] NO_HUBS = new SessionHub[0];
  private static final Logger log = LoggerFactory.getLogger(ChannelFeeds.class);

  private final NodeContext node;
  /** Guarded by {@code this}. */
  private final Map<String, Feed> feeds = new HashMap<>();
  /** Probe nonces the node is waiting for → the round each proves. */
  private final Map<String, ProbeRound> pendingProbes = new ConcurrentHashMap<>();

  public ChannelFeeds(NodeContext node) {
    this.node = node;
  }

  private final class Feed {
    final String channel;
    final String address;
    /** Copy-on-write, written under the lock; a delivery reads it without. */
    volatile SessionHub[] hubs = NO_HUBS;
    MessageConsumer<JsonObject> consumer;
    Future<Void> ready;
    long lingerTimer = -1;

    Feed(String channel) {
      this.channel = channel;
      this.address = Addresses.channel(channel);
    }

    boolean failed() {
      return ready.failed();
    }
  }

  /**
   * Joins the hub to the channel's feed, registering the node's consumer if there is none. Call it on the
   * hub's event loop; the future completes there, once a publish from any member after this point reaches the
   * hub.
   */
  Future<Void> join(String channel, SessionHub hub) {
    Feed feed;
    synchronized (this) {
      feed = feeds.get(channel);
      if (feed != null && feed.failed()) {
        drop(feed);
        feed = null;
      }
      if (feed == null) {
        feed = new Feed(channel);
        feeds.put(channel, feed);
        register(feed);
      } else if (feed.lingerTimer >= 0) {
        node.vertx().cancelTimer(feed.lingerTimer);
        feed.lingerTimer = -1;
      }
      SessionHub[] hubs = feed.hubs;
      if (!Arrays.asList(hubs).contains(hub)) {
        SessionHub[] more = Arrays.copyOf(hubs, hubs.length + 1);
        more[hubs.length] = hub;
        feed.hubs = more;
      }
    }
    if (feed.ready.succeeded()) {
      return Future.succeededFuture();
    }
    // The proof runs on the registering hub's loop; the caller's own callbacks must run on its loop.
    Promise<Void> onHubLoop = ((ContextInternal) hub.context()).promise();
    feed.ready.onComplete(onHubLoop);
    return onHubLoop.future();
  }

  /** The hub has no subscriber left on the channel. */
  void leave(String channel, SessionHub hub) {
    synchronized (this) {
      Feed feed = feeds.get(channel);
      if (feed == null) {
        return;
      }
      SessionHub[] hubs = feed.hubs;
      int at = Arrays.asList(hubs).indexOf(hub);
      if (at < 0) {
        return;
      }
      SessionHub[] fewer = new SessionHub[hubs.length - 1];
      System.arraycopy(hubs, 0, fewer, 0, at);
      System.arraycopy(hubs, at + 1, fewer, at, hubs.length - at - 1);
      feed.hubs = fewer;
      if (fewer.length > 0) {
        return;
      }
      if (channel.startsWith(Channel.USER + ":") || feed.failed()) {
        drop(feed);
      } else {
        Feed lingering = feed;
        feed.lingerTimer = node.vertx().setTimer(LINGER_MS, t -> {
          synchronized (this) {
            lingering.lingerTimer = -1;
            if (lingering.hubs.length == 0 && feeds.get(channel) == lingering) {
              drop(lingering);
            }
          }
        });
      }
    }
  }

  /** Under the lock. */
  private void drop(Feed feed) {
    if (feeds.get(feed.channel) == feed) {
      feeds.remove(feed.channel);
    }
    if (feed.lingerTimer >= 0) {
      node.vertx().cancelTimer(feed.lingerTimer);
      feed.lingerTimer = -1;
    }
    if (feed.consumer != null) {
      feed.consumer.unregister();
    }
  }

  /** Under the lock, on the joining hub's loop: the consumer's deliveries arrive on that loop. */
  private void register(Feed feed) {
    feed.consumer = node.vertx().eventBus().consumer(feed.address, msg -> receive(feed, msg));
    if (feed.consumer instanceof MessageConsumerImpl<JsonObject> impl) {
      // What arrives after the unregistration: Vert.x would log a WARN for each (internal API, the only hook).
      impl.discardHandler(msg -> late(feed, msg));
    }
    feed.ready = feed.consumer.completion()
        .compose(v -> node.clustered() ? proveRouted(feed) : Future.succeededFuture());
  }

  /** Decodes and renders once for the node, then hands the frame to each hub, its own last. */
  private void receive(Feed feed, Message<JsonObject> msg) {
    String probe = msg.headers().get(ProbeResponder.HEADER);
    if (probe != null) {
      ProbeRound round = pendingProbes.get(probe);
      if (round != null) {
        round.complete();
      }
      return;
    }
    SessionHub[] hubs = feed.hubs;
    if (hubs.length == 0) {
      late(feed, msg);
      return;
    }
    node.sessions().fanoutReceived();
    Publication pub = Publication.fromJson(msg.body());
    String frame = ServerFrames.message(pub);
    SessionHub here = null;
    for (SessionHub hub : hubs) {
      if (hub.onItsLoop()) {
        here = hub;
      } else {
        hub.context().runOnContext(v -> hub.deliver(feed.channel, pub, frame));
      }
    }
    if (here != null) {
      here.deliver(feed.channel, pub, frame);
    }
  }

  /**
   * A publication that reached the node after the channel's last subscriber here had left: it was routed here
   * while a subscriber was still present. For a {@code user:} channel that subscriber may have been the user's
   * last session, and then the router, which checked at publish time, saw a session: report it
   * {@code no_session} now if the user has none left. In a cluster the routing table still lists this consumer
   * for a few milliseconds after its removal, so there such a publication usually goes unreported.
   */
  private void late(Feed feed, Message<JsonObject> msg) {
    if (msg.headers().get(ProbeResponder.HEADER) == null) {
      late(feed.channel, Publication.fromJson(msg.body()));
    }
  }

  /** Also for a hub handed a publication after its last subscriber on the channel left. */
  void late(String channel, Publication pub) {
    if (!channel.startsWith(Channel.USER + ":")) {
      return;
    }
    log.debug("event=late_publication channel={}", channel);
    Undelivered.reportIfNoSession(node, pub, Addresses.channel(channel));
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
  private Future<Void> proveRouted(Feed feed) {
    List<Future<Void>> all = new ArrayList<>();
    long deadline = System.currentTimeMillis() + PROBE_DEADLINE_MS;
    for (String member : node.members()) {
      ProbeRound round = new ProbeRound(feed, member, deadline);
      probe(round);
      all.add(round.done.future());
    }
    return Future.join(all).mapEmpty();
  }

  /** One member's proof for one channel; its nonces stay valid until it completes. */
  private final class ProbeRound {
    final Feed feed;
    final String member;
    final long deadline;
    final Promise<Void> done = Promise.promise();
    final List<String> nonces = new ArrayList<>(2);

    ProbeRound(Feed feed, String member, long deadline) {
      this.feed = feed;
      this.member = member;
      this.deadline = deadline;
    }

    /**
     * The channel's last subscriber left and its consumer is gone: no probe can arrive any more, and there is
     * nobody left to prove it to.
     */
    boolean abandoned() {
      synchronized (ChannelFeeds.this) {
        return feeds.get(feed.channel) != feed;
      }
    }

    void complete() {
      if (done.tryComplete()) {
        nonces.forEach(pendingProbes::remove);
      }
    }
  }

  /** On the loop that registered the feed's consumer, as is every callback of its proof. */
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
    node.vertx().eventBus().request(Addresses.node(round.member, "probe"),
            new JsonObject().put("address", round.feed.address).put("nonce", nonce), PROBE_REQUEST)
        .onComplete(ar -> {
          if (round.done.future().isComplete()) {
            return;
          }
          if (ar.failed() || !node.members().contains(round.member) || round.abandoned()) {
            round.complete();
          } else if (System.currentTimeMillis() >= round.deadline) {
            log.warn("event=subscribe_unproven address={} member={} after_ms={}", round.feed.address, round.member,
                PROBE_DEADLINE_MS);
            round.complete();
          } else {
            node.vertx().setTimer(PROBE_RETRY_MS, t -> probe(round));
          }
        });
  }
}
