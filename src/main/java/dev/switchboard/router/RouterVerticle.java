package dev.switchboard.router;

import dev.switchboard.bus.Addresses;
import dev.switchboard.bus.Publication;
import dev.switchboard.cluster.NodeContext;
import dev.switchboard.cluster.Seniority;
import dev.switchboard.protocol.Channel;
import dev.switchboard.protocol.ErrorCode;
import dev.switchboard.protocol.ProtocolError;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.eventbus.Message;
import io.vertx.core.json.JsonObject;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The publish entry point ({@link Addresses#PUBLISH}): validates, applies channel rules, stamps the
 * publication and fans it out with one event-bus publish on the channel's address.
 *
 * <p>Guarantee: once the router has replied {@code {"ok":true}}, the message has been handed to the
 * clustered event bus, which delivers it once to every node holding a consumer for the channel at that
 * moment, and each of those delivers it once to each subscribed session. It is at most once: a node that
 * dies with the message in flight loses it (history and {@code since} recovery cover that). A node runs one
 * router instance, so the publishes of one session (and of one HTTP request) leave in the order they came;
 * a backend that {@code request}s this address keeps its order by waiting for each reply, since its
 * requests are spread over the nodes. A publish to a {@code user:} channel with no consumer anywhere is
 * reported on {@link Addresses#UNDELIVERED} with reason {@code no_session}.
 *
 * <p>Body: {@code {"channel":…, "message":…, "from_user":…|null}}. This node's sessions publish on
 * {@link Addresses#CLIENT_PUBLISH} instead (local), and what they publish is copied to {@link Addresses#INBOUND}.
 * Failures use the HTTP-like codes 400 (bad request), 403 (forbidden), 413 (too large) and 503 (this node is
 * cut off from its quorum, {@code cluster.min_nodes}) with the reason as message.
 *
 * <p>A backend that {@code publish}es to {@link Addresses#PUBLISH} instead of sending a request reaches every
 * node's router at once. One of them, the oldest node, routes it, so it is delivered once; the others drop
 * their copy. No answer can go back, so the oldest node logs the mistake, once a minute at most.
 */
public final class RouterVerticle extends VerticleBase {

  private static final Logger log = LoggerFactory.getLogger(RouterVerticle.class);

  private final NodeContext node;
  private final ChannelRules rules;
  private final int maxMessageSize;
  private final Fanout fanout;
  /** The newest pending history append per channel (event-loop confined). */
  private final java.util.Map<String, Future<Publication>> lastAppend = new java.util.HashMap<>();
  private long lastPublishWarning;

  public RouterVerticle(NodeContext node) {
    this.node = node;
    this.rules = new ChannelRules(node.config().channels());
    this.maxMessageSize = node.config().session().maxMessageSize();
    this.fanout = new Fanout(node);
  }

  @Override
  public Future<?> start() {
    return Future.all(
        vertx.eventBus().<Object>consumer(Addresses.PUBLISH, this::fromBackend).completion(),
        vertx.eventBus().<Object>localConsumer(Addresses.CLIENT_PUBLISH, msg -> handle(msg, true)).completion());
  }

  private void fromBackend(Message<Object> msg) {
    if (!msg.isSend()) {
      if (!Seniority.isOldest(node.clusterManager(), Seniority::isNode)) {
        return;
      }
      long now = System.currentTimeMillis();
      if (now - lastPublishWarning > 60_000) {
        lastPublishWarning = now;
        log.warn("event=publish_not_request address={} reason=\"a backend used publish(); it is routed once, but its "
            + "refusals cannot be answered: use request()\"", Addresses.PUBLISH);
      }
    }
    handle(msg, false);
  }

  /** Any body a backend may send gets an answer: a string, an array or a number is refused, not dropped. */
  private void handle(Message<Object> msg, boolean fromClient) {
    if (!(msg.body() instanceof JsonObject body)) {
      msg.fail(400, "body must be a JSON object {\"channel\":…,\"message\":…}");
      return;
    }
    Object rawChannel = body.getValue("channel");
    if (!(rawChannel instanceof String chName)) {
      msg.fail(400, rawChannel == null ? "missing field: channel" : "channel must be a string");
      return;
    }
    Channel.Result parsed = Channel.parse(chName);
    if (!parsed.ok()) {
      msg.fail(400, "bad channel name: " + parsed.error());
      return;
    }
    Channel ch = parsed.channel();
    ProtocolError denied = rules.checkBackendPublish(ch);
    if (denied != null) {
      msg.fail(denied.code() == ErrorCode.FORBIDDEN ? 403 : 400, denied.message());
      return;
    }
    if (!body.containsKey("message") || body.getValue("message") == null) {
      msg.fail(400, "missing field: message");
      return;
    }
    Object message = body.getValue("message");
    // A client's message was measured by its session: the frame against session.max_message_size, the message
    // against its namespace's limit (SessionRequests), before it came here.
    ProtocolError tooBig = fromClient ? null : rules.checkMessageSize(ch, message, maxMessageSize);
    if (tooBig != null) {
      msg.fail(413, tooBig.message());
      return;
    }
    Object fromUser = body.getValue("from_user");
    if (fromUser != null && !(fromUser instanceof String)) {
      msg.fail(400, "from_user must be a string or null");
      return;
    }
    String cutOff = node.quorum().refusal();
    if (cutOff != null) {
      // Delivered only on this side of a split, and its history write dropped at the merge: refuse it instead.
      msg.fail(503, cutOff);
      return;
    }
    Publication pub = Publication.now(ch.toString(), message, fromUser instanceof String s ? s : null);
    stamp(pub, ch).onComplete(ar -> {
      if (ar.succeeded()) {
        fanout.publish(ar.result(), ch);
        msg.reply(new JsonObject().put("ok", true));
      } else {
        log.warn("event=routing_failure channel={} reason=\"{}\"", ch, ar.cause().getMessage());
        msg.fail(500, "routing failed: " + ar.cause().getMessage());
      }
    });
    fanout.accepted(pub, fromClient);
  }

  /**
   * On channels that keep history, appends to the history first, which assigns the offset and epoch.
   * Appends of one channel are chained so this node's publishes get offsets (and leave) in the order they
   * came; publishes from other nodes interleave, each with its own unique offset.
   */
  private Future<Publication> stamp(Publication pub, Channel ch) {
    if (!rules.keepsHistory(ch)) {
      return Future.succeededFuture(pub);
    }
    String key = ch.toString();
    Future<Publication> prev = lastAppend.get(key);
    Future<Publication> next = (prev == null ? Future.<Void>succeededFuture() : prev.<Void>transform(ar -> Future.succeededFuture()))
        .compose(v -> node.history().append(pub));
    lastAppend.put(key, next);
    next.onComplete(ar -> lastAppend.remove(key, next));
    return next;
  }
}
