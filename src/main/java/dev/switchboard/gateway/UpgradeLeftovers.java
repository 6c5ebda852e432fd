package dev.switchboard.gateway;

import io.netty.channel.ChannelPipeline;
import io.netty.handler.stream.ChunkedWriteHandler;
import io.vertx.core.http.ServerWebSocket;
import io.vertx.core.http.impl.WebSocketImplBase;

/**
 * HTTP handlers a WebSocket never uses but Vert.x 5.0 leaves in its pipeline on some transports. On epoll
 * the upgrade strips the pipeline down to the WebSocket codec; on io_uring the 101 response completes a
 * loop pass later and Vert.x's chunked writer stays for the life of the connection: a handler context and
 * a handler per idle socket (about 100 bytes of heap), and one more hop for every frame Vert.x writes.
 * WebSocket frames are never {@code ChunkedInput}s, so the handler holds nothing when it is removed.
 */
final class UpgradeLeftovers {

  /** The name Vert.x's HttpServerConnectionInitializer gives it. */
  static final String CHUNKED_WRITER = "chunkedWriter";

  private UpgradeLeftovers() {}

  static void drop(ServerWebSocket ws) {
    if (ws instanceof WebSocketImplBase<?> impl && impl.channelHandlerContext() != null) {
      drop(impl.channelHandlerContext().pipeline());
    }
  }

  static void drop(ChannelPipeline pipeline) {
    if (pipeline.get(CHUNKED_WRITER) instanceof ChunkedWriteHandler) {
      pipeline.remove(CHUNKED_WRITER);
    }
  }
}
