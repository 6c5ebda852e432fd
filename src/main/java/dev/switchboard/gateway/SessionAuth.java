package dev.switchboard.gateway;

import dev.switchboard.auth.Principal;
import dev.switchboard.bus.Addresses;
import dev.switchboard.config.SwitchboardConfig;
import dev.switchboard.metrics.AdminAccess;
import dev.switchboard.protocol.Channel;
import dev.switchboard.protocol.CloseCode;
import dev.switchboard.protocol.ErrorCode;
import dev.switchboard.protocol.Frame;
import dev.switchboard.protocol.ProtocolError;
import dev.switchboard.protocol.ServerFrames;
import io.vertx.core.Future;
import io.vertx.core.eventbus.EventBus;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Who one session is: its first authentication (a token, or an operator's API key), its renewals, its
 * admission under the per-user connection limit, and the automatic channels its token puts it on (SPEC §3:
 * user:&lt;self&gt;, broadcast and the token's segments). Runs on its session's event loop.
 */
final class SessionAuth {

  /** The session's own logger: operators and tests find connect, renew and auth_failure lines under it. */
  private static final Logger log = LoggerFactory.getLogger(Session.class);

  private final Session session;
  private final SessionServices svc;
  private final long deadline;
  private Principal principal;
  /** True from the moment a first authentication starts until it is admitted or refused. */
  private boolean inFlight;
  /** The user whose per-user slot this session holds in the limiter; released exactly once. */
  private String admittedUser;
  /** How many of the session's subscriptions are automatic (user:, broadcast, segments); they cannot be left. */
  private int automaticChannels;

  SessionAuth(Session session, SessionServices svc, long nowMillis) {
    this.session = session;
    this.svc = svc;
    this.deadline = nowMillis + config().auth().authTimeout().toMillis();
  }

  private SwitchboardConfig config() {
    return svc.node().config();
  }

  private EventBus eb() {
    return svc.node().vertx().eventBus();
  }

  /** Null until the first authentication is admitted. */
  Principal principal() {
    return principal;
  }

  String userId() {
    return principal == null ? null : principal.userId();
  }

  /** A first authentication is under way: requests that arrive meanwhile wait for its outcome. */
  boolean firstInFlight() {
    return principal == null && inFlight;
  }

  /** No authentication was even started before the auth timeout. */
  boolean timedOut(long now) {
    return principal == null && !inFlight && now > deadline;
  }

  /** The token is past its exp; only a renewal, a ping or an unsubscribe is still taken. */
  boolean tokenExpired() {
    return principal.expiresAt() != null && System.currentTimeMillis() >= principal.expiresAt() * 1000;
  }

  /** The token is past its exp and the grace for renewing it. */
  boolean expiredPastGrace(long now) {
    return principal != null && principal.expiresAt() != null
        && now > principal.expiresAt() * 1000 + config().auth().expiryGrace().toMillis();
  }

  void authenticate(Frame.Auth a) {
    if (inFlight) {
      session.reply(a, ErrorCode.BAD_REQUEST, "authentication already in progress");
      return;
    }
    if (a.token().isEmpty()) {
      log.info("event=auth_failure session={} ip={} reason=\"token is empty\"", session.id(), session.ip());
      refused(a, "token is empty: put a JWT in the auth frame's token");
      return;
    }
    inFlight = true;
    eb().<JsonObject>request(Addresses.AUTH_VERIFY, a.token(), Session.LOCAL).onComplete(session.guarded(a, ar -> {
      if (session.isClosed()) {
        return;
      }
      if (ar.failed()) {
        inFlight = false;
        String reason = ar.cause().getMessage();
        log.info("event=auth_failure session={} ip={} reason=\"{}\"", session.id(), session.ip(), reason);
        refused(a, reason);
        return;
      }
      Principal p = Principal.fromJson(ar.result().body());
      if (principal != null) {
        inFlight = false;
        renew(a, p);
      } else {
        admit(a, p);
      }
    }));
  }

  /** An operator's dashboard session: the API key, checked here, buys read access to system channels. */
  void adminAuth(Frame.AdminAuth a) {
    Principal p = AdminAccess.verify(a.apiKey(), config().api().keys());
    if (p == null) {
      log.info("event=auth_failure session={} ip={} reason=\"invalid api key\" admin=true", session.id(), session.ip());
      refused(a, "invalid API key");
      return;
    }
    if (principal != null && !AdminAccess.isAdmin(principal)) {
      session.reply(a, ErrorCode.FORBIDDEN, "a user session cannot become an admin session; open a new connection");
      return;
    }
    if (principal == null) {
      svc.node().metrics().connect("ok");
      log.info("event=connect session={} user={} ip={} admin=true", session.id(), p.userId(), session.ip());
    }
    principal = p;
    sendAuthSuccess(a.id());
  }

  /** Answers a refused token or key; a session not admitted yet is closed with 1008, a renewal only fails. */
  private void refused(Frame a, String reason) {
    session.reply(a, ErrorCode.UNAUTHORIZED, reason);
    if (principal == null) {
      svc.node().metrics().connect("unauthorized");
      session.close(CloseCode.POLICY_VIOLATION, "auth failure");
    }
  }

  private void renew(Frame.Auth a, Principal p) {
    if (!p.userId().equals(principal.userId())) {
      session.reply(a, ErrorCode.FORBIDDEN, "a session renews with a token for the same user (" + principal.userId() + ")");
      return;
    }
    // Segment channels follow the token's claims (SPEC §3): a renewal that changes a claim moves the session
    // out of the old segment and into the new one, as a new connection with that token would be.
    Set<String> was = segmentChannels(principal);
    Set<String> now = segmentChannels(p);
    principal = p;
    log.info("event=renew session={} user={}", session.id(), p.userId());
    for (String ch : was) {
      if (!now.contains(ch) && session.subscriptions().contains(ch)) {
        svc.hub().unsubscribe(session, ch);
        automaticChannels--;
      }
    }
    now.removeAll(was);
    dropWhatTheTokenNoLongerAllows();
    subscribeAll(new ArrayList<>(now), requested(a, p, List.of())).onComplete(session.guarded(a, done -> {
      if (!session.isClosed()) {
        sendAuthSuccess(a.id());
      }
    }));
  }

  /**
   * A renewed token may allow less (a room taken off its {@code rooms} claim): the session leaves what the
   * new token would not let it subscribe to, as a new connection with that token could not have joined it,
   * and is told, one error per channel (no id: the renewal's answer is its auth_success).
   */
  private void dropWhatTheTokenNoLongerAllows() {
    for (String ch : new ArrayList<>(session.subscriptions())) {
      if (isAutomatic(ch)) {
        continue;
      }
      ProtocolError refused = svc.rules().checkSubscribe(principal, Channel.of(ch));
      if (refused != null) {
        session.leave(ch);
        session.send(ServerFrames.channelError(ErrorCode.FORBIDDEN, ch, "unsubscribed from " + ch
            + ": the renewed token does not allow it (" + refused.message() + ")"));
      }
    }
  }

  private void admit(Frame.Auth a, Principal p) {
    JsonObject who = new JsonObject().put("user", p.userId()).put("ip", session.ip());
    eb().request(Addresses.LIMITER_ADMIT_USER, who, Session.LOCAL).onComplete(session.guarded(a, ar -> {
      if (ar.succeeded()) {
        admittedUser = p.userId();
      }
      if (session.isClosed()) {
        releaseUser();
        return;
      }
      if (ar.failed()) {
        inFlight = false;
        svc.node().metrics().connect("too_many_connections");
        session.close(CloseCode.TOO_MANY_CONNECTIONS, ar.cause().getMessage());
        return;
      }
      principal = p;
      svc.hub().authenticated(session);
      svc.node().metrics().connect("ok");
      log.info("event=connect session={} user={} ip={}", session.id(), p.userId(), session.ip());
      List<String> automatic = new ArrayList<>();
      automatic.add(Channel.user(p.userId()).toString());
      automatic.add(Channel.BROADCAST);
      automatic.addAll(segmentChannels(p));
      subscribeAll(automatic, requested(a, p, automatic)).onComplete(session.guarded(a, done -> {
        inFlight = false;
        if (!session.isClosed()) {
          sendAuthSuccess(a.id());
          session.replayPending();
        }
      }));
    }));
  }

  /**
   * The channels the auth frame asked for, beyond the automatic ones. A refused channel gets its own error
   * frame without the request id (the auth itself succeeds; its answer is the auth_success) but naming the
   * channel.
   */
  private List<String> requested(Frame.Auth a, Principal p, List<String> automatic) {
    List<String> wanted = new ArrayList<>();
    for (String raw : a.channels()) {
      Channel.Result r = Channel.parse(raw);
      ProtocolError err = r.ok() ? svc.rules().checkSubscribe(p, r.channel())
          : ProtocolError.badRequest("bad channel name: " + r.error(), null);
      if (err != null) {
        session.send(ServerFrames.channelError(err.code(), raw, raw + ": " + err.message()));
      } else if (!automatic.contains(r.channel().toString()) && !wanted.contains(r.channel().toString())) {
        wanted.add(r.channel().toString());
      }
    }
    return wanted;
  }

  /**
   * The automatic channels always (SPEC §3: every session is on its user:, broadcast and segment channels),
   * then the requested ones up to the subscription limit, each one past it refused with its own error.
   */
  private Future<?> subscribeAll(List<String> automatic, List<String> requested) {
    Set<String> subscriptions = session.subscriptions();
    List<Future<Void>> subs = new ArrayList<>();
    for (String ch : automatic) {
      if (!subscriptions.contains(ch)) {
        automaticChannels++;
        subs.add(svc.hub().subscribe(session, ch));
      }
    }
    for (String ch : requested) {
      if (subscriptions.contains(ch)) {
        continue;
      }
      if (atSubscriptionLimit()) {
        session.send(ServerFrames.channelError(ErrorCode.TOO_LARGE, ch, ch + ": subscription limit of "
            + config().session().maxSubscriptions() + " reached"));
        continue;
      }
      subs.add(svc.hub().subscribe(session, ch));
    }
    return Future.join(subs);
  }

  /** max_subscriptions counts what the client chose, not the channels every session is on automatically. */
  boolean atSubscriptionLimit() {
    return session.subscriptions().size() - automaticChannels >= config().session().maxSubscriptions();
  }

  private void sendAuthSuccess(Object requestId) {
    Long expiresIn = principal.expiresAt() == null ? null
        : Math.max(0, principal.expiresAt() - System.currentTimeMillis() / 1000);
    session.send(ServerFrames.authSuccess(requestId, principal.userId(), session.id(), svc.node().name(),
        new LinkedHashSet<>(session.subscriptions()), (int) config().session().heartbeat().toSeconds(), expiresIn));
  }

  private static Set<String> segmentChannels(Principal p) {
    Set<String> out = new LinkedHashSet<>();
    p.segments().forEach((claim, values) -> values.forEach(value -> out.add(Channel.segment(claim, value).toString())));
    return out;
  }

  /** user:&lt;self&gt;, broadcast and the token's segments: what every session of this principal is in. */
  boolean isAutomatic(String ch) {
    return ch.equals(Channel.BROADCAST) || ch.equals(Channel.user(principal.userId()).toString())
        || segmentChannels(principal).contains(ch);
  }

  /** Gives the per-user slot back to the limiter, once. */
  void releaseUser() {
    if (admittedUser != null) {
      eb().send(Addresses.LIMITER_RELEASE, new JsonObject().put("user", admittedUser), Session.LOCAL);
      admittedUser = null;
    }
  }
}
