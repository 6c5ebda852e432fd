package dev.switchboard.gateway;

import dev.switchboard.auth.Principal;
import dev.switchboard.bus.Addresses;
import dev.switchboard.bus.Publication;
import dev.switchboard.config.SwitchboardConfig;
import dev.switchboard.limiter.InflationLimit;
import dev.switchboard.limiter.SlidingWindowLog;
import dev.switchboard.limiter.TokenBucket;
import dev.switchboard.metrics.AdminAccess;
import dev.switchboard.protocol.CloseCode;
import dev.switchboard.protocol.ErrorCode;
import dev.switchboard.protocol.Frame;
import dev.switchboard.protocol.FrameDecoder;
import dev.switchboard.protocol.ProtocolError;
import dev.switchboard.protocol.ServerFrames;
import dev.switchboard.router.Undelivered;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.handler.codec.http.websocketx.CorruptedWebSocketFrameException;
import io.vertx.core.AsyncResult;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.EventBus;
import io.vertx.core.http.ServerWebSocket;
import io.vertx.core.http.WebSocketFrame;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One WebSocket connection: its state (authentication in {@link SessionAuth}), its subscriptions, its inbound
 * rate budget, and the only place frames are written to its socket. Runs on its gateway instance's event loop.
 *
 * <p>Every inbound frame goes through {@link #onText}: rate budget, {@link FrameDecoder}, then one
 * dispatch per {@link Frame} type, each failure answered with an error frame and a return. A bad request
 * never closes the connection; only the close rules of SPEC §4 do, 1011 among them: an exception while
 * handling a frame, at once or in a later step ({@link #guarded}), ends in {@link #internalError}. The
 * one-shot requests (publish, send, presence, request, history) are answered by {@link SessionRequests}, the
 * replay of a subscribe with {@code since} by a {@link ChannelRecovery}.
 */
public final class Session {

  private static final Logger log = LoggerFactory.getLogger(Session.class);
  static final DeliveryOptions LOCAL = new DeliveryOptions().setLocalOnly(true);
  /** The span of limits.rate_abuse_limit: more refusals than it within any 10 s close the session with 4008. */
  private static final long RATE_ABUSE_WINDOW_NANOS = 10_000_000_000L;
  /** Requests a client may send before its authentication has completed; they are answered after it. */
  private static final int MAX_PENDING_WHILE_AUTH = 32;
  /** RFC 6455 §5.5: a close frame's payload is at most 125 bytes, two of them the code. */
  private static final int MAX_CLOSE_REASON_BYTES = 123;
  /** RFC 6455 §7.1.5: the code of a close frame that carried none; never sent, only counted and logged. */
  private static final int NO_STATUS_CODE = 1005;
  /** How long a replay waits for a client to read what it was sent before it counts as a slow consumer. */
  static final long REPLAY_DRAIN_WAIT_MS = 10_000;
  /**
   * Live messages a recovering channel may hold while its replay runs; past it the client is not keeping up with
   * the replay and the channel together, and is cut as a slow consumer (it resumes from where it got to).
   */
  static final int MAX_HELD = 1_000;

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
  private final TokenBucket bucket;
  private final SessionAuth auth;
  private final SessionRequests requests;
  /** Channels being recovered (subscribe with since) → live deliveries held until the replay is done. */
  private Map<String, List<Publication>> recovering;
  /** Bytes of replayed frames written, and of those known to be on the socket (both only grow). */
  private long replayWritten;
  private long replayConfirmed;
  /** The newest replayed frame's write: once it is on the socket, so is every replayed frame before it. */
  private Future<Void> lastReplayWrite;
  /**
   * Channel → the highest offset replayed by a recovery. A message appended before the replay read it may
   * still be on its way live; it was already sent from history, so live copies at or below this are dropped.
   */
  private Map<String, Frame.Since> replayedUpTo;
  /** Text frames that arrived while the first authentication was in flight, replayed once it succeeds. */
  private ArrayDeque<String> pendingWhileAuth;
  /** Bytes of the fragmented message being received, for the max_message_size rule. */
  private long messageBytes;
  private long lastSeen;
  private long lastPing;
  /** This session's recent rate_limited refusals; made at its first one (most sessions never have one). */
  private SlidingWindowLog rateRefusals;
  private boolean closed;
  /** The close code this side sent; 0 while none. */
  private short sentCode;
  /** The peer's close frame carried no status code, which Vert.x's {@code closeStatusCode()} reports as 1000. */
  private boolean peerSentNoCode;
  /** When a session this side closed has had time enough to let its close frame out (epoch ms). */
  private long closeDeadline;

  Session(ServerWebSocket ws, SessionServices svc, String ip, long nowMillis) {
    this.ws = ws;
    this.svc = svc;
    this.config = svc.node().config();
    this.eb = svc.node().vertx().eventBus();
    this.id = Long.toHexString(ThreadLocalRandom.current().nextLong() & Long.MAX_VALUE);
    this.ip = ip;
    this.bucket = new TokenBucket(config.limits().messagesPerSecond(), config.limits().burst(), System.nanoTime());
    this.auth = new SessionAuth(this, svc, nowMillis);
    this.requests = new SessionRequests(this, svc);
    this.lastSeen = nowMillis;
    this.lastPing = nowMillis;
  }

  /** Wires the socket; authenticates at once when the upgrade carried a token. */
  void start(String handshakeToken) {
    ws.textMessageHandler(this::onText);
    ws.binaryMessageHandler(b -> {
      if (closed) {
        return;
      }
      // Under the same budget as text: each refusal is a frame to write, so a binary flood must end in 4008 too.
      if (!bucket.tryTake(System.nanoTime())) {
        rateLimited(null);
        return;
      }
      // Counted once it is within the budget, as a text frame is: a refused one counts as a drop instead.
      svc.node().metrics().messageIn("binary");
      send(ServerFrames.error(null, ErrorCode.BAD_REQUEST, "binary frames are not supported; send JSON text frames"));
    });
    // Sees every frame, pings and pongs included: any of them proves the peer is alive, and the size of
    // a message is checked here because Vert.x only drops an oversized message without closing.
    ws.frameHandler(this::onFrame);
    ws.exceptionHandler(this::onSocketError);
    ws.closeHandler(v -> onClosed());
    if (handshakeToken != null) {
      // auth_success is the first frame: not before the compression codec is in place, or it goes out raw.
      Frame.Auth upgradeAuth = new Frame.Auth(null, handshakeToken, List.of());
      InflationLimit.whenUpgradeWritten(ws).onComplete(guarded(upgradeAuth, v -> {
        if (!closed && !ws.isClosed()) {
          auth.authenticate(upgradeAuth);
        }
      }));
    }
  }

  public String id() {
    return id;
  }

  public String userId() {
    return auth.userId();
  }

  String ip() {
    return ip;
  }

  Set<String> subscriptions() {
    return subscriptions;
  }

  boolean isClosed() {
    return closed;
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
    if (auth.firstInFlight()) {
      // A client may send its requests right behind the auth frame (or right after an upgrade that
      // carried the token); answer them once it is known who they are from.
      if (pendingWhileAuth == null) {
        pendingWhileAuth = new ArrayDeque<>();
      }
      if (pendingWhileAuth.size() >= MAX_PENDING_WHILE_AUTH) {
        svc.node().metrics().dropped("rate_limited");
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
    // A try block costs nothing until something throws; without it the exception would end in Vert.x's log
    // and the request would never be answered, with the session left open in whatever state it reached.
    try {
      dispatch(f);
    } catch (RuntimeException e) {
      internalError(f, e);
    }
  }

  private void dispatch(Frame f) {
    svc.node().metrics().messageIn(typeOf(f));
    Principal principal = auth.principal();
    if (principal == null && !(f instanceof Frame.Auth) && !(f instanceof Frame.AdminAuth) && !(f instanceof Frame.Ping)) {
      reply(f, ErrorCode.UNAUTHORIZED, "authenticate first: send {\"type\":\"auth\",\"token\":\"<jwt>\"}");
      return;
    }
    if (principal != null && auth.tokenExpired() && !(f instanceof Frame.Auth || f instanceof Frame.Ping
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
      auth.authenticate(a);
    } else if (f instanceof Frame.AdminAuth a) {
      auth.adminAuth(a);
    } else if (f instanceof Frame.Subscribe s) {
      subscribe(principal, s);
    } else if (f instanceof Frame.Unsubscribe u) {
      unsubscribe(u);
    } else if (f instanceof Frame.Publish p) {
      requests.publish(principal, p);
    } else if (f instanceof Frame.Send s) {
      requests.sendDirect(principal, s);
    } else if (f instanceof Frame.Presence p) {
      requests.presence(principal, p);
    } else if (f instanceof Frame.Request r) {
      requests.request(principal, r);
    } else if (f instanceof Frame.History h) {
      requests.history(principal, h);
    } else if (f instanceof Frame.Ping p) {
      send(ServerFrames.pong(p.id()));
    }
  }

  /** Answers the requests held while the first authentication was in flight, now that it was admitted. */
  void replayPending() {
    ArrayDeque<String> pending = pendingWhileAuth;
    pendingWhileAuth = null;
    if (pending != null) {
      for (String text = pending.poll(); text != null && !closed; text = pending.poll()) {
        handle(text);
      }
    }
  }

  /**
   * Wraps the handler of an asynchronous step of answering {@code f}, so that an exception it throws is
   * answered as {@link #internalError} rather than lost in Vert.x's log with the request unanswered (and, for
   * an authentication or a recovery, the session stuck half-way).
   */
  <T> Handler<AsyncResult<T>> guarded(Frame f, Handler<AsyncResult<T>> handler) {
    return ar -> {
      try {
        handler.handle(ar);
      } catch (RuntimeException e) {
        internalError(f, e);
      }
    };
  }

  /** Runs {@code step} on a later turn of this session's loop, guarded like {@link #guarded}. */
  void nextTurn(Frame f, Runnable step) {
    svc.node().vertx().runOnContext(v -> {
      try {
        step.run();
      } catch (RuntimeException e) {
        internalError(f, e);
      }
    });
  }

  /**
   * Handling {@code f} threw: a bug, or a part of the node that failed in a way nothing expected. What the
   * session had changed before it (its subscriptions, its authentication, a held recovery) may be half-done,
   * so it is not trusted further: the request is answered {@code internal}, and the session closed with 1011
   * (SPEC §4: reconnect with backoff), which gives the client a clean new one. The stack is logged once, here;
   * the client is told nothing of it.
   */
  void internalError(Frame f, RuntimeException e) {
    String type = typeOf(f);
    // The throwable's own line adds error=…: no reason= beside it, which would say the same twice.
    log.error("event=internal_error session={} user={} ip={} frame={}", id, userId(), ip, type, e);
    if (closed) {
      return;
    }
    reply(f, ErrorCode.INTERNAL, "internal error while handling this " + type
        + " frame; the connection is closed with 1011: reconnect with backoff");
    close(CloseCode.INTERNAL_ERROR, CloseCode.INTERNAL_ERROR.reason());
  }

  private static String typeOf(Frame f) {
    String n = f.getClass().getSimpleName();
    return n.equals("Publish") ? "broadcast" : n.equals("AdminAuth") ? "auth" : n.toLowerCase();
  }

  /** @param text the dropped text frame, whose id the refusal echoes; null for a binary frame, which has none */
  private void rateLimited(String text) {
    svc.node().metrics().dropped("rate_limited");
    if (rateRefusals == null) {
      rateRefusals = new SlidingWindowLog(config.limits().rateAbuseLimit(), RATE_ABUSE_WINDOW_NANOS);
    }
    if (rateRefusals.recordOver(System.nanoTime())) {
      log.info("event=rate_abuse session={} user={} ip={}", id, userId(), ip);
      close(CloseCode.RATE_LIMIT_EXCEEDED, "rate limit exceeded repeatedly");
      return;
    }
    // Parsing a dropped frame for its id costs little next to answering it, and lets the client match
    // the refusal to its request; persistent abuse is closed above before it can make this expensive.
    send(ServerFrames.error(text == null ? null : FrameDecoder.idOf(text), ErrorCode.RATE_LIMITED, "over "
        + TokenBucket.formatRate(config.limits().messagesPerSecond()) + " messages/s (burst " + config.limits().burst()
        + "); message dropped"));
  }

  // ---- subscriptions ----------------------------------------------------------------------------

  private void subscribe(Principal principal, Frame.Subscribe s) {
    String ch = s.channel().toString();
    ProtocolError err = svc.rules().checkSubscribe(principal, s.channel());
    if (err != null) {
      send(ServerFrames.error(err.withId(s.id())));
      return;
    }
    if (!subscriptions.contains(ch) && auth.atSubscriptionLimit()) {
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
    svc.hub().subscribe(this, ch).onComplete(guarded(s, ar -> {
      if (ar.failed()) {
        if (recovering != null) {
          recovering.remove(ch);
          updateDirect();
        }
        reply(s, ErrorCode.INTERNAL, "subscription failed: " + ar.cause().getMessage());
      } else if (recover) {
        new ChannelRecovery(this, svc, s, ch).start();
      } else if (s.since() != null) {
        // Nothing is kept here to recover from: say so, so the client resyncs rather than trusting its gap-free state.
        send(ServerFrames.ack(s.id(), new JsonObject().put("recovered", false)));
      } else if (svc.rules().keepsHistory(s.channel())) {
        ackWithPosition(s, ch);
      } else {
        send(ServerFrames.ack(s.id()));
      }
    }));
  }

  /**
   * The ack of a plain subscribe on a channel that keeps history carries the channel's position, read after the
   * subscription went live: a client that has not seen a message yet still has a {@code since} to resume from
   * after a reconnect. Read after the subscription went live, it misses nothing: what is above it arrives live
   * (possibly before the ack, so a client keeps the higher of the two), what is at or below it was published
   * before. If the position cannot be read the ack goes without it, as on a channel without history.
   */
  private void ackWithPosition(Frame.Subscribe s, String ch) {
    svc.node().history().read(ch, -1, 0).onComplete(guarded(s, ar -> {
      if (closed) {
        return;
      }
      if (ar.failed()) {
        log.warn("event=history_position_failed channel={} reason=\"{}\"", ch, ar.cause().toString());
        send(ServerFrames.ack(s.id()));
        return;
      }
      send(ServerFrames.ack(s.id(), new JsonObject().put("offset", ar.result().offset()).put("epoch", ar.result().epoch())));
    }));
  }

  /** Ends the hold on a channel's live deliveries; returns those held meanwhile, null when none were held. */
  List<Publication> stopHolding(String ch) {
    return recovering == null ? null : recovering.remove(ch);
  }

  /** The live deliveries held for a recovering channel so far, still holding; null when none is held. */
  List<Publication> held(String ch) {
    return recovering == null ? null : recovering.get(ch);
  }

  /**
   * A recovery is done: live copies at or below {@code upTo} are dropped from now on (null when the recovery
   * replayed nothing), and deliveries may take the direct path again if nothing else stops them.
   */
  void recovered(String ch, Frame.Since upTo) {
    if (upTo != null) {
      if (replayedUpTo == null) {
        replayedUpTo = new HashMap<>();
      }
      replayedUpTo.put(ch, upTo);
    }
    updateDirect();
  }

  /** Writes a message a recovery sends, from history or held back, in the order it chose. */
  void writeMessage(Publication p) {
    writeNow(ServerFrames.message(p), p);
  }

  private void unsubscribe(Frame.Unsubscribe u) {
    String ch = u.channel().toString();
    if (auth.isAutomatic(ch)) {
      reply(u, ErrorCode.FORBIDDEN, ch + " is subscribed automatically for the whole session");
      return;
    }
    leave(ch);
    send(ServerFrames.ack(u.id()));
  }

  /** Leaves a channel, and the floor a recovery set on it: a later subscribe starts from what it asks for. */
  void leave(String ch) {
    svc.hub().unsubscribe(this, ch);
    if (replayedUpTo != null) {
      replayedUpTo.remove(ch);
      updateDirect();
    }
  }

  /** Answers a request with an error frame carrying its id. */
  void reply(Frame f, ErrorCode code, String message) {
    send(ServerFrames.error(f.id(), code, message));
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
        if (held.size() >= MAX_HELD) {
          return slowConsumer(pub);
        }
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

  /**
   * Writes a replayed message frame, outside the slow-consumer rule: replays limit themselves instead, waiting
   * ({@link #afterReplayWritten}) whenever half the queue's bound of what they wrote is not yet on the socket
   * ({@link #replayWindowFull}), so the queue keeps room for the session's other deliveries and answers.
   */
  void writeReplayed(Publication p) {
    if (closed || ws.isClosed()) {
      return;
    }
    String frame = ServerFrames.message(p);
    lastReplayWrite = ws.writeTextMessage(frame);
    replayWritten += ByteBufUtil.utf8Bytes(frame);
  }

  /** Whether the session's replays have half the write queue's bound written and not yet on the socket. */
  boolean replayWindowFull() {
    return replayWritten - replayConfirmed >= config.session().outboundQueueBytes() / 2;
  }

  /**
   * Runs {@code then} on this session's loop once every replayed frame written so far has reached the socket. A
   * client that has not read them within {@link #REPLAY_DRAIN_WAIT_MS} is a slow consumer after all: 4009, as for
   * a delivery.
   */
  void afterReplayWritten(Frame request, Runnable then) {
    Future<Void> written = lastReplayWrite;
    long mark = replayWritten;
    long timer = svc.node().vertx().setTimer(REPLAY_DRAIN_WAIT_MS, t -> {
      if (!closed) {
        cutSlowConsumer("slow consumer: a replay waited " + REPLAY_DRAIN_WAIT_MS / 1000 + " s for the client to read");
      }
    });
    written.onComplete(guarded(request, ar -> {
      svc.node().vertx().cancelTimer(timer);
      replayConfirmed = Math.max(replayConfirmed, mark);
      // A failed write is a connection going away: the replay goes on into it and ends, rather than stall.
      if (!closed) {
        then.run();
      }
    }));
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
    auth.releaseUser();
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

  /**
   * Whether the tick at {@code now} is the one to ping on. Ticks come once a second, each a little late by an amount
   * that varies, so a whole-second heartbeat measured to the millisecond fell 1 ms short at the tick it was due about
   * one time in four and the ping slipped a second. Half a tick of slack makes it the due tick every time.
   */
  static boolean heartbeatDue(long now, long lastPing, long heartbeatMillis) {
    return now - lastPing >= heartbeatMillis - GatewayVerticle.TICK_MS / 2;
  }

  /** Called about once a second by the gateway's single timer: heartbeats, idle, auth and token expiry. */
  void tick(long now) {
    if (closed) {
      return;
    }
    if (auth.timedOut(now)) {
      svc.node().metrics().connect("auth_timeout");
      close(CloseCode.POLICY_VIOLATION, "auth timeout");
      return;
    }
    if (now - lastSeen > config.session().idleTimeout().toMillis()) {
      close(CloseCode.GOING_AWAY, "idle timeout");
      return;
    }
    if (auth.expiredPastGrace(now)) {
      close(CloseCode.TOKEN_EXPIRED, "token expired");
      return;
    }
    if (heartbeatDue(now, lastPing, config.session().heartbeat().toMillis())) {
      lastPing = now;
      ws.writePing(Buffer.buffer());
    }
  }
}
