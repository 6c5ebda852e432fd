package dev.switchboard.gateway;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.websocketx.WebSocketFrameEncoder;
import io.netty.handler.codec.http.websocketx.extensions.WebSocketExtensionEncoder;
import io.vertx.core.http.ServerWebSocket;
import io.vertx.core.http.impl.WebSocketImplBase;

/**
 * One WebSocket's Netty pipeline, for deliveries pre-built as whole frames ({@link WireFrames}). They are
 * written from the WebSocket frame encoder's place, so they pass only the handlers nearer the socket (TLS)
 * and skip those above it, which would only forward bytes unchanged: the encoder itself (it takes frame
 * objects) and Vert.x's idle handler, whose per-write promise and listener would cost more than the write
 * (the session's own idle rule fires before it anyway). Only used on the channel's event loop.
 */
final class RawSocket {

  private final ChannelHandlerContext encoder;
  private final Channel channel;

  private RawSocket(ChannelHandlerContext encoder) {
    this.encoder = encoder;
    this.channel = encoder.channel();
  }

  /**
   * @return null when frames cannot be written raw: permessage-deflate was negotiated (its encoder must
   *     see every delivery, which must stay compressed), or the pipeline is not the one Vert.x builds
   */
  static RawSocket of(ServerWebSocket ws) {
    if (ws instanceof WebSocketImplBase<?> impl) {
      ChannelHandlerContext c = impl.channelHandlerContext();
      if (c != null && c.pipeline().get(WebSocketExtensionEncoder.class) == null) {
        ChannelHandlerContext encoder = c.pipeline().context(WebSocketFrameEncoder.class);
        return encoder == null ? null : new RawSocket(encoder);
      }
    }
    return null;
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

  void flush() {
    encoder.flush();
  }
}
