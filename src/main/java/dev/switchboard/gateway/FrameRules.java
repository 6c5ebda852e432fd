package dev.switchboard.gateway;

import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.websocketx.CorruptedWebSocketFrameException;
import io.netty.handler.codec.http.websocketx.PingWebSocketFrame;
import io.netty.handler.codec.http.websocketx.Utf8FrameValidator;
import io.netty.handler.codec.http.websocketx.WebSocketCloseStatus;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;
import io.vertx.core.http.ServerWebSocket;

/**
 * The two RFC 6455 rules on inbound frames that Vert.x 5.0's server leaves unchecked, and a bound on the pongs
 * it answers pings with. The rules: text must be UTF-8
 * (§8.1, close 1007), and the RSV bits must be 0 unless a negotiated extension defines them (§5.2, close
 * 1002). Vert.x decodes text with replacement characters, and it allows extensions on every connection
 * when compression is on, so Netty's decoder lets RSV bits through even where nothing was negotiated.
 *
 * <p>Sits right in front of Vert.x's handler, behind the permessage-deflate decoder when one was
 * negotiated, which clears RSV1 as it inflates: any bit still set here is one no extension took. A broken
 * frame fails the way a malformed one does in Netty's decoder, as a {@link CorruptedWebSocketFrameException}
 * that the session turns into its close code ({@link Session}'s socket-error handler).
 */
final class FrameRules extends Utf8FrameValidator {

  static final String NAME = "switchboardFrameRules";

  private FrameRules() {
    super(false);
  }

  static void install(ServerWebSocket ws) {
    ChannelHandlerContext vertxHandler = RawSocket.vertxHandler(ws);
    if (vertxHandler != null && vertxHandler.pipeline().get(NAME) == null) {
      vertxHandler.pipeline().addBefore(vertxHandler.name(), NAME, new FrameRules());
    }
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
    if (msg instanceof PingWebSocketFrame ping && !ctx.channel().isWritable()) {
      // Vert.x answers every ping with a pong outside the session's bounded queue: a client that sends pings
      // and reads nothing piled up pongs until the heap ran out. While the socket's backlog is full, a ping goes
      // unanswered; RFC 6455 §5.5.3 lets an endpoint answer only the latest of the pings it has not answered.
      ping.release();
      return;
    }
    if (msg instanceof WebSocketFrame frame && frame.rsv() != 0) {
      frame.release();
      throw new CorruptedWebSocketFrameException(WebSocketCloseStatus.PROTOCOL_ERROR,
          "RSV bits set (" + frame.rsv() + ") without an extension that defines them");
    }
    super.channelRead(ctx, msg);
  }

  /** Passes the failure on for the session to close with its code; Netty's validator would cut the socket. */
  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    ctx.fireExceptionCaught(cause);
  }
}
