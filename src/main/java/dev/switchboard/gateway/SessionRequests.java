package dev.switchboard.gateway;

import dev.switchboard.auth.Principal;
import dev.switchboard.bus.Addresses;
import dev.switchboard.bus.Publication;
import dev.switchboard.config.SwitchboardConfig;
import dev.switchboard.history.HistoryStore;
import dev.switchboard.limiter.TokenBucket;
import dev.switchboard.protocol.Channel;
import dev.switchboard.protocol.ErrorCode;
import dev.switchboard.protocol.Frame;
import dev.switchboard.protocol.ProtocolError;
import dev.switchboard.protocol.ServerFrames;
import io.vertx.core.Future;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.eventbus.ReplyFailure;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.HashMap;
import java.util.Map;

/**
 * What an authenticated session asks of the cluster, each request answered by one frame: publish and send
 * (acked), presence, request (a service's reply) and history. Each is checked against the channel rules (or
 * {@code rpc.allowed}) first; a refusal is an error frame and the connection stays open. Publish and send then
 * meet their namespace's own limits: its {@code max_message_size} and, per session, its {@code publish_rate}.
 */
final class SessionRequests {

  private final Session session;
  private final SessionServices svc;
  /**
   * Namespace → this session's budget of publishes into it, for namespaces with a {@code publish_rate}; made on
   * the first publish into one, so a session that never does carries no map. Refilled lazily on each take, as
   * the session's inbound bucket is: no timer.
   */
  private Map<String, TokenBucket> publishBudgets;

  SessionRequests(Session session, SessionServices svc) {
    this.session = session;
    this.svc = svc;
  }

  void publish(Principal principal, Frame.Publish p) {
    ProtocolError err = svc.rules().checkPublish(principal, p.channel());
    if (err != null) {
      session.send(ServerFrames.error(err.withId(p.id())));
      return;
    }
    route(principal, p, p.channel(), p.message());
  }

  void sendDirect(Principal principal, Frame.Send s) {
    ProtocolError err = svc.rules().checkSend(principal, s.to());
    if (err != null) {
      session.send(ServerFrames.error(err.withId(s.id())));
      return;
    }
    route(principal, s, Channel.user(s.to()), s.message());
  }

  /**
   * A client's publish, already checked against the channel rules. On channels without history the
   * router's own fan-out ({@link dev.switchboard.router.Fanout}) runs right here on the session's loop and the
   * ack follows at once: it means what it always meant (accepted and handed to the clustered event bus),
   * without a request/reply hop to the router verticle. Channels with history go through the router
   * verticle, whose per-channel append chain hands out the offsets in order.
   */
  private void route(Principal principal, Frame f, Channel channel, Object message) {
    SwitchboardConfig.NamespaceRules ns = svc.rules().rules(channel);
    if (ns != null && ns.maxMessageSize() > 0) {
      ProtocolError tooBig = svc.rules().checkMessageSize(channel, message);
      if (tooBig != null) {
        svc.node().metrics().dropped("too_large");
        session.send(ServerFrames.error(tooBig.withId(f.id())));
        return;
      }
    }
    String cutOff = svc.node().quorum().refusal();
    if (cutOff != null) {
      session.reply(f, ErrorCode.INTERNAL, cutOff);
      return;
    }
    if (ns != null && ns.publishRate() > 0 && !withinPublishRate(f, channel.namespace(), ns)) {
      return;
    }
    if (ns == null || !ns.keepsHistory()) {
      Publication pub = Publication.now(channel.toString(), message, principal.userId());
      svc.fanout().publish(pub, channel);
      svc.fanout().accepted(pub, true);
      session.send(ServerFrames.ack(f.id()));
      return;
    }
    JsonObject body = new JsonObject().put("channel", channel.toString()).put("message", message)
        .put("from_user", principal.userId());
    svc.node().vertx().eventBus().request(Addresses.CLIENT_PUBLISH, body, Session.LOCAL).onComplete(session.guarded(f, ar -> {
      if (ar.succeeded()) {
        session.send(ServerFrames.ack(f.id()));
      } else {
        replyFailure(f, ar.cause());
      }
    }));
  }

  /**
   * Takes a token from the session's budget for a namespace with a {@code publish_rate};
   * over it the publish is answered {@code rate_limited} and dropped. Such a refusal does not count towards
   * the 4008 close: the frame already spent a token of the session's inbound bucket, which bounds how many
   * refusals a client can cause, and a client that publishes too fast into one namespace is not abusing the
   * connection (its subscriptions and other publishes go on).
   */
  private boolean withinPublishRate(Frame f, String namespace, SwitchboardConfig.NamespaceRules rules) {
    long now = System.nanoTime();
    if (publishBudgets == null) {
      publishBudgets = new HashMap<>(4);
    }
    TokenBucket budget = publishBudgets.get(namespace);
    if (budget == null) {
      budget = new TokenBucket(rules.publishRate(), rules.publishBurst(), now);
      publishBudgets.put(namespace, budget);
    }
    if (budget.tryTake(now)) {
      return true;
    }
    svc.node().metrics().dropped("rate_limited");
    session.reply(f, ErrorCode.RATE_LIMITED, "over channels.namespaces." + namespace + ".publish_rate: "
        + TokenBucket.formatRate(rules.publishRate()) + " publishes/s into " + namespace + ": channels (burst "
        + rules.publishBurst() + "); message dropped");
    return false;
  }

