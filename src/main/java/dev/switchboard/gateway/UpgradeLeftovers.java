package dev.switchboard.gateway;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.stream.ChunkedWriteHandler;
import io.netty.handler.timeout.IdleStateHandler;
import io.vertx.core.http.ServerWebSocket;

/**
 * HTTP handlers a WebSocket session never uses but Vert.x 5.0 leaves in its pipeline, dropped at accept:
 *
 * <ul>
 *   <li>the idle handler of the HTTP idle timeout, which bounds connections that never finish a request.
 *       On a WebSocket its work is done by the session's own rules on the gateway's one timer (idle 1001,
 *       auth timeout, and the close grace once closed: {@link Session#tickClosing}); kept, it is a
 *       scheduled task per connection, re-armed for its life, and a promise and listener on every frame
 *       Vert.x writes;
 *   <li>the {@link RequestDeadlines} clock: a WebSocket sends no more request heads or bodies;
 *   <li>on io_uring, where the 101 response completes a loop pass later, Vert.x's chunked writer, which
 *       stays for the life of the connection. WebSocket frames are never {@code ChunkedInput}s, so it holds
 *       nothing when it is removed.
 * </ul>
 *
 * Each is a handler context and a handler per idle socket, about 100 bytes of heap, the idle handler's task
 * about as much again, and one more hop for every frame Vert.x writes.
 */
final class UpgradeLeftovers {

  /** The names Vert.x's HTTP server gives them. */
  static final String CHUNKED_WRITER = "chunkedWriter";
  static final String IDLE = "idle";

  private UpgradeLeftovers() {}

  static void drop(ServerWebSocket ws) {
    ChannelHandlerContext vertxHandler = RawSocket.vertxHandler(ws);
    if (vertxHandler != null) {
      drop(vertxHandler.pipeline());
    }
  }

  static void drop(ChannelPipeline pipeline) {
    if (pipeline.get(CHUNKED_WRITER) instanceof ChunkedWriteHandler) {
      pipeline.remove(CHUNKED_WRITER);
    }
    if (pipeline.get(IDLE) instanceof IdleStateHandler) {
      // Removing it cancels its scheduled task.
      pipeline.remove(IDLE);
    }
    if (pipeline.get(RequestDeadlines.HANDLER) != null) {
      pipeline.remove(RequestDeadlines.HANDLER);
    }
  }
}
