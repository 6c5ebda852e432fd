package dev.switchboard.gateway;

import dev.switchboard.auth.Principal;
import dev.switchboard.bus.Addresses;
import dev.switchboard.bus.Publication;
import dev.switchboard.config.SwitchboardConfig;
import dev.switchboard.limiter.TokenBucket;
import dev.switchboard.protocol.Channel;
import dev.switchboard.protocol.CloseCode;
import dev.switchboard.protocol.ErrorCode;
import dev.switchboard.protocol.Frame;
import dev.switchboard.protocol.FrameDecoder;
import dev.switchboard.protocol.ProtocolError;
import dev.switchboard.protocol.ServerFrames;
import dev.switchboard.router.Undelivered;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.EventBus;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.eventbus.ReplyFailure;
import io.vertx.core.http.ServerWebSocket;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One WebSocket connection: its authentication state, its subscriptions, its inbound rate budget, and the
 * only place frames are written to its socket. Runs on its gateway instance's event loop.
 *
 * <p>Every inbound frame goes through {@link #onText}: rate budget, {@link FrameDecoder}, then one
 * dispatch per {@link Frame} type, each failure answered with an error frame and a return. A bad request
 * never closes the connection; only the close rules of SPEC §4 do.
 */
public final class Session {

  private static final Logger log = LoggerFactory.getLogger(Session.class);
  private static final DeliveryOptions LOCAL = new DeliveryOptions().setLocalOnly(true);
  private static final long RATE_WINDOW_MS = 10_000;

  private final ServerWebSocket ws;
  private final SessionServices svc;
  private final SwitchboardConfig config;
  private final EventBus eb;
  private final String id;
  private final String ip;
  private final Set<String> subscriptions = new HashSet<>();
  private final TokenBucket bucket;
  private final long authDeadline;
  private Principal principal;
  private boolean authInFlight;
  private long lastSeen;
  private long lastPing;
  private long rateWindowStart;
  private int rateRejects;
  private boolean closed;
  private CloseCode closedWith;

  Session(ServerWebSocket ws, SessionServices svc, String ip, long nowMillis) {
    this.ws = ws;
    this.svc = svc;
    this.config = svc.node().config();
    this.eb = svc.node().vertx().eventBus();
    this.id = Long.toHexString(ThreadLocalRandom.current().nextLong() & Long.MAX_VALUE);
    this.ip = ip;
    this.bucket = new TokenBucket(config.limits().messagesPerSecond(), config.limits().burst(), System.nanoTime());
    this.authDeadline = nowMillis + config.auth().authTimeout().toMillis();
    this.lastSeen = nowMillis;
    this.lastPing = nowMillis;
  }

  /** Wires the socket; authenticates at once when the upgrade carried a token. */
  void start(String handshakeToken) {
    ws.textMessageHandler(this::onText);
    ws.binaryMessageHandler(b -> {
      touch();
      svc.node().metrics().messageIn("binary");
      send(ServerFrames.error(null, ErrorCode.BAD_REQUEST, "binary frames are not supported; send JSON text frames"));
    });
    ws.pongHandler(b -> touch());
    ws.exceptionHandler(e -> log.debug("event=socket_error session={} reason=\"{}\"", id, e.getMessage()));
    ws.closeHandler(v -> onClosed());
    if (handshakeToken != null) {
      authenticate(new Frame.Auth(null, handshakeToken, List.of()));
    }
  }

  public String id() {
    return id;
  }

  public String userId() {
    return principal == null ? null : principal.userId();
  }

  Set<String> subscriptions() {
    return subscriptions;
  }

  private void touch() {
    lastSeen = System.currentTimeMillis();
  }

  // ---- inbound ----------------------------------------------------------------------------------

  private void onText(String text) {
    touch();
    if (closed) {
      return;
    }
    if (text.length() > config.session().maxMessageSize()) {
      close(CloseCode.MESSAGE_TOO_BIG, "message larger than " + config.session().maxMessageSize() + " bytes");
      return;
    }
    if (!bucket.tryTake(System.nanoTime())) {
      rateLimited();
      return;
    }
    FrameDecoder.Decoded d = FrameDecoder.decode(text);
    if (d.error() != null) {
      svc.node().metrics().messageIn("invalid");
      send(ServerFrames.error(d.error()));
      return;
    }
    Frame f = d.frame();
    svc.node().metrics().messageIn(typeOf(f));
    if (principal == null && !(f instanceof Frame.Auth) && !(f instanceof Frame.Ping)) {
      reply(f, ErrorCode.UNAUTHORIZED, "authenticate first: send {\"type\":\"auth\",\"token\":\"<jwt>\"}");
      return;
    }
    if (f instanceof Frame.Auth a) {
      authenticate(a);
    } else if (f instanceof Frame.Subscribe s) {
      subscribe(s);
    } else if (f instanceof Frame.Unsubscribe u) {
      svc.hub().unsubscribe(this, u.channel().toString());
      send(ServerFrames.ack(u.id()));
    } else if (f instanceof Frame.Publish p) {
      publish(p);
    } else if (f instanceof Frame.Send s) {
      sendDirect(s);
    } else if (f instanceof Frame.Presence p) {
      presence(p);
    } else if (f instanceof Frame.Request r) {
      request(r);
    } else if (f instanceof Frame.History h) {
      history(h);
    } else if (f instanceof Frame.Ping p) {
      send(ServerFrames.pong(p.id()));
    }
  }

  private static String typeOf(Frame f) {
    String n = f.getClass().getSimpleName();
    return n.equals("Publish") ? "broadcast" : n.toLowerCase();
  }

  private void rateLimited() {
    svc.node().metrics().dropped("rate_limited");
    long now = System.currentTimeMillis();
    if (now - rateWindowStart > RATE_WINDOW_MS) {
      rateWindowStart = now;
      rateRejects = 0;
    }
    if (++rateRejects > config.limits().rateAbuseLimit()) {
      log.info("event=rate_abuse session={} user={} ip={}", id, userId(), ip);
      close(CloseCode.RATE_LIMIT_EXCEEDED, "rate limit exceeded repeatedly");
      return;
    }
    send(ServerFrames.error(null, ErrorCode.RATE_LIMITED, "over " + config.limits().messagesPerSecond()
        + " messages/s (burst " + config.limits().burst() + "); message dropped"));
  }

  // ---- auth -------------------------------------------------------------------------------------

  private void authenticate(Frame.Auth a) {
    if (authInFlight) {
      reply(a, ErrorCode.BAD_REQUEST, "authentication already in progress");
      return;
    }
    authInFlight = true;
    eb.<JsonObject>request(Addresses.AUTH_VERIFY, a.token(), LOCAL).onComplete(ar -> {
      authInFlight = false;
      if (closed) {
        return;
      }
      if (ar.failed()) {
        String reason = ar.cause().getMessage();
        log.info("event=auth_failure session={} ip={} reason=\"{}\"", id, ip, reason);
        reply(a, ErrorCode.UNAUTHORIZED, reason);
        if (principal == null) {
          svc.node().metrics().connect("unauthorized");
          close(CloseCode.POLICY_VIOLATION, "auth failure");
        }
        return;
      }
      Principal p = Principal.fromJson(ar.result().body());
      if (principal != null) {
        renew(a, p);
      } else {
        admit(a, p);
      }
    });
  }

  private void renew(Frame.Auth a, Principal p) {
    if (!p.userId().equals(principal.userId())) {
      reply(a, ErrorCode.FORBIDDEN, "a session renews with a token for the same user (" + principal.userId() + ")");
      return;
    }
    principal = p;
    sendAuthSuccess(a.id());
  }

  private void admit(Frame.Auth a, Principal p) {
    eb.request(Addresses.LIMITER_ADMIT_USER, new JsonObject().put("user", p.userId()), LOCAL).onComplete(ar -> {
      if (closed) {
        return;
      }
      if (ar.failed()) {
        svc.node().metrics().connect("too_many_connections");
        close(CloseCode.TOO_MANY_CONNECTIONS, ar.cause().getMessage());
        return;
      }
      principal = p;
      svc.hub().authenticated(this);
      svc.node().metrics().connect("ok");
      log.info("event=connect session={} user={} ip={}", id, p.userId(), ip);
      List<String> wanted = new ArrayList<>();
      wanted.add(Channel.user(p.userId()).toString());
      wanted.add(Channel.BROADCAST);
      p.segments().forEach((claim, value) -> wanted.add(Channel.segment(claim, value).toString()));
      for (String raw : a.channels()) {
        Channel.Result r = Channel.parse(raw);
        ProtocolError err = r.ok() ? svc.rules().checkSubscribe(p, r.channel())
            : ProtocolError.badRequest("bad channel name " + raw + ": " + r.error(), null);
        if (err != null) {
          send(ServerFrames.error(a.id(), err.code(), raw + ": " + err.message()));
        } else if (!wanted.contains(r.channel().toString())) {
          wanted.add(r.channel().toString());
        }
      }
      List<Future<Void>> subs = new ArrayList<>();
      for (String ch : wanted) {
        if (subscriptions.size() >= config.session().maxSubscriptions()) {
          send(ServerFrames.error(a.id(), ErrorCode.TOO_LARGE, ch + ": subscription limit reached"));
          break;
        }
        subs.add(svc.hub().subscribe(this, ch));
      }
      Future.join(subs).onComplete(done -> {
        if (!closed) {
          sendAuthSuccess(a.id());
        }
      });
    });
  }

  private void sendAuthSuccess(Object requestId) {
    Long expiresIn = principal.expiresAt() == null ? null
        : Math.max(0, principal.expiresAt() - System.currentTimeMillis() / 1000);
    send(ServerFrames.authSuccess(requestId, principal.userId(), id, svc.node().name(),
        new LinkedHashSet<>(subscriptions), (int) config.session().heartbeat().toSeconds(), expiresIn));
  }

  // ---- requests ---------------------------------------------------------------------------------

  private void subscribe(Frame.Subscribe s) {
    String ch = s.channel().toString();
    ProtocolError err = svc.rules().checkSubscribe(principal, s.channel());
    if (err != null) {
      send(ServerFrames.error(err.withId(s.id())));
      return;
    }
    if (subscriptions.contains(ch)) {
      send(ServerFrames.ack(s.id()));
      return;
    }
    if (subscriptions.size() >= config.session().maxSubscriptions()) {
      reply(s, ErrorCode.TOO_LARGE, "subscription limit of " + config.session().maxSubscriptions() + " reached");
      return;
    }
    svc.hub().subscribe(this, ch).onComplete(ar -> {
      if (ar.succeeded()) {
        send(ServerFrames.ack(s.id()));
      } else {
        reply(s, ErrorCode.INTERNAL, "subscription failed: " + ar.cause().getMessage());
      }
    });
  }

  private void publish(Frame.Publish p) {
    ProtocolError err = svc.rules().checkPublish(principal, p.channel());
    if (err != null) {
      send(ServerFrames.error(err.withId(p.id())));
      return;
    }
    route(p, p.channel().toString(), p.message());
  }

  private void sendDirect(Frame.Send s) {
    ProtocolError err = svc.rules().checkSend(principal, s.to());
    if (err != null) {
      send(ServerFrames.error(err.withId(s.id())));
      return;
    }
    route(s, Channel.user(s.to()).toString(), s.message());
  }

  private void route(Frame f, String channel, Object message) {
    JsonObject body = new JsonObject().put("channel", channel).put("message", message)
        .put("from_user", principal.userId()).put("client", true);
    eb.request(Addresses.PUBLISH, body, LOCAL).onComplete(ar -> {
      if (ar.succeeded()) {
        send(ServerFrames.ack(f.id()));
      } else {
        replyFailure(f, ar.cause());
      }
    });
  }

  private void presence(Frame.Presence p) {
    ProtocolError err = svc.rules().checkPresence(principal, p.channel());
    if (err != null) {
      send(ServerFrames.error(err.withId(p.id())));
      return;
    }
    svc.view().presence(p.channel().toString()).onComplete(ar -> {
      if (ar.succeeded()) {
        send(ServerFrames.presence(p.id(), p.channel().toString(), ar.result()));
      } else {
        reply(p, ErrorCode.INTERNAL, "presence failed: " + ar.cause().getMessage());
      }
    });
  }

  private void request(Frame.Request r) {
    if (!svc.rpcAllowed().matches(r.address())) {
      reply(r, ErrorCode.FORBIDDEN, "address " + r.address() + " is not allowed by rpc.allowed");
      return;
    }
    DeliveryOptions opts = new DeliveryOptions()
        .setSendTimeout(config.rpc().timeout().toMillis())
        .addHeader("user_id", principal.userId())
        .addHeader("session_id", id);
    Future<io.vertx.core.eventbus.Message<Object>> answer;
    try {
      answer = eb.request(r.address(), r.message(), opts);
    } catch (IllegalArgumentException e) {
      reply(r, ErrorCode.BAD_REQUEST, "message cannot be sent on the event bus: " + e.getMessage());
      return;
    }
    answer.onComplete(ar -> {
      if (ar.succeeded()) {
        send(ServerFrames.reply(r.id(), ar.result().body()));
      } else if (ar.cause() instanceof ReplyException re && re.failureType() == ReplyFailure.TIMEOUT) {
        reply(r, ErrorCode.TIMEOUT, "no reply from " + r.address() + " within " + config.rpc().timeout().toMillis() + " ms");
      } else if (ar.cause() instanceof ReplyException re && re.failureType() == ReplyFailure.NO_HANDLERS) {
        reply(r, ErrorCode.TIMEOUT, "no service is listening on " + r.address());
      } else {
        reply(r, ErrorCode.INTERNAL, "service failed: " + ar.cause().getMessage());
      }
    });
  }

  private void history(Frame.History h) {
    ProtocolError err = svc.rules().checkHistory(principal, h.channel());
    if (err != null) {
      send(ServerFrames.error(err.withId(h.id())));
      return;
    }
    reply(h, ErrorCode.INTERNAL, "history is not available on this node");
  }

  private void reply(Frame f, ErrorCode code, String message) {
    send(ServerFrames.error(f.id(), code, message));
  }

  private void replyFailure(Frame f, Throwable cause) {
    ErrorCode code = ErrorCode.INTERNAL;
    if (cause instanceof ReplyException re && re.failureType() == ReplyFailure.RECIPIENT_FAILURE) {
      code = switch (re.failureCode()) {
        case 400 -> ErrorCode.BAD_REQUEST;
        case 403 -> ErrorCode.FORBIDDEN;
        case 413 -> ErrorCode.TOO_LARGE;
        default -> ErrorCode.INTERNAL;
      };
    }
    reply(f, code, cause.getMessage());
  }

  // ---- outbound ---------------------------------------------------------------------------------

  /**
   * Writes a delivery. A session whose write queue is over its bound is a slow consumer: it is closed
   * with 4009 and the message reported undelivered, so it never holds back other sessions or the loop.
   *
   * @return whether the frame was written
   */
  boolean write(String frame, Publication pub) {
    if (closed) {
      return false;
    }
    if (ws.writeQueueFull()) {
      svc.node().metrics().dropped("slow_consumer");
      Undelivered.report(svc.node().vertx(), pub, "slow_consumer", userId(), id);
      close(CloseCode.SLOW_CONSUMER, "slow consumer: outbound queue over "
          + config.session().outboundQueueBytes() + " bytes");
      return false;
    }
    ws.writeTextMessage(frame);
    return true;
  }

  /** Writes a protocol answer (ack, error, auth_success …) under the same slow-consumer rule. */
  void send(String frame) {
    if (closed) {
      return;
    }
    if (ws.writeQueueFull()) {
      svc.node().metrics().dropped("slow_consumer");
      close(CloseCode.SLOW_CONSUMER, "slow consumer: outbound queue full");
      return;
    }
    ws.writeTextMessage(frame);
  }

  public void close(CloseCode code, String reason) {
    if (closed) {
      return;
    }
    closed = true;
    closedWith = code;
    String r = reason.length() > 120 ? reason.substring(0, 120) : reason;
    ws.close(code.code(), r);
  }

  private void onClosed() {
    closed = true;
    svc.hub().remove(this);
    eb.send(Addresses.LIMITER_RELEASE, new JsonObject().put("ip", ip), LOCAL);
    Short peer = ws.closeStatusCode();
    int code = closedWith != null ? closedWith.code() : peer != null ? peer : 1006;
    svc.node().metrics().disconnect(code);
    log.info("event=disconnect session={} user={} ip={} code={}", id, userId(), ip, code);
  }

  /** Called about once a second by the gateway's single timer: heartbeats, idle, auth and token expiry. */
  void tick(long now) {
    if (closed) {
      return;
    }
    if (principal == null && !authInFlight && now > authDeadline) {
      svc.node().metrics().connect("auth_timeout");
      close(CloseCode.POLICY_VIOLATION, "auth timeout");
      return;
    }
    if (now - lastSeen > config.session().idleTimeout().toMillis()) {
      close(CloseCode.GOING_AWAY, "idle timeout");
      return;
    }
    if (principal != null && principal.expiresAt() != null
        && now > principal.expiresAt() * 1000 + config.auth().expiryGrace().toMillis()) {
      close(CloseCode.TOKEN_EXPIRED, "token expired");
      return;
    }
    if (now - lastPing >= config.session().heartbeat().toMillis()) {
      lastPing = now;
      ws.writePing(Buffer.buffer());
    }
  }
}
