package dev.switchboard.gateway;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.channel.PendingWriteQueue;
import io.netty.channel.unix.FileDescriptor;
import java.io.IOException;
import java.nio.channels.ClosedChannelException;

/**
 * First in an io_uring socket's pipeline, nearest the socket: while a delivery frame sent by
 * {@link UringSender} is in flight on it, holds every other write (an ack, a pong, the next frame, a close
 * frame) and releases them, in order, once the send completes, so nothing overtakes the frame. Held bytes
 * count toward the channel's writability as Netty's own buffer does, so a consumer whose socket stopped
 * draining still reaches the slow-consumer rule. Only used on the channel's event loop.
 *
 * <p>The gate also remembers what it has let through, so a delivery to an idle socket ({@link #sendIfIdle})
 * is decided from the gate's own fields: at 1,000 subscribers each socket's Netty objects (context, outbound
 * buffer, pending-write queue) are cold again by the next publication, and reading them cost more than the
 * send's own Java.
 */
final class SendGate extends ChannelDuplexHandler {

  static final String NAME = "switchboard-send-gate";

  private final UringSender sender;
  private final FileDescriptor socket;
  private final int fd;
  private ChannelHandlerContext ctx;
  private Channel channel;
  private PendingWriteQueue held;
  /** Writes in {@link #held}, so the completion need not look at the queue when there are none. */
  private int heldCount;
  /** Writes went on to Netty's outbound buffer since it was last seen empty: they may still be pending. */
  private boolean passedOn;
  private boolean removed;
  /**
   * Set by the session: it is open and holds no recovery state, so a fan-out may hand it a frame without
   * looking at the session ({@link #deliver}).
   */
  private boolean direct;
  /** The submission id of the send in flight, 0 when none. */
  private long inFlight;
  private boolean cancelled;

  private SendGate(UringSender sender, FileDescriptor socket) {
    this.sender = sender;
    this.socket = socket;
    this.fd = socket.intValue();
  }

  /**
   * Puts a gate first in the channel's pipeline.
   *
   * @return null when this loop cannot send on its own (not io_uring, or its ring refused the sender)
   */
  static SendGate install(Channel channel, FileDescriptor socket) {
    UringSender sender = UringSender.of(channel.eventLoop());
    if (sender == null) {
      return null;
    }
    SendGate gate = new SendGate(sender, socket);
    channel.pipeline().addFirst(NAME, gate);
    return gate;
  }

  /**
   * Sends the frame when no send is in flight on this socket; the caller has checked that nothing waits in
   * Netty's buffer either.
   *
   * @return false when the caller must write the frame through the pipeline
   */
  boolean send(ByteBuf frame) {
    if (inFlight != 0 || ctx == null || removed) {
      return false;
    }
    return submit(frame);
  }

  /**
   * Sends the frame when the socket is idle: no send in flight, and nothing of this socket's waiting in
   * Netty's outbound buffer, so the frame cannot overtake earlier bytes. An idle socket's buffer is empty,
   * so it is writable too.
   *
   * @return false when the caller must take the checked path ({@link Session} writability, the pipeline)
   */
  boolean sendIfIdle(ByteBuf frame) {
    // An open channel on its own loop owns its descriptor: the number cannot have been closed and reused.
    // The descriptor object says so as the channel's isOpen() would, one object nearer.
    if (inFlight != 0 || ctx == null || removed || !socket.isOpen()) {
      return false;
    }
    if (passedOn) {
      if (RawSocket.pendingBytes(channel) != 0) {
        return false;
      }
      passedOn = false;
    }
    return submit(frame);
  }

  /**
   * A fan-out's first try, made without reading the session: at 1,000 subscribers the session object is
   * one more cold read per delivery, and the gate already holds all an idle socket's delivery needs.
   *
   * @return false when the caller must hand the frame to the session ({@link Session#write})
   */
  boolean deliver(ByteBuf frame) {
    return direct && sendIfIdle(frame);
  }

  /** The session says whether {@link #deliver} may bypass it; see {@code Session.updateDirect}. */
  void direct(boolean on) {
    direct = on;
  }

  private boolean submit(ByteBuf frame) {
    long id = sender.send(this, fd, frame);
    if (id == -1) {
      return false;
    }
    inFlight = id;
    cancelled = false;
    return true;
  }

  boolean sending() {
    return inFlight != 0;
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    this.ctx = ctx;
    this.channel = ctx.channel();
    this.held = new PendingWriteQueue(ctx);
    // Put in at a session's first delivery, behind whatever Vert.x wrote before (an auth_success, a recovery's
    // replay and its ack), which may still wait in Netty's buffer: the first idle check must look there.
    this.passedOn = true;
  }

  @Override
  public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
    if (inFlight == 0) {
      passedOn = true;
      ctx.write(msg, promise);
    } else {
      held.add(msg, promise);
      heldCount++;
    }
  }

  @Override
  public void flush(ChannelHandlerContext ctx) {
    // While a send is in flight the held writes are flushed with their release.
    if (inFlight == 0) {
      ctx.flush();
    }
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) throws Exception {
    // A send waiting for room (the peer stopped reading) would hold the socket open in the kernel after
    // Netty closed its descriptor; cancelled, it completes and the socket goes.
    cancelInFlight();
    failHeld();
    super.channelInactive(ctx);
  }

  @Override
  public void handlerRemoved(ChannelHandlerContext ctx) {
    removed = true;
    cancelInFlight();
    failHeld();
  }

  private void failHeld() {
    heldCount = 0;
    if (!held.isEmpty()) {
      held.removeAndFailAll(new ClosedChannelException());
    }
  }

  /** Once per send: a second cancel would find nothing. */
  void cancelInFlight() {
    if (inFlight != 0 && !cancelled) {
      cancelled = true;
      sender.cancel(inFlight);
    }
  }

  /**
   * The send completed: {@code res} bytes went out, or {@code -errno}. The caller releases the frame.
   */
  void sent(int res, ByteBuf frame) {
    inFlight = 0;
    if (res == frame.readableBytes() && heldCount == 0) {
      return; // the usual case: the whole frame went and nothing waits behind it
    }
    if (removed || !channel.isActive()) {
      failHeld();
      return;
    }
    if (res < 0) {
      // As Netty's own write path does on a socket error: fail what waits and close.
      heldCount = 0;
      held.removeAndFailAll(new IOException("send failed: errno " + -res));
      ctx.close();
      return;
    }
    passedOn = true;
    boolean rest = res < frame.readableBytes();
    if (rest) {
      // Only when the kernel gave up part-way (a signal): the rest goes first, through Netty.
      ctx.write(frame.retainedSlice(frame.readerIndex() + res, frame.readableBytes() - res), ctx.voidPromise());
    }
    heldCount = 0;
    held.removeAndWriteAll();
    ctx.flush();
  }
}
