package dev.switchboard.redis;

import com.hazelcast.config.Config;
import dev.switchboard.bus.Addresses;
import dev.switchboard.bus.Publication;
import dev.switchboard.cluster.NodeContext;
import dev.switchboard.cluster.Seniority;
import dev.switchboard.limiter.RefusalLog;
import dev.switchboard.metrics.LogLineLayout;
import dev.switchboard.protocol.Channel;
import dev.switchboard.protocol.ProtocolError;
import dev.switchboard.router.ChannelRules;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.Json;
import io.vertx.core.json.JsonObject;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.ProtocolVersion;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.RedisConnection;
import io.vertx.redis.client.RedisOptions;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Redis ingress (SPEC §5.3): every node subscribes to {@code switchboard:*} and delivers
 * {@code PUBLISH switchboard:<channel> <json>} to its own sessions only (a local publish on the channel
 * address), so each subscribed session receives each Redis message exactly once however many nodes run.
 * The payload is {@code {"message":…, "from_user":…}} or any other JSON value, delivered as the message
 * (text that is not JSON is delivered as a string). The router's checks apply: a channel of an unknown
 * namespace, a payload over {@code max_message_size} bytes (or a message over its namespace's own
 * {@code max_message_size}), a null message or a {@code from_user} that is
 * not a string is dropped with a warning. A node cut off from its quorum ({@code cluster.min_nodes}) drops
 * everything, logged as {@code event=redis_dropped} and counted as dropped {@code no_quorum}: its sessions are
 * being sent to the nodes that still hold the quorum, whose bridges deliver it. Channels that keep history go
 * through one node's router instead ({@link #publishWithHistory}), so their messages get offsets and stay in
 * the history. A {@code user:} message that reaches no session is not reported undelivered on this path (each
 * node only sees its own sessions): publish over the event bus or HTTP when you need that report.
 * When Redis goes away the bridge reconnects with backoff (0.5 s doubling to 10 s) and subscribes again;
 * messages published while no node was subscribed are lost, as Redis pub/sub itself does.
 */
public final class RedisBridgeVerticle extends VerticleBase {

  private static final Logger log = LoggerFactory.getLogger(RedisBridgeVerticle.class);
  static final String PREFIX = "switchboard:";
  private static final DeliveryOptions LOCAL = new DeliveryOptions().setLocalOnly(true);
  static final String MEMBER_ATTRIBUTE = "switchboard.redis";
  private static final String BRIDGE = "bridge";

  private final NodeContext node;
  private final ChannelRules rules;
  private final int maxMessageSize;
  /** Drops while cut off from the quorum: one line per channel and second, the rest summarised. */
  private RefusalLog cutOffDrops;
  private Redis redis;
  private RedisConnection conn;
  private long backoffMs = 500;
  private boolean stopped;

  public RedisBridgeVerticle(NodeContext node) {
    this.node = node;
    this.rules = new ChannelRules(node.config().channels());
    this.maxMessageSize = node.config().session().maxMessageSize();
  }

  @Override
  public Future<?> start() {
    cutOffDrops = new RefusalLog(vertx, log, "redis_dropped");
    redis = Redis.createClient(vertx, new RedisOptions()
        .setConnectionString(node.config().redis().url())
        .setPreferredProtocolVersion(ProtocolVersion.RESP2)
        .setMaxWaitingHandlers(4096));
    // Start-up does not wait for Redis: a node without Redis still serves WebSocket and HTTP publishing.
    connect();
    return Future.succeededFuture();
  }

  @Override
  public Future<?> stop() {
    stopped = true;
    return redis == null ? Future.succeededFuture() : redis.close();
  }

  private void connect() {
    if (stopped) {
      return;
    }
    redis.connect()
        .compose(c -> {
          conn = c;
          c.handler(this::onResponse);
          c.exceptionHandler(e -> reconnect("error: " + e.getMessage()));
          c.endHandler(v -> reconnect("connection closed"));
          return c.send(Request.cmd(Command.PSUBSCRIBE).arg(PREFIX + "*"));
        })
        .onSuccess(r -> {
          backoffMs = 500;
          log.info("event=redis_subscribed node={} pattern={}*", node.name(), PREFIX);
        })
        .onFailure(e -> reconnect("connect failed: " + e.getMessage()));
  }

  private void reconnect(String why) {
    if (stopped) {
      return;
    }
    RedisConnection old = conn;
    conn = null;
    if (old != null) {
      old.handler(null).exceptionHandler(null).endHandler(null);
      old.close();
    }
    long delay = backoffMs;
    backoffMs = Math.min(10_000, backoffMs * 2);
    log.warn("event=redis_reconnect node={} reason=\"{}\" retry_ms={}", node.name(), why, delay);
    vertx.setTimer(delay, t -> connect());
  }

