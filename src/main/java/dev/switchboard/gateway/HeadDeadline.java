package dev.switchboard.gateway;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.LastHttpContent;
import io.vertx.core.http.HttpConnection;
import io.vertx.core.net.impl.ConnectionBase;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code server.header_timeout}: an HTTP connection has that long to deliver a request head — the first from the
 * connection's start, each later one on a kept-alive connection from its first byte — or it is closed. Without
 * it a client that sends its head a byte at a time (slowloris) holds a socket, counted against no limit, for the
 * whole HTTP idle timeout (65 s by default; a partial head never reaches Vert.x's idle handler, which sits behind
 * the decoder, so its bytes do not reset it).
 *
 * <p>One handler per connection, right behind Vert.x's request decoder, because neither moment is in Vert.x's
 * public API: it shows a connection at its start ({@code HttpServer.connectionHandler}) and a head once complete
 * (the request or handshake handler; a handshake does not even say which connection it came on), but not the
 * first byte of a later head. Behind the decoder, every complete head and request end arrives as a message
 * ({@code channelRead}) and every read off the socket as {@code channelReadComplete}, which the decoder passes on
 * whether or not it decoded anything.
 *
 * <p>No timer per connection: a connection waiting for a head sits in its event loop's set, oldest first, and the
 * gateway's one-second tick closes those past the deadline ({@link #sweep}). The handler leaves the pipeline
 * when a WebSocket is accepted ({@link UpgradeLeftovers}), so established sessions never pass through it.
 * Confined to the event loop of the gateway instance that owns it: its connections live on that loop.
 *
 * <p>Reaches the pipeline through Vert.x's {@code ConnectionBase} and finds the decoder by the name Vert.x gives
 * it: internal API, checked against the pinned Vert.x version by {@code SlowRequestHeadTest}.
 */
final class HeadDeadline {

  private static final Logger log = LoggerFactory.getLogger(HeadDeadline.class);
  /** The warning that the deadline cannot be installed is given once per node, not per connection. */
  private static final AtomicBoolean UNSUPPORTED_WARNED = new AtomicBoolean();

  /** The pipeline names: Vert.x's HTTP/1.x request decoder, and this handler, placed right after it. */
  static final String DECODER = "httpDecoder";
  static final String HANDLER = "headDeadline";

  private final long timeoutNanos;
  private final Consumer<Channel> expired;
  /** Connections waiting for a head; insertion order is start order, as every start enters at the end. */
  private final LinkedHashSet<Clock> waiting = new LinkedHashSet<>();

  /** @param expired told of each connection closed for its deadline, before it closes (count it, log it) */
  HeadDeadline(Duration timeout, Consumer<Channel> expired) {
    this.timeoutNanos = timeout.toNanos();
    this.expired = expired;
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
        log.warn("event=header_timeout_unsupported reason=\"no Vert.x request decoder named {} on the connection's "
            + "pipeline: server.header_timeout is not enforced on this node\"", DECODER);
      }
      return;
    }
    if (pipeline.get(HANDLER) == null) {
      pipeline.addAfter(DECODER, HANDLER, new Clock(this));
    }
  }

  /** Closes every connection whose current head started more than the timeout ago; returns how many. */
  int sweep(long nowNanos) {
    List<Clock> late = new ArrayList<>();
    for (Iterator<Clock> it = waiting.iterator(); it.hasNext(); ) {
      Clock c = it.next();
      if (nowNanos - c.since < timeoutNanos) {
        break;
      }
      it.remove();
      c.waiting = false;
      late.add(c);
    }
    for (Clock c : late) {
      Channel ch = c.ctx.channel();
      expired.accept(ch);
      // No 408 answer: a previous request's response may still be on its way out on this connection.
      ch.close();
    }
    return late.size();
  }

  /** Connections now waiting for a head (tests, diagnostics). */
  int waiting() {
    return waiting.size();
  }

  private void start(Clock c) {
    c.since = System.nanoTime();
    c.waiting = true;
    waiting.add(c);
  }

  private void stop(Clock c) {
    if (c.waiting) {
      c.waiting = false;
      waiting.remove(c);
    }
  }

  /** One connection's position: waiting for a head (since when), inside a request, or between requests. */
  static final class Clock extends ChannelInboundHandlerAdapter {
    private final HeadDeadline owner;
    private ChannelHandlerContext ctx;
    private long since;
    private boolean waiting;
    /** A head arrived and its request has not ended yet: the time from here on is the body's and the app's. */
    private boolean inRequest;
    /** A request ended in the read now being decoded: what else came in that read is not yet known to be a head. */
    private boolean endedThisRead;

    Clock(HeadDeadline owner) {
      this.owner = owner;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
      this.ctx = ctx;
      owner.start(this);
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
      owner.stop(this);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      owner.stop(this);
      ctx.fireChannelInactive();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      if (msg instanceof HttpRequest) {
        inRequest = true;
        owner.stop(this);
      }
      // Not else: a request without a body may come as one message that is both.
      if (msg instanceof LastHttpContent) {
        inRequest = false;
        endedThisRead = true;
      }
      ctx.fireChannelRead(msg);
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
      // Bytes came between requests and made no head yet: a head has started. After a request that ended in
      // this same read, the connection is taken as idle (kept alive) until its next read; a head pipelined
      // behind that request starts its clock then, and the idle timeout bounds the wait for that read.
      if (!inRequest && !endedThisRead && !waiting) {
        owner.start(this);
      }
      endedThisRead = false;
      ctx.fireChannelReadComplete();
    }
  }
}
