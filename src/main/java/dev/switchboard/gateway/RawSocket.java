package dev.switchboard.gateway;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.unix.FileDescriptor;
import io.netty.channel.uring.IoUringSocketChannel;
import io.netty.handler.codec.http.websocketx.WebSocketFrameEncoder;
import io.netty.handler.codec.http.websocketx.extensions.WebSocketExtensionEncoder;
import io.netty.handler.ssl.SslHandler;
import io.vertx.core.http.ServerWebSocket;
import io.vertx.core.http.impl.WebSocketImplBase;
import java.io.IOException;

/**
 * One WebSocket's Netty pipeline, for deliveries pre-built as whole frames ({@link WireFrames}). They are
 * written from the WebSocket frame encoder's place, so they pass only the handlers nearer the socket (TLS)
 * and skip those above it, which would only forward bytes unchanged: the encoder itself (it takes frame
 * objects) and whatever Vert.x keeps above it ({@link UpgradeLeftovers} drops its idle handler, whose
 * per-write promise and listener would cost more than the write). Only used on the channel's event loop.
 *
 * <p>On the native epoll transport, without TLS, a frame for a socket with nothing pending goes straight to
 * its descriptor ({@link #writeDirect}): one {@code write(2)} and none of Netty's per-write and per-flush
 * bookkeeping, which the profile showed as half of the event loops' time per delivery at steady rates. On
 * io_uring the same frame becomes one send submission of the loop's {@link UringSender}, without Netty's
 * channel write either, and the whole pass reaches the kernel in one {@code io_uring_enter}; the socket's
 * {@link SendGate} holds its other writes until that send completes.
 */
final class RawSocket {

  private final ChannelHandlerContext encoder;
  private final Channel channel;
  /** Epoll's descriptor, for direct writes; null where bytes take the pipeline or the {@link #gate}. */
  private final FileDescriptor fd;
  /** On io_uring without TLS: sends frames through the loop's ring. */
  private final SendGate gate;

  private RawSocket(ChannelHandlerContext encoder) {
    this.encoder = encoder;
    this.channel = encoder.channel();
    boolean plain = encoder.pipeline().get(SslHandler.class) == null;
    this.fd = plain && channel instanceof EpollSocketChannel epoll ? epoll.fd() : null;
    this.gate = plain && channel instanceof IoUringSocketChannel uring
        ? SendGate.install(channel, uring.fd()) : null;
  }

  /**
   * Ask only once the upgrade response is written ({@code InflationLimit.upgradeWritten}): before that it is
   * not known whether compression was negotiated.
   *
   * @return null when frames cannot be written raw: permessage-deflate was negotiated (its encoder must
   *     see every delivery, which must stay compressed), or the pipeline is not the one Vert.x builds
   */
  static RawSocket of(ServerWebSocket ws) {
    ChannelHandlerContext c = vertxHandler(ws);
    if (c != null && c.pipeline().get(WebSocketExtensionEncoder.class) == null) {
      ChannelHandlerContext encoder = c.pipeline().context(WebSocketFrameEncoder.class);
      return encoder == null ? null : new RawSocket(encoder);
    }
    return null;
  }

  /**
   * The context of Vert.x's connection handler in the WebSocket's pipeline.
   *
   * @return null when the WebSocket is not Vert.x's implementation or has no channel yet
   */
  static ChannelHandlerContext vertxHandler(ServerWebSocket ws) {
    return ws instanceof WebSocketImplBase<?> impl ? impl.channelHandlerContext() : null;
  }

  /**
   * False once the TCP connection under the WebSocket is gone. Netty closes a channel whose peer reset it at
   * once but tells Vert.x (and so {@code ws.isClosed()}) a task later; meanwhile the channel reports itself
   * unwritable, which must not pass for a full queue.
   */
  static boolean connected(ServerWebSocket ws) {
    ChannelHandlerContext c = vertxHandler(ws);
    return c == null || c.channel().isActive();
  }

  /**
   * Cuts the TCP connection under a WebSocket without a close handshake, with a reset (linger 0) so the
   * kernel drops what the peer never read instead of keeping the socket to deliver it. The close starts
   * below Vert.x's connection handler, which would otherwise wait for the close handshake it has begun.
   *
   * @return false when the connection is already closed
   */
  static boolean abort(ServerWebSocket ws) {
    ChannelHandlerContext vertxHandler = vertxHandler(ws);
    if (vertxHandler == null || !vertxHandler.channel().isOpen()) {
      return false;
    }
    vertxHandler.channel().config().setOption(ChannelOption.SO_LINGER, 0);
    vertxHandler.close();
    return true;
  }

  /**
   * False once the bytes waiting for the socket pass its high-water mark: Vert.x sets that mark from
   * {@code setWriteQueueMaxSize} ({@code outbound_queue_bytes}), and raw writes bypass Vert.x's own queue.
   */
  boolean writable() {
    return channel.isWritable();
  }

  /** Queues a duplicate of the shared frame without flushing; the channel releases it once written. */
  void write(ByteBuf wire) {
    encoder.write(wire.retainedDuplicate(), encoder.voidPromise());
  }

  /**
   * Writes the frame to the socket at once when nothing is pending on it, so it cannot overtake earlier
   * bytes. A partial write queues the rest behind it in the pipeline, for the caller's next flush. On
   * io_uring the frame is submitted instead, and the socket's later writes wait in its {@link SendGate}.
   *
   * @return false when nothing was written and the caller must {@link #write} the frame instead
   */
  boolean writeDirect(ByteBuf wire) {
    // An open channel on its own loop owns its descriptor: the number cannot have been closed and reused.
    // On io_uring Netty closes it with a submission queued after the send, which the kernel takes in order.
    if ((fd == null && gate == null) || !wire.hasMemoryAddress() || !channel.isOpen() || pendingBytes() != 0) {
      return false;
    }
    if (gate != null) {
      return gate.send(wire);
    }
    int written;
    try {
      written = fd.writeAddress(wire.memoryAddress(), wire.readerIndex(), wire.writerIndex());
    } catch (IOException e) {
      return false; // the pipeline write meets the same error and closes the channel the usual way
    }
    if (written <= 0) {
      return false;
    }
    if (written < wire.readableBytes()) {
      encoder.write(wire.retainedSlice(wire.readerIndex() + written, wire.readableBytes() - written),
          encoder.voidPromise());
    }
    return true;
  }

  /**
   * On io_uring without TLS, the socket's gate, whose {@link SendGate#sendIfIdle} sends a frame to an idle
   * socket without the checks of {@link #writable} and {@link #writeDirect}; otherwise null.
   */
  SendGate gate() {
    return gate;
  }

  /** Whether an io_uring send of a frame is still waiting for its completion. */
  boolean sending() {
    return gate != null && gate.sending();
  }

  /** Flushes what {@link #write} queued; a pass that only wrote directly has nothing to flush. */
  void flush() {
    if (pendingBytes() != 0) {
      encoder.flush();
    }
  }

  private long pendingBytes() {
    return pendingBytes(channel);
  }

  /** Bytes waiting in the channel's Netty buffer, or -1 once the channel has closed (no buffer left). */
  static long pendingBytes(Channel channel) {
    ChannelOutboundBuffer out = channel.unsafe().outboundBuffer();
    return out == null ? -1 : out.totalPendingWriteBytes();
  }
}