  private void onResponse(Response r) {
    // RESP2 pattern message: ["pmessage", pattern, channel, payload]
    if (r.size() < 4 || !"pmessage".equalsIgnoreCase(r.get(0).toString())) {
      return;
    }
    String redisChannel = r.get(2).toString();
    if (!redisChannel.startsWith(PREFIX)) {
      return;
    }
    String cutOff = node.quorum().refusal();
    if (cutOff != null) {
      // Only this node's own sessions would get it, and they are being sent to nodes whose bridges deliver it.
      cutOffDrops.refused("channel=" + LogLineLayout.quote(redisChannel), " reason=" + LogLineLayout.quote(cutOff));
      node.metrics().dropped("no_quorum");
      return;
    }
    Channel.Result ch = Channel.parse(redisChannel.substring(PREFIX.length()));
    if (!ch.ok()) {
      // Whoever can PUBLISH to Redis chose the channel: quoted and escaped, it stays one value of the line.
      log.warn("event=redis_bad_channel channel={} reason={}", LogLineLayout.quote(redisChannel),
          LogLineLayout.quote(ch.error()));
      return;
    }
    // The same checks the router applies to a backend publish, so Redis is not a way around them.
    ProtocolError refused = rules.checkBackendPublish(ch.channel());
    if (refused != null) {
      log.warn("event=redis_refused channel={} reason={}", LogLineLayout.quote(redisChannel),
          LogLineLayout.quote(refused.message()));
      return;
    }
    int bytes = r.get(3).toBuffer().length();
    if (bytes > maxMessageSize) {
      log.warn("event=redis_refused channel={} reason=\"payload of {} bytes is over max_message_size {}\"",
          LogLineLayout.quote(redisChannel), bytes, maxMessageSize);
      node.metrics().dropped("too_large");
      return;
    }
    String payload = r.get(3).toString();
    Object message;
    Object fromUser = null;
    try {
      Object v = Json.decodeValue(payload);
      if (v instanceof JsonObject o && o.containsKey("message")) {
        message = o.getValue("message");
        fromUser = o.getValue("from_user");
      } else {
        message = v;
      }
    } catch (DecodeException | ClassCastException e) {
      message = payload;
    }
    String refusal = message == null ? "message is null (a null message is refused on every path)"
        : fromUser != null && !(fromUser instanceof String) ? "from_user must be a string or null" : null;
    if (refusal != null) {
      log.warn("event=redis_refused channel={} reason={}", LogLineLayout.quote(redisChannel),
          LogLineLayout.quote(refusal));
      return;
    }
    // The message, not the payload around it, as the router measures it against the namespace's own limit.
    ProtocolError tooBig = rules.checkMessageSize(ch.channel(), message);
    if (tooBig != null) {
      log.warn("event=redis_refused channel={} reason={}", LogLineLayout.quote(redisChannel),
          LogLineLayout.quote(tooBig.message()));
      node.metrics().dropped("too_large");
      return;
    }
    if (rules.keepsHistory(ch.channel())) {
      publishWithHistory(ch.channel(), message, (String) fromUser);
      return;
    }
    Publication pub = Publication.now(ch.channel().toString(), message, (String) fromUser);
    vertx.eventBus().publish(Addresses.channel(ch.channel()), pub.toJson(), LOCAL);
  }

  /**
   * A channel that keeps history needs one offset per message, but every node receives each Redis message:
   * were each to append it, the history would hold it once per node. So one node takes those channels, the
   * oldest member running the bridge: it publishes through its router, which appends the message (one offset
   * and epoch) and sends it cluster-wide, one delivery per subscribed session; the other nodes leave them
   * to it. While that node is gone and the cluster has not yet noticed, such messages are lost, as Redis
   * pub/sub loses what it sends to nobody.
   */
  private void publishWithHistory(Channel channel, Object message, String fromUser) {
    if (!writesHistory()) {
      return;
    }
    JsonObject body = new JsonObject().put("channel", channel.toString()).put("message", message)
        .put("from_user", fromUser);
    vertx.eventBus().request(Addresses.PUBLISH, body, LOCAL).onFailure(e ->
        log.warn("event=redis_refused channel={} reason={}", LogLineLayout.quote(PREFIX + channel),
            LogLineLayout.quote(e.getMessage())));
  }

  private boolean writesHistory() {
    return Seniority.isOldest(node.clusterManager(), m -> BRIDGE.equals(m.getAttribute(MEMBER_ATTRIBUTE)));
  }

  /** Marks this node's Hazelcast member as one running the bridge, so the members can agree on who writes history. */
  public static void markMember(Config hazelcast) {
    hazelcast.getMemberAttributeConfig().setAttribute(MEMBER_ATTRIBUTE, BRIDGE);
  }
}