  void presence(Principal principal, Frame.Presence p) {
    ProtocolError err = svc.rules().checkPresence(principal, p.channel());
    if (err != null) {
      session.send(ServerFrames.error(err.withId(p.id())));
      return;
    }
    svc.view().presence(p.channel().toString()).onComplete(session.guarded(p, ar -> {
      if (ar.succeeded()) {
        session.send(ServerFrames.presence(p.id(), p.channel().toString(), ar.result()));
      } else {
        session.reply(p, ErrorCode.INTERNAL, "presence failed: " + ar.cause().getMessage());
      }
    }));
  }

  void request(Principal principal, Frame.Request r) {
    // Switchboard's own addresses (auth, limiter, node control) are never a client's to call, whatever
    // a broad rpc.allowed pattern such as "*" says.
    if (r.address().startsWith("switchboard.") || !svc.rpcAllowed().matches(r.address())) {
      session.reply(r, ErrorCode.FORBIDDEN, "address " + r.address() + " is not allowed by rpc.allowed");
      return;
    }
    long timeoutMs = svc.node().config().rpc().timeout().toMillis();
    DeliveryOptions opts = new DeliveryOptions()
        .setSendTimeout(timeoutMs)
        .addHeader("user_id", principal.userId())
        .addHeader("session_id", session.id());
    Future<Message<Object>> answer;
    try {
      answer = svc.node().vertx().eventBus().request(r.address(), r.message(), opts);
    } catch (IllegalArgumentException e) {
      session.reply(r, ErrorCode.BAD_REQUEST, "message cannot be sent on the event bus: " + e.getMessage());
      return;
    }
    answer.onComplete(session.guarded(r, ar -> {
      if (ar.succeeded()) {
        session.send(ServerFrames.reply(r.id(), ar.result().body()));
      } else if (ar.cause() instanceof ReplyException re && re.failureType() == ReplyFailure.TIMEOUT) {
        session.reply(r, ErrorCode.TIMEOUT, "no reply from " + r.address() + " within " + timeoutMs + " ms");
      } else if (ar.cause() instanceof ReplyException re && re.failureType() == ReplyFailure.NO_HANDLERS) {
        session.reply(r, ErrorCode.TIMEOUT, "no service is listening on " + r.address());
      } else if (ar.cause() instanceof ReplyException re && re.failureType() == ReplyFailure.RECIPIENT_FAILURE) {
        // The service refused it: its code, read as the router's are (400, 403, 413, 429, …), tells the client why.
        session.reply(r, ErrorCode.ofStatus(re.failureCode()), "service failed: " + re.getMessage());
      } else {
        session.reply(r, ErrorCode.INTERNAL, "service failed: " + ar.cause().getMessage());
      }
    }));
  }

  void history(Principal principal, Frame.History h) {
    ProtocolError err = svc.rules().checkHistory(principal, h.channel());
    if (err != null) {
      session.send(ServerFrames.error(err.withId(h.id())));
      return;
    }
    int kept = svc.rules().rules(h.channel()).historySize();
    int limit = h.limit() == null ? kept : Math.min(h.limit(), kept);
    String ch = h.channel().toString();
    int wanted = Math.min(limit, 1000);
    // The answer is one frame: it must fit the session's write queue, or one request of a channel of large
    // messages would be a frame of many megabytes (and many such requests the node's heap). Half of it, so the
    // deliveries behind the answer still find room rather than cutting the client as a slow consumer.
    long budget = svc.node().config().session().outboundQueueBytes() / 2;
    svc.node().history().readNewest(ch, wanted, budget).onComplete(session.guarded(h, ar -> {
      if (ar.failed()) {
        session.reply(h, ErrorCode.INTERNAL, "history read failed: " + ar.cause().getMessage());
        return;
      }
      HistoryStore.Page page = ar.result();
      JsonArray messages = new JsonArray();
      page.publications().forEach(p -> messages.add(ServerFrames.messageJson(p)));
      session.send(ServerFrames.history(h.id(), ch, messages, page.offset(), page.epoch(), page.leftOutOfNewest(wanted)));
    }));
  }

  private void replyFailure(Frame f, Throwable cause) {
    ErrorCode code = cause instanceof ReplyException re && re.failureType() == ReplyFailure.RECIPIENT_FAILURE
        ? ErrorCode.ofStatus(re.failureCode()) : ErrorCode.INTERNAL;
    session.reply(f, code, cause.getMessage());
  }
}
