package dev.switchboard.gateway;

import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import io.vertx.core.http.HttpConnection;
import io.vertx.core.net.impl.ConnectionBase;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The two deadlines of an HTTP/1.x request, so that a client sending a byte at a time (slowloris) cannot hold a
 * connection and its buffers for the whole HTTP idle timeout (65 s by default), or for good: every byte is inside
 * it.
 *
 * <ul>
 *   <li>{@code server.header_timeout}: a request head must be complete within it — the first from the connection's
 *       start, each later one on a kept-alive connection from its first byte. A partial head never reaches
 *       Vert.x's idle handler, which sits behind the decoder, so its bytes do not even reset that. Past it the
 *       connection is closed without an answer: a previous request's response may still be on its way out.
 *   <li>{@code server.body_timeout}: a request's whole body must be in within it, counted from the end of the read
 *       that completed its head. Past it the node answers {@code 408} and closes, when that answer can be the
 *       request's own ({@link TimeoutAnswer}); otherwise it just closes. Time the node itself holds the body
 *       back does not count against the client: a body past its deadline while an earlier response on the
 *       connection is still being made (pipelining), or while Vert.x has stopped reading, gets a new one.
 * </ul>
 *
 * <p>One handler per connection, right behind Vert.x's request decoder, because neither moment is in Vert.x's
 * public API: it shows a connection at its start ({@code HttpServer.connectionHandler}) and a head once complete
 * (the request or handshake handler; a handshake does not even say which connection it came on), but not the
 * first byte of a later head, nor a request's end before its handlers read it. Behind the decoder, every complete
 * head and request end arrives as a message ({@code channelRead}) and every read off the socket as
 * {@code channelReadComplete}, which the decoder passes on whether or not it decoded anything.
 *
 * <p>No timer per connection: a connection waiting for a head or a body sits in its event loop's set for that
 * deadline, oldest first, and the gateway's one-second tick closes those past it ({@link #sweep}). A request whose
 * body comes in the same read as its head (nearly every API request) never enters a set: its clock is started
 * only when a read ends with the body still incomplete. The handler leaves the pipeline when a WebSocket is
 * accepted ({@link UpgradeLeftovers}), so established sessions never pass through it. Confined to the event loop
 * of the gateway instance that owns it: its connections live on that loop.
 *
 * <p>Reaches the pipeline through Vert.x's {@code ConnectionBase} and finds the decoder by the name Vert.x gives
 * it: internal API, checked against the pinned Vert.x version by {@code SlowRequestHeadTest} and
 * {@code SlowRequestBodyTest}.
 */
final class RequestDeadlines {

  private static final Logger log = LoggerFactory.getLogger(RequestDeadlines.class);
  /** The warning that the deadlines cannot be installed is given once per node, not per connection. */
  private static final AtomicBoolean UNSUPPORTED_WARNED = new AtomicBoolean();
  /**
   * How long a connection answered 408 may take to take the answer before it is closed regardless: the close
   * normally follows the write at once, but a client that stopped reading leaves the write pending.
   */
  static final Duration ANSWER_GRACE = Duration.ofSeconds(1);

  /** The pipeline names: Vert.x's HTTP/1.x request decoder, and this handler, placed right after it. */
  static final String DECODER = "httpDecoder";
  static final String HANDLER = "requestDeadlines";

  /** Told of each connection closed for a deadline, before it closes (count it, log it), with the reason. */
  interface Expiry {
    void headTooSlow(Channel ch, String reason);

    /** @param answered whether a 408 (carrying the reason) was written before the close */
    void bodyTooSlow(Channel ch, String reason, boolean answered);
  }

  private final Expiry expiry;
  private final String headReason;
  private final String bodyReason;
  /** Connections waiting for a head, a body, or to take their 408; insertion order is start order in each. */
  private final Waits heads;
  private final Waits bodies;
  private final Waits answering;
  /** {@link System#nanoTime}; a test's own clock in unit tests, so that "later" is not a matter of microseconds. */
  private final LongSupplier nanoClock;

  RequestDeadlines(Duration headTimeout, Duration bodyTimeout, Expiry expiry) {
    this(headTimeout, bodyTimeout, expiry, System::nanoTime);
  }

  RequestDeadlines(Duration headTimeout, Duration bodyTimeout, Expiry expiry, LongSupplier nanoClock) {
    TimeoutAnswer.checkSupported();
    this.nanoClock = nanoClock;
    this.expiry = expiry;
    this.headReason = "no complete request head within server.header_timeout (" + headTimeout.toMillis() + " ms)";
    this.bodyReason = "request body not complete within server.body_timeout (" + bodyTimeout.toMillis() + " ms)";
    this.heads = new Waits(headTimeout);
    this.bodies = new Waits(bodyTimeout);
    this.answering = new Waits(ANSWER_GRACE);
  }

  /**
   * For {@code HttpServer.connectionHandler}, which Vert.x calls as the connection starts once h2c is off (with it
   * on, only after the first head). Starts the clock for the first head.
   */
  void watch(HttpConnection conn) {
    ChannelPipeline pipeline = conn instanceof ConnectionBase base ? base.channelHandlerContext().pipeline() : null;
    if (pipeline == null || pipeline.get(DECODER) == null) {
      // Internal API moved (a Vert.x upgrade): say once that the protection is off rather than lose it silently.
      if (UNSUPPORTED_WARNED.compareAndSet(false, true)) {
        log.warn("event=request_deadlines_unsupported reason=\"no Vert.x request decoder named {} on the connection's "
            + "pipeline: server.header_timeout and server.body_timeout are not enforced on this node\"", DECODER);
      }
      return;
    }
    if (pipeline.get(HANDLER) == null) {
      pipeline.addAfter(DECODER, HANDLER, new Clock(this, conn));
    }
  }

