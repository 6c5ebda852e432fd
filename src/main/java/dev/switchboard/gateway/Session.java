package dev.switchboard.gateway;

import dev.switchboard.auth.Principal;
import dev.switchboard.bus.Addresses;
import dev.switchboard.bus.Publication;
import dev.switchboard.config.SwitchboardConfig;
import dev.switchboard.history.HistoryStore;
import dev.switchboard.limiter.InflationLimit;
import dev.switchboard.limiter.TokenBucket;
import dev.switchboard.metrics.AdminAccess;
import dev.switchboard.protocol.Channel;
import dev.switchboard.protocol.CloseCode;
import dev.switchboard.protocol.ErrorCode;
import dev.switchboard.protocol.Frame;
import dev.switchboard.protocol.FrameDecoder;
import dev.switchboard.protocol.ProtocolError;
import dev.switchboard.protocol.ServerFrames;
import dev.switchboard.router.Undelivered;
import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http.websocketx.CorruptedWebSocketFrameException;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.EventBus;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.eventbus.ReplyFailure;
import io.vertx.core.http.ServerWebSocket;
import io.vertx.core.http.WebSocketFrame;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
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
  /** Requests a client may send before its authentication has completed; they are answered after it. */
  private static final int MAX_PENDING_WHILE_AUTH = 32;
  /** RFC 6455 §5.5: a close frame's payload is at most 125 bytes, two of them the code. */
  private static final int MAX_CLOSE_REASON_BYTES = 123;
  /** RFC 6455 §7.1.5: the code of a close frame that carried none; never sent, only counted and logged. */
  private static final int NO_STATUS_CODE = 1005;

  private final ServerWebSocket ws;
  private RawSocket raw;
  /** {@code raw}'s io_uring gate, held here so a delivery to an idle socket reads one object fewer. */
  private SendGate idleGate;
  private boolean rawChecked;
  /** Frames sit in the socket's Netty buffer until the hub's next flush pass. */
  private boolean flushQueued;
  private final SessionServices svc;
  private final SwitchboardConfig config;
  private final EventBus eb;
  private final String id;
  private final String ip;
  private final Set<String> subscriptions = new HashSet<>();
  /** How many of {@link #subscriptions} are automatic (user:, broadcast, segments); they cannot be left. */
  private int automaticChannels;
  private final TokenBucket bucket;
  private final long authDeadline;
  private Principal principal;
  /** Channels being recovered (subscribe with since) → live deliveries held until the replay is done. */
  private Map<String, List<Publication>> recovering;
  /**
   * Channel → the highest offset replayed by a recovery. A message appended before the replay read it may
   * still be on its way live; it was already sent from history, so live copies at or below this are dropped.
   */
  private Map<String, Frame.Since> replayedUpTo;
  /** True from the moment a first authentication starts until it is admitted or refused. */
  private boolean authInFlight;
  /** Text frames that arrived while the first authentication was in flight, replayed once it succeeds. */
  private ArrayDeque<String> pendingWhileAuth;
  /** Bytes of the fragmented message being received, for the max_message_size rule. */
  private long messageBytes;
  private long lastSeen;
  private long lastPing;
  private long rateWindowStart;
  private int rateRejects;
  private boolean closed;
  /** The close code this side sent; 0 while none. */
  private short sentCode;
  /** The peer's close frame carried no status code, which Vert.x's {@code closeStatusCode()} reports as 1000. */
  private boolean peerSentNoCode;
  /** When a session this side closed has had time enough to let its close frame out (epoch ms). */
  private long closeDeadline;
  /** The user whose per-user slot this session holds in the limiter; released exactly once. */
  private String admittedUser;

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
      svc.node().metrics().messageIn("binary");
      if (closed) {
        return;
      }
      // Under the same budget as text: each refusal is a frame to write, so a binary flood must end in 4008 too.
      if (!bucket.tryTake(System.nanoTime())) {
        rateLimited(null);
        return;
      }
      send(ServerFrames.error(null, ErrorCode.BAD_REQUEST, "binary frames are not supported; send JSON text frames"));
    });
    // Sees every frame, pings and pongs included: any of them proves the peer is alive, and the size of
    // a message is checked here because Vert.x only drops an oversized message without closing.
    ws.frameHandler(this::onFrame);
    ws.exceptionHandler(this::onSocketError);
    ws.closeHandler(v -> onClosed());
    if (handshakeToken != null) {
      // auth_success is the first frame: not before the compression codec is in place, or it goes out raw.
      InflationLimit.whenUpgradeWritten(ws).onComplete(v -> {
        if (!closed && !ws.isClosed()) {
          authenticate(new Frame.Auth(null, handshakeToken, List.of()));
        }
      });
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

  private void onFrame(WebSocketFrame f) {
    touch();
    if (f.isClose()) {
      // Vert.x hands the close frame's payload over as it came: empty means no status code at all.
      peerSentNoCode = f.binaryData().length() == 0;
      peerClosing();
      return;
    }
    if (closed || !(f.isText() || f.isBinary() || f.isContinuation())) {
      return;
    }
    // Payload sizes are after permessage-deflate, so a small compressed frame cannot smuggle a big message.
    long total = (f.isContinuation() ? messageBytes : 0) + f.binaryData().length();
    messageBytes = f.isFinal() ? 0 : total;
    if (total > config.session().maxMessageSize()) {
      tooBig();
    }
  }

  private void tooBig() {
    svc.node().metrics().dropped("too_large");
    close(CloseCode.MESSAGE_TOO_BIG, "message larger than max_message_size (" + config.session().maxMessageSize() + " bytes)");
  }

  private void onSocketError(Throwable e) {
    if (e instanceof CorruptedWebSocketFrameException c && !closed) {
      // Netty refused a frame (over the frame size limit, or malformed). The connection is being torn
      // down by Vert.x; send the close code the client needs before it goes.
      log.info("event=bad_frame session={} ip={} reason=\"{}\"", id, ip, e.getMessage());
      int status = c.closeStatus() == null ? 1002 : c.closeStatus().code();
      if (status == CloseCode.MESSAGE_TOO_BIG.code()) {
        tooBig();
      } else {
        // RFC 6455 codes Netty chose: 1002 protocol error, 1007 text that is not UTF-8.
        closeWith((short) status, "protocol error: " + e.getMessage());
      }
      return;
    }
    log.debug("event=socket_error session={} reason=\"{}\"", id, e.getMessage());
  }

  private void onText(String text) {
    if (closed) {
      return;
    }
    if (text.length() > config.session().maxMessageSize()) {
      // Characters never outnumber UTF-8 bytes: this is certainly too big (frames are checked in bytes).
      tooBig();
      return;
    }
    if (!bucket.tryTake(System.nanoTime())) {
      rateLimited(text);
      return;
    }
    if (principal == null && authInFlight) {
      // A client may send its requests right behind the auth frame (or right after an upgrade that
      // carried the token); answer them once it is known who they are from.
      if (pendingWhileAuth == null) {
        pendingWhileAuth = new ArrayDeque<>();
      }
      if (pendingWhileAuth.size() >= MAX_PENDING_WHILE_AUTH) {
        send(ServerFrames.error(FrameDecoder.idOf(text), ErrorCode.RATE_LIMITED, "more than " + MAX_PENDING_WHILE_AUTH
            + " requests sent before authentication completed; message dropped"));
        return;
      }
      pendingWhileAuth.add(text);
      return;
    }
    handle(text);
  }

  private void handle(String text) {
    FrameDecoder.Decoded d = FrameDecoder.decode(text);
    if (d.error() != null) {
      svc.node().metrics().messageIn("invalid");
      send(ServerFrames.error(d.error()));
      return;
    }
    Frame f = d.frame();
    svc.node().metrics().messageIn(typeOf(f));
    if (principal == null && !(f instanceof Frame.Auth) && !(f instanceof Frame.AdminAuth) && !(f instanceof Frame.Ping)) {
      reply(f, ErrorCode.UNAUTHORIZED, "authenticate first: send {\"type\":\"auth\",\"token\":\"<jwt>\"}");
      return;
    }
    if (principal != null && tokenExpired() && !(f instanceof Frame.Auth || f instanceof Frame.Ping
        || f instanceof Frame.Unsubscribe)) {
      // The grace is for renewing: deliveries go on meanwhile, but the expired token authorizes nothing new.
      reply(f, ErrorCode.UNAUTHORIZED, "token expired: renew it with {\"type\":\"auth\",\"token\":\"<jwt>\"} within "
          + config.auth().expiryGrace().toSeconds() + " s of its exp, or the session closes with 4010");
      return;
    }
    if (AdminAccess.isAdmin(principal) && !AdminAccess.allows(f)) {
      reply(f, ErrorCode.FORBIDDEN, "admin sessions may only subscribe to system channels");
      return;
    }
    if (f instanceof Frame.Auth a) {
      authenticate(a);
    } else if (f instanceof Frame.AdminAuth a) {
      adminAuth(a);
    } else if (f instanceof Frame.Subscribe s) {
      subscribe(s);
    } else if (f instanceof Frame.Unsubscribe u) {
      unsubscribe(u);
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

  private void replayPending() {
    ArrayDeque<String> pending = pendingWhileAuth;
    pendingWhileAuth = null;
    if (pending != null) {
      for (String text = pending.poll(); text != null && !closed; text = pending.poll()) {
        handle(text);
      }
    }
  }

  private static String typeOf(Frame f) {
    String n = f.getClass().getSimpleName();
    return n.equals("Publish") ? "broadcast" : n.equals("AdminAuth") ? "auth" : n.toLowerCase();
  }

  /** @param text the dropped text frame, whose id the refusal echoes; null for a binary frame, which has none */
  private void rateLimited(String text) {
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
    // Parsing a dropped frame for its id costs little next to answering it, and lets the client match
    // the refusal to its request; persistent abuse is closed above before it can make this expensive.
    send(ServerFrames.error(text == null ? null : FrameDecoder.idOf(text), ErrorCode.RATE_LIMITED, "over " + config.limits().messagesPerSecond()
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
      if (closed) {
        return;
      }
      if (ar.failed()) {
        authInFlight = false;
        String reason = ar.cause().getMessage();
        log.info("event=auth_failure session={} ip={} reason=\"{}\"", id, ip, reason);
        reply(a, ErrorCode.UNAUTHORIZED, reason);
        if (principal == null) {
          pendingWhileAuth = null;
          svc.node().metrics().connect("unauthorized");
          close(CloseCode.POLICY_VIOLATION, "auth failure");
        }
        return;
      }
      Principal p = Principal.fromJson(ar.result().body());
      if (principal != null) {
        authInFlight = false;
        renew(a, p);
      } else {
        admit(a, p);
      }
    });
  }

  /** An operator's dashboard session: the API key, checked here, buys read access to system channels. */
  private void adminAuth(Frame.AdminAuth a) {
    Principal p = AdminAccess.verify(a.apiKey(), config.api().keys());
    if (p == null) {
      log.info("event=auth_failure session={} ip={} reason=\"invalid api key\" admin=true", id, ip);
      reply(a, ErrorCode.UNAUTHORIZED, "invalid API key");
      if (principal == null) {
        svc.node().metrics().connect("unauthorized");
        close(CloseCode.POLICY_VIOLATION, "auth failure");
      }
      return;
    }
    if (principal != null && !AdminAccess.isAdmin(principal)) {
      reply(a, ErrorCode.FORBIDDEN, "a user session cannot become an admin session; open a new connection");
      return;
    }
    if (principal == null) {
      svc.node().metrics().connect("ok");
      log.info("event=connect session={} user={} ip={} admin=true", id, p.userId(), ip);
    }
    principal = p;
    sendAuthSuccess(a.id());
  }

  private boolean tokenExpired() {
    return principal.expiresAt() != null && System.currentTimeMillis() >= principal.expiresAt() * 1000;
  }

  private void renew(Frame.Auth a, Principal p) {
    if (!p.userId().equals(principal.userId())) {
      reply(a, ErrorCode.FORBIDDEN, "a session renews with a token for the same user (" + principal.userId() + ")");
      return;
    }
    // Segment channels follow the token's claims (SPEC §3): a renewal that changes a claim moves the session
    // out of the old segment and into the new one, as a new connection with that token would be.
    Set<String> was = segmentChannels(principal);
    Set<String> now = segmentChannels(p);
    principal = p;
    log.info("event=renew session={} user={}", id, p.userId());
    for (String ch : was) {
      if (!now.contains(ch) && subscriptions.contains(ch)) {
        svc.hub().unsubscribe(this, ch);
        automaticChannels--;
      }
    }
    now.removeAll(was);
    dropWhatTheTokenNoLongerAllows();
    subscribeAll(new ArrayList<>(now), requested(a, p, List.of())).onComplete(done -> {
      if (!closed) {
        sendAuthSuccess(a.id());
      }
    });
  }

  /**
   * A renewed token may allow less (a room taken off its {@code rooms} claim): the session leaves what the
   * new token would not let it subscribe to, as a new connection with that token could not have joined it,
   * and is told, one error per channel (no id: the renewal's answer is its auth_success).
   */
  private void dropWhatTheTokenNoLongerAllows() {
    for (String ch : new ArrayList<>(subscriptions)) {
      if (isAutomatic(ch)) {
        continue;
      }
      ProtocolError refused = svc.rules().checkSubscribe(principal, Channel.of(ch));
      if (refused != null) {
        svc.hub().unsubscribe(this, ch);
        if (replayedUpTo != null) {
          replayedUpTo.remove(ch);
        }
        send(ServerFrames.channelError(ErrorCode.FORBIDDEN, ch, "unsubscribed from " + ch
            + ": the renewed token does not allow it (" + refused.message() + ")"));
      }
    }
    updateDirect();
  }

  private void admit(Frame.Auth a, Principal p) {
    eb.request(Addresses.LIMITER_ADMIT_USER, new JsonObject().put("user", p.userId()).put("ip", ip), LOCAL).onComplete(ar -> {
      if (ar.succeeded()) {
        admittedUser = p.userId();
      }
      if (closed) {
        releaseUser();
        return;
      }
      if (ar.failed()) {
        authInFlight = false;
        pendingWhileAuth = null;
        svc.node().metrics().connect("too_many_connections");
        close(CloseCode.TOO_MANY_CONNECTIONS, ar.cause().getMessage());
        return;
      }
      principal = p;
      svc.hub().authenticated(this);
      svc.node().metrics().connect("ok");
      log.info("event=connect session={} user={} ip={}", id, p.userId(), ip);
      List<String> automatic = new ArrayList<>();
      automatic.add(Channel.user(p.userId()).toString());
      automatic.add(Channel.BROADCAST);
      automatic.addAll(segmentChannels(p));
      subscribeAll(automatic, requested(a, p, automatic)).onComplete(done -> {
        authInFlight = false;
        if (!closed) {
          sendAuthSuccess(a.id());
          replayPending();
        }
      });
    });
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
        send(ServerFrames.channelError(err.code(), raw, raw + ": " + err.message()));
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
    List<Future<Void>> subs = new ArrayList<>();
    for (String ch : automatic) {
      if (!subscriptions.contains(ch)) {
        automaticChannels++;
        subs.add(svc.hub().subscribe(this, ch));
      }
    }
    for (String ch : requested) {
      if (subscriptions.contains(ch)) {
        continue;
      }
      if (atSubscriptionLimit()) {
        send(ServerFrames.channelError(ErrorCode.TOO_LARGE, ch, ch + ": subscription limit of "
            + config.session().maxSubscriptions() + " reached"));
        continue;
      }
      subs.add(svc.hub().subscribe(this, ch));
    }
    return Future.join(subs);
  }

  /** max_subscriptions counts what the client chose, not the channels every session is on automatically. */
  private boolean atSubscriptionLimit() {
    return subscriptions.size() - automaticChannels >= config.session().maxSubscriptions();
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
    if (!subscriptions.contains(ch) && atSubscriptionLimit()) {
      reply(s, ErrorCode.TOO_LARGE, "subscription limit of " + config.session().maxSubscriptions() + " reached");
      return;
    }
    boolean recover = s.since() != null && svc.rules().keepsHistory(s.channel());
    if (recover) {
      // Hold live deliveries from the moment the subscription can see them until the missed ones are out.
      if (recovering == null) {
        recovering = new HashMap<>();
      }
      recovering.putIfAbsent(ch, new ArrayList<>());
      updateDirect();
    }
    // Also when already subscribed: a repeated subscribe sent before the first was acked must not be
    // acked before the subscription is live.
    svc.hub().subscribe(this, ch).onComplete(ar -> {
      if (ar.failed()) {
        if (recovering != null) {
          recovering.remove(ch);
          updateDirect();
        }
        reply(s, ErrorCode.INTERNAL, "subscription failed: " + ar.cause().getMessage());
      } else if (recover) {
        recover(s, ch);
      } else if (s.since() != null) {
        // Nothing is kept here to recover from: say so, so the client resyncs rather than trusting its gap-free state.
        send(ServerFrames.ack(s.id(), new JsonObject().put("recovered", false)));
      } else if (svc.rules().keepsHistory(s.channel())) {
        ackWithPosition(s, ch);
      } else {
        send(ServerFrames.ack(s.id()));
      }
    });
  }

  /**
   * The ack of a plain subscribe on a channel that keeps history carries the channel's position, read after the
   * subscription went live: a client that has not seen a message yet still has a {@code since} to resume from
   * after a reconnect. Read after the subscription went live, it misses nothing: what is above it arrives live
   * (possibly before the ack, so a client keeps the higher of the two), what is at or below it was published
   * before. If the position cannot be read the ack goes without it, as on a channel without history.
   */
  private void ackWithPosition(Frame.Subscribe s, String ch) {
    svc.node().history().read(ch, -1, 0).onComplete(ar -> {
      if (closed) {
        return;
      }
      if (ar.failed()) {
        log.warn("event=history_position_failed channel={} reason=\"{}\"", ch, ar.cause().toString());
        send(ServerFrames.ack(s.id()));
        return;
      }
      send(ServerFrames.ack(s.id(), new JsonObject().put("offset", ar.result().offset()).put("epoch", ar.result().epoch())));
    });
  }

  /**
   * Sends what the client missed after {@code since}, then the live deliveries held meanwhile (skipping
   * those already sent from history), then the ack: no gap and no duplicate at the seam. When the
   * position is in another epoch or already trimmed, nothing is replayed and the ack says
   * {@code recovered:false} so the client resyncs from its own source of truth.
   */
  private void recover(Frame.Subscribe s, String ch) {
    Frame.Since since = s.since();
    int pageSize = Math.max(1, Math.min(1000, svc.rules().rules(s.channel()).historySize()));
    svc.node().history().read(ch, since.offset(), pageSize).onComplete(first -> {
      if (first.failed()) {
        finishRecovery(s, ch, false, since.offset(), null);
        return;
      }
      HistoryStore.Page page = first.result();
      if (!page.covers(since.offset(), since.epoch())) {
        finishRecovery(s, ch, false, since.offset(), page);
        return;
      }
      replay(s, ch, page, since.offset(), page.offset(), pageSize);
    });
  }

  private void replay(Frame.Subscribe s, String ch, HistoryStore.Page page, long last, long target, int pageSize) {
    if (closed) {
      return;
    }
    long sent = last;
    for (Publication p : page.publications()) {
      if (p.offset() > sent) {
        writeNow(ServerFrames.message(p), p);
        sent = p.offset();
      }
    }
    if (sent >= target || page.publications().isEmpty()) {
      finishRecovery(s, ch, sent >= target, sent, page);
      return;
    }
    long from = sent;
    svc.node().history().read(ch, from, pageSize).onComplete(next -> {
      if (next.failed()) {
        finishRecovery(s, ch, false, from, page);
      } else {
        replay(s, ch, next.result(), from, target, pageSize);
      }
    });
  }

  private void finishRecovery(Frame.Subscribe s, String ch, boolean recovered, long sent, HistoryStore.Page page) {
    List<Publication> held = recovering == null ? null : recovering.remove(ch);
    if (closed) {
      return;
    }
    if (held != null) {
      // Held while the replay ran, in arrival order: publishers on two nodes can overtake each other (46 before
      // 42). Everything sent before the ack goes out in offset order, as SPEC §4 promises for the missed ones.
      held.sort(Comparator.comparingLong(Publication::offset));
      for (Publication p : held) {
        if (!recovered || p.offset() > sent) {
          writeNow(ServerFrames.message(p), p);
        }
      }
    }
    if (recovered && sent > s.since().offset() && page != null) {
      if (replayedUpTo == null) {
        replayedUpTo = new HashMap<>();
      }
      replayedUpTo.put(ch, new Frame.Since(sent, page.epoch()));
    }
    updateDirect();
    JsonObject extra = new JsonObject().put("recovered", recovered);
    if (page != null) {
      extra.put("offset", page.offset()).put("epoch", page.epoch());
    }
    send(ServerFrames.ack(s.id(), extra));
  }

  private void unsubscribe(Frame.Unsubscribe u) {
    String ch = u.channel().toString();
    if (isAutomatic(ch)) {
      reply(u, ErrorCode.FORBIDDEN, ch + " is subscribed automatically for the whole session");
      return;
    }
    svc.hub().unsubscribe(this, ch);
    if (replayedUpTo != null) {
      replayedUpTo.remove(ch);
      updateDirect();
    }
    send(ServerFrames.ack(u.id()));
  }

  private static Set<String> segmentChannels(Principal p) {
    Set<String> out = new LinkedHashSet<>();
    p.segments().forEach((claim, value) -> out.add(Channel.segment(claim, value).toString()));
    return out;
  }

  /** user:&lt;self&gt;, broadcast and the token's segments: what every session of this principal is in. */
  private boolean isAutomatic(String ch) {
    return ch.equals(Channel.BROADCAST) || ch.equals(Channel.user(principal.userId()).toString())
        || segmentChannels(principal).contains(ch);
  }

  private void publish(Frame.Publish p) {
    ProtocolError err = svc.rules().checkPublish(principal, p.channel());
    if (err != null) {
      send(ServerFrames.error(err.withId(p.id())));
      return;
    }
    route(p, p.channel(), p.message());
  }

  private void sendDirect(Frame.Send s) {
    ProtocolError err = svc.rules().checkSend(principal, s.to());
    if (err != null) {
      send(ServerFrames.error(err.withId(s.id())));
      return;
    }
    route(s, Channel.user(s.to()), s.message());
  }

  /**
   * A client's publish, already checked against the channel rules. On channels without history the
   * router's own fan-out ({@link dev.switchboard.router.Fanout}) runs right here on the session's loop and the
   * ack follows at once: it means what it always meant (accepted and handed to the clustered event bus),
   * without a request/reply hop to the router verticle. Channels with history go through the router
   * verticle, whose per-channel append chain hands out the offsets in order.
   */
  private void route(Frame f, Channel channel, Object message) {
    if (!svc.rules().keepsHistory(channel)) {
      Publication pub = Publication.now(channel.toString(), message, principal.userId());
      svc.fanout().publish(pub, channel);
      svc.fanout().accepted(pub, true);
      send(ServerFrames.ack(f.id()));
      return;
    }
    JsonObject body = new JsonObject().put("channel", channel.toString()).put("message", message)
        .put("from_user", principal.userId());
    eb.request(Addresses.CLIENT_PUBLISH, body, LOCAL).onComplete(ar -> {
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
    // Switchboard's own addresses (auth, limiter, node control) are never a client's to call, whatever
    // a broad rpc.allowed pattern such as "*" says.
    if (r.address().startsWith("switchboard.") || !svc.rpcAllowed().matches(r.address())) {
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
      } else if (ar.cause() instanceof ReplyException re && re.failureType() == ReplyFailure.RECIPIENT_FAILURE) {
        // The service refused it: its code, read as the router's are (400, 403, 413, 429, …), tells the client why.
        reply(r, ErrorCode.ofStatus(re.failureCode()), "service failed: " + re.getMessage());
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
    int kept = svc.rules().rules(h.channel()).historySize();
    int limit = h.limit() == null ? kept : Math.min(h.limit(), kept);
    String ch = h.channel().toString();
    svc.node().history().read(ch, -1, Math.min(limit, 1000)).onComplete(ar -> {
      if (ar.failed()) {
        reply(h, ErrorCode.INTERNAL, "history read failed: " + ar.cause().getMessage());
        return;
      }
      HistoryStore.Page page = ar.result();
      JsonArray messages = new JsonArray();
      page.publications().forEach(p -> messages.add(ServerFrames.messageJson(p)));
      send(ServerFrames.history(h.id(), ch, messages, page.offset(), page.epoch()));
    });
  }

  private void reply(Frame f, ErrorCode code, String message) {
    send(ServerFrames.error(f.id(), code, message));
  }

  private void replyFailure(Frame f, Throwable cause) {
    ErrorCode code = cause instanceof ReplyException re && re.failureType() == ReplyFailure.RECIPIENT_FAILURE
        ? ErrorCode.ofStatus(re.failureCode()) : ErrorCode.INTERNAL;
    reply(f, code, cause.getMessage());
  }

  // ---- outbound ---------------------------------------------------------------------------------

  /**
   * Writes a delivery. A session whose write queue is over its bound is a slow consumer: it is closed
   * with 4009 and the message reported undelivered, so it never holds back other sessions or the loop.
   *
   * @param wire the whole WebSocket frame (header + payload), built once per publication and shared by
   *     every subscriber; written below the WebSocket encoder without a flush, the hub flushes once per
   *     loop pass. Null when the caller is not on this socket's loop: then {@code frame} is written the
   *     usual way
   * @return whether the frame was written
   */
  boolean write(String frame, ByteBuf wire, Publication pub) {
    if (recovering != null && !recovering.isEmpty()) {
      List<Publication> held = recovering.get(pub.channel());
      if (held != null) {
        held.add(pub);
        return true;
      }
    }
    if (replayedUpTo != null && pub.hasPosition()) {
      Frame.Since floor = replayedUpTo.get(pub.channel());
      if (floor != null && pub.offset() <= floor.offset() && floor.epoch().equals(pub.epoch())) {
        return true;
      }
    }
    RawSocket socket = wire == null ? null : rawSocket();
    return socket != null ? writeRaw(socket, wire, pub) : writeNow(frame, pub);
  }

  private RawSocket rawSocket() {
    // Until the 101 response is written (a loop pass after the accept on io_uring) it is not known yet
    // whether compression was negotiated; deliveries take Vert.x's path meanwhile.
    if (!rawChecked && InflationLimit.upgradeWritten(ws)) {
      rawChecked = true;
      raw = RawSocket.of(ws);
      idleGate = raw == null ? null : raw.gate();
      updateDirect();
    }
    return raw;
  }

  /**
   * The gate a fan-out may hand this session's frames to without calling {@link #write} (null: call it).
   * Only on the socket's loop.
   */
  SendGate directGate() {
    rawSocket();
    return idleGate;
  }

  /**
   * Tells the gate whether {@link #write}'s checks before it would pass every frame straight through: the
   * session is open and no channel is recovering or filtered by a replayed position. Called wherever one
   * of those changes, so a fan-out that skips the session never skips a check that applies.
   */
  private void updateDirect() {
    if (idleGate != null) {
      idleGate.direct(!closed && (recovering == null || recovering.isEmpty())
          && (replayedUpTo == null || replayedUpTo.isEmpty()));
    }
  }

  private boolean writeRaw(RawSocket socket, ByteBuf wire, Publication pub) {
    if (closed) {
      return false;
    }
    // Before ws.isClosed(), whose lock and cold object cost a delivery more than the send's own Java. It adds
    // nothing here: Vert.x answers a peer's close frame and then hands it to onFrame in the same call, which
    // sets closed, and a connection Vert.x closed on its own closes the channel, which the gate checks.
    if (idleGate != null && idleGate.sendIfIdle(wire)) {
      return true;
    }
    if (ws.isClosed()) {
      return false;
    }
    if (!socket.writable()) {
      return slowConsumer(pub);
    }
    if (!flushQueued) {
      // The first frame of a loop pass goes straight out; later ones in the same pass queue behind it and
      // leave in one system call at the hub's flush pass, so a busy loop still coalesces.
      flushQueued = true;
      svc.hub().unflushed(this);
      if (socket.writeDirect(wire)) {
        return true;
      }
    }
    socket.write(wire);
    return true;
  }

  /** Called by the hub's flush pass, once per pass however many frames were written since. */
  void flushRaw() {
    flushQueued = false;
    raw.flush();
  }

  private boolean writeNow(String frame, Publication pub) {
    if (closed || ws.isClosed()) {
      // The peer's close frame can arrive before the close handler runs; writeQueueFull() would throw.
      return false;
    }
    if (ws.writeQueueFull()) {
      return slowConsumer(pub);
    }
    ws.writeTextMessage(frame);
    return true;
  }

  /** Closes with 4009 and reports the delivery that found the outbound queue full; returns false. */
  private boolean slowConsumer(Publication pub) {
    if (cutSlowConsumer("slow consumer: outbound queue over " + config.session().outboundQueueBytes() + " bytes")) {
      Undelivered.report(svc.node().vertx(), pub, Undelivered.SLOW_CONSUMER, userId(), id);
    }
    return false;
  }

  /**
   * Counts the session as a slow consumer and closes it with 4009; true if it did. A peer that reset the
   * connection looks unwritable too, before its close handler has run: that is no slow consumer.
   */
  private boolean cutSlowConsumer(String reason) {
    if (!RawSocket.connected(ws)) {
      return false;
    }
    svc.node().metrics().dropped(Undelivered.SLOW_CONSUMER);
    close(CloseCode.SLOW_CONSUMER, reason);
    return true;
  }

  /** Writes a protocol answer (ack, error, auth_success …) under the same slow-consumer rule. */
  void send(String frame) {
    if (closed || ws.isClosed()) {
      return;
    }
    if (ws.writeQueueFull()) {
      cutSlowConsumer("slow consumer: outbound queue full");
      return;
    }
    ws.writeTextMessage(frame);
  }

  public void close(CloseCode code, String reason) {
    if (closed) {
      return;
    }
    closeWith(code.code(), reason);
  }

  private void closeWith(short code, String reason) {
    if (closed) {
      return;
    }
    closed = true;
    updateDirect();
    sentCode = code;
    pendingWhileAuth = null;
    ws.close(code, truncateUtf8(reason, MAX_CLOSE_REASON_BYTES));
    // No delivery may target a closing session: the close frame is already queued, so anything written
    // after it would be lost without a trace (a 4009 reports the message that tripped it instead).
    leaveUntilClosed();
  }

  /**
   * The peer sent its close frame, and Vert.x has already queued the answer: as in {@link #closeWith}, a frame
   * written now would follow that answer and be lost. Until the socket closed, Vert.x's {@code isClosed()}
   * made deliveries skip the session silently while it still counted as the user's session, so the router
   * reported nothing for a {@code user:} publish in that window; out of the hub, it is reported
   * {@code no_session} when this was the user's last session.
   */
  private void peerClosing() {
    if (closed) {
      return;
    }
    closed = true;
    updateDirect();
    pendingWhileAuth = null;
    leaveUntilClosed();
  }

  /** No longer a delivery target; cut if the socket is still open after the close grace. */
  private void leaveUntilClosed() {
    svc.hub().remove(this);
    closeDeadline = System.currentTimeMillis() + closeGraceMillis();
    svc.hub().closing(this);
  }

  /**
   * Vert.x starts its closing timeout only once the close frame is written, and a peer that stopped reading
   * never lets out a frame queued behind a full outbound queue (the 4009 case), so its socket and its
   * per-IP and per-user slots would stay taken. One heartbeat interval, at most 10 s (Vert.x's own closing
   * timeout), is long enough for any peer that still reads.
   */
  private long closeGraceMillis() {
    return closeGraceMillis(config);
  }

  /** How long a session this side closed may wait for its peer's close frame before its socket is reset. */
  public static long closeGraceMillis(SwitchboardConfig config) {
    return Math.min(config.session().heartbeat().toMillis(), 10_000);
  }

  /** Called by the gateway's timer while a session this side closed waits for its socket to close. */
  void tickClosing(long now) {
    if (now > closeDeadline) {
      cut("close frame not taken", closeGraceMillis());
    }
  }

  /** Resets the socket of a session this side closed whose peer has not answered within {@code waitedMs}. */
  void cut(String why, long waitedMs) {
    if (RawSocket.abort(ws)) {
      log.info("event=close_forced session={} user={} ip={} code={} reason=\"{} within {} ms\"",
          id, userId(), ip, closeCode(), why, waitedMs);
    }
  }

  /** Gives the per-user slot back to the limiter, once. */
  private void releaseUser() {
    if (admittedUser != null) {
      eb.send(Addresses.LIMITER_RELEASE, new JsonObject().put("user", admittedUser), LOCAL);
      admittedUser = null;
    }
  }

  static String truncateUtf8(String s, int maxBytes) {
    if (s.length() * 3 <= maxBytes || s.getBytes(StandardCharsets.UTF_8).length <= maxBytes) {
      return s;
    }
    int end = Math.min(s.length(), maxBytes);
    while (end > 0 && s.substring(0, end).getBytes(StandardCharsets.UTF_8).length > maxBytes) {
      end--;
    }
    if (end > 0 && Character.isHighSurrogate(s.charAt(end - 1))) {
      end--;
    }
    return s.substring(0, end);
  }

  private void onClosed() {
    closed = true;
    updateDirect();
    svc.hub().remove(this);
    eb.send(Addresses.LIMITER_RELEASE, new JsonObject().put("ip", ip), LOCAL);
    releaseUser();
    int code = closeCode();
    svc.node().metrics().disconnect(code);
    log.info("event=disconnect session={} user={} ip={} code={}", id, userId(), ip, code);
  }

  /**
   * The code this side sent, else the peer's (1005 when its close frame carried none), else 1006 (closed
   * without a close frame).
   */
  private int closeCode() {
    if (sentCode != 0) {
      return sentCode;
    }
    if (peerSentNoCode) {
      return NO_STATUS_CODE;
    }
    // Asked only once the peer's close frame came (peerClosing) or the socket closed: before that, Vert.x 5.0's
    // closeStatusCode() unboxes its null code and throws.
    Short peer = closed || ws.isClosed() ? ws.closeStatusCode() : null;
    return peer != null ? peer : 1006;
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