  /** Ends every connection whose current head or body started more than its timeout ago; returns how many. */
  int sweep(long nowNanos) {
    for (Clock c : answering.late(nowNanos)) {
      c.ctx.channel().close();
    }
    List<Clock> lateHeads = heads.late(nowNanos);
    for (Clock c : lateHeads) {
      Channel ch = c.ctx.channel();
      expiry.headTooSlow(ch, headReason);
      // No 408 answer: a previous request's response may still be on its way out on this connection.
      ch.close();
    }
    List<Clock> lateBodies = bodies.late(nowNanos);
    int cut = lateHeads.size();
    for (Clock c : lateBodies) {
      Channel ch = c.ctx.channel();
      if (!ch.config().isAutoRead() || TimeoutAnswer.behindAnotherResponse(c.conn)) {
        // The node itself holds this body back (a pipelined request waits for the response before it, and
        // Vert.x stops reading past a few queued messages): not the client's delay. Its clock starts again.
        bodies.enter(c, nowNanos);
        continue;
      }
      cut++;
      boolean answer = TimeoutAnswer.fits(c.conn);
      expiry.bodyTooSlow(ch, bodyReason, answer);
      if (answer) {
        // From here on nothing the client sends reaches Vert.x: the request must not complete after its 408.
        c.answered = true;
        answering.enter(c, nowNanos);
        c.ctx.writeAndFlush(TimeoutAnswer.bytes(ch.alloc(), bodyReason)).addListener(ChannelFutureListener.CLOSE);
      } else {
        ch.close();
      }
    }
    return cut;
  }

  /** Connections now waiting for a head (tests, diagnostics). */
  int waitingForHead() {
    return heads.set.size();
  }

  /** Connections now waiting for the rest of a body (tests, diagnostics). */
  int waitingForBody() {
    return bodies.set.size();
  }

  /** The connections waiting for one deadline, oldest first: each enters at the end with the current time. */
  private static final class Waits {
    final long timeoutNanos;
    final LinkedHashSet<Clock> set = new LinkedHashSet<>();

    Waits(Duration timeout) {
      this.timeoutNanos = timeout.toNanos();
    }

    void enter(Clock c, long nowNanos) {
      c.leave();
      c.since = nowNanos;
      c.in = this;
      set.add(c);
    }

    /** Takes out and returns those past the timeout. */
    List<Clock> late(long nowNanos) {
      List<Clock> late = new ArrayList<>();
      for (Iterator<Clock> it = set.iterator(); it.hasNext(); ) {
        Clock c = it.next();
        if (nowNanos - c.since < timeoutNanos) {
          break;
        }
        it.remove();
        c.in = null;
        late.add(c);
      }
      return late;
    }
  }

  /**
   * One connection's position: waiting for a head (since when), inside a request whose body is still coming
   * (since when), or between requests.
   */
  static final class Clock extends ChannelInboundHandlerAdapter {
    private final RequestDeadlines owner;
    /** Vert.x's connection, asked only at a body's deadline whether a 408 can be written; null in unit tests. */
    private final HttpConnection conn;
    private ChannelHandlerContext ctx;
    private long since;
    /** The set this connection waits in, or null. */
    private Waits in;
    /** A head arrived and its request has not ended yet: the time from here on is the body's. */
    private boolean inRequest;
    /** A request ended in the read now being decoded: what else came in that read is not yet known to be a head. */
    private boolean endedThisRead;
    /** Answered 408: the connection is closing, and what still comes in is dropped. */
    private boolean answered;

    Clock(RequestDeadlines owner, HttpConnection conn) {
      this.owner = owner;
      this.conn = conn;
    }

    private void leave() {
      if (in != null) {
        in.set.remove(this);
        in = null;
      }
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
      this.ctx = ctx;
      owner.heads.enter(this, owner.nanoClock.getAsLong());
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
      leave();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      leave();
      ctx.fireChannelInactive();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      if (answered) {
        ReferenceCountUtil.release(msg);
        return;
      }
      if (msg instanceof HttpRequest) {
        inRequest = true;
        leave();
      }
      // Not else: a request without a body may come as one message that is both.
      if (msg instanceof LastHttpContent) {
        inRequest = false;
        endedThisRead = true;
        leave();
      }
      ctx.fireChannelRead(msg);
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
      if (inRequest && !answered) {
        // The read that completed a head ended with its body still incomplete: the body's clock starts here,
        // once per request. Later reads of the same body do not restart it.
        if (in != owner.bodies) {
          owner.bodies.enter(this, owner.nanoClock.getAsLong());
        }
      } else if (!inRequest && !endedThisRead && in == null) {
        // Bytes came between requests and made no head yet: a head has started. After a request that ended in
        // this same read, the connection is taken as idle (kept alive) until its next read; a head pipelined
        // behind that request starts its clock then, and the idle timeout bounds the wait for that read.
        owner.heads.enter(this, owner.nanoClock.getAsLong());
      }
      endedThisRead = false;
      ctx.fireChannelReadComplete();
    }
  }
}
