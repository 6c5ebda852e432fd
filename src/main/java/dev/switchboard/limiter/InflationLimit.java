package dev.switchboard.limiter;

import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.compression.DecompressionException;
import io.netty.handler.codec.compression.ZlibCodecFactory;
import io.netty.handler.codec.http.websocketx.CorruptedWebSocketFrameException;
import io.netty.handler.codec.http.websocketx.WebSocketCloseStatus;
import io.netty.handler.codec.http.websocketx.extensions.WebSocketExtensionDecoder;
import io.netty.handler.codec.http.websocketx.extensions.WebSocketExtensionFilterProvider;
import io.netty.handler.codec.http.websocketx.extensions.WebSocketServerExtensionHandler;
import io.netty.handler.codec.http.websocketx.extensions.WebSocketServerExtensionHandshaker;
import io.netty.handler.codec.http.websocketx.extensions.compression.DeflateFrameServerExtensionHandshaker;
import io.netty.handler.codec.http.websocketx.extensions.compression.PerMessageDeflateServerExtensionHandshaker;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpConnection;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.ServerWebSocket;
import io.vertx.core.http.impl.WebSocketImplBase;
import io.vertx.core.internal.ContextInternal;
import io.vertx.core.net.impl.ConnectionBase;
import java.util.ArrayList;
import java.util.List;

/**
 * Bounds WebSocket decompression. Vert.x 5.0 negotiates permessage-deflate with Netty's handshakers built
 * without a limit, so a frame that is small on the wire (under {@code max_message_size}) is inflated in full
 * before anything can look at its size: 64 KiB of compressed zeros becomes about 64 MB, allocated and
 * decoded on the event loop, and one client doing that once per connection starves every other session on
 * that loop. This swaps the connection's extension handler, before any upgrade happens on it, for the same
 * negotiation (same options, so clients see no difference) whose decoders stop inflating at
 * {@code maxMessageSize}; the excess surfaces as a decompression error and the session closes with 1009
 * (1007 for data that does not inflate).
 *
 * <p>Uses Vert.x's {@code ConnectionBase} to reach the Netty pipeline: internal API, checked against the
 * pinned Vert.x version by {@code DecompressionBombTest}.
 */
public final class InflationLimit {

  /** The pipeline name Vert.x gives the extension handler (HttpServerConnectionHandler). */
  static final String HANDLER = "webSocketExtensionHandler";
  /** How far past max_message_size a frame may inflate before it is stopped (see {@link #install}). */
  static final int INFLATE_SLACK = 4096;

  private InflationLimit() {}

  /** For {@code HttpServer.connectionHandler}: call on every new connection. */
  public static void install(HttpConnection conn, HttpServerOptions opts, int maxMessageSize) {
    if (!(conn instanceof ConnectionBase base)) {
      return;
    }
    ChannelPipeline pipeline = base.channelHandlerContext().pipeline();
    if (pipeline.get(HANDLER) == null) {
      return;
    }
    // Netty's inflater stops short of its bound (it keeps room in its output buffer: a message of 65,025
    // bytes was refused under a 65,536 bound), so the bound gets slack; Session applies the exact limit
    // to the inflated payload, the same with and without compression.
    int bound = maxMessageSize + INFLATE_SLACK;
    List<WebSocketServerExtensionHandshaker> handshakers = new ArrayList<>();
    if (opts.getPerFrameWebSocketCompressionSupported()) {
      handshakers.add(new DeflateFrameServerExtensionHandshaker(opts.getWebSocketCompressionLevel(),
          WebSocketExtensionFilterProvider.DEFAULT, bound));
    }
    if (opts.getPerMessageWebSocketCompressionSupported()) {
      handshakers.add(new PerMessageDeflateServerExtensionHandshaker(opts.getWebSocketCompressionLevel(),
          ZlibCodecFactory.isSupportingWindowSizeAndMemLevel(), 15, opts.getWebSocketAllowServerNoContext(),
          opts.getWebSocketPreferredClientNoContext(), bound));
    }
    if (!handshakers.isEmpty()) {
      pipeline.replace(HANDLER, HANDLER,
          new SettlingExtensionHandler(handshakers.toArray(new WebSocketServerExtensionHandshaker[0])));
      // The negotiated decoder is inserted right after the extension handler, so this stays behind it.
      pipeline.addAfter(HANDLER, ERRORS, TooBigOnInflationLimit.INSTANCE);
    }
  }

  /**
   * Once the upgrade response is written: a socket that negotiated no compression has nothing to inflate,
   * so the error translator leaves its pipeline — one handler context less on every idle connection.
   */
  static void settle(ChannelPipeline pipeline) {
    if (pipeline.get(WebSocketExtensionDecoder.class) == null && pipeline.get(ERRORS) != null) {
      pipeline.remove(ERRORS);
    }
  }

  static final String ERRORS = "inflationLimitErrors";

  /**
   * Netty's handler leaves the pipeline once the 101 response is written, after it has added the negotiated
   * decoders: the first moment it is known whether this socket inflates anything. On epoll that is before
   * Vert.x hands over the WebSocket; on io_uring the write completes a loop pass later, so the decision
   * cannot be made when the session starts.
   */
  static final class SettlingExtensionHandler extends WebSocketServerExtensionHandler {
    private Promise<Void> removed;

    SettlingExtensionHandler(WebSocketServerExtensionHandshaker... handshakers) {
      super(handshakers);
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) throws Exception {
      super.handlerRemoved(ctx);
      if (ctx.channel().isActive()) {
        settle(ctx.pipeline());
      }
      if (removed != null) {
        removed.tryComplete();
      }
    }
  }

  /**
   * Completes once the 101 response is written and the negotiated compression codec, if any, is in place —
   * at once where it already is (epoll writes the response before Vert.x hands over the WebSocket; io_uring a
   * loop pass later). A frame sent before that would bypass the codec and go out uncompressed. Also completes
   * if the connection closes first. Call on the connection's event loop.
   */
  public static Future<Void> whenUpgradeWritten(ServerWebSocket ws) {
    if (extensionHandler(ws) instanceof SettlingExtensionHandler h) {
      ContextInternal context = (ContextInternal) Vertx.currentContext();
      if (h.removed == null) {
        h.removed = context != null ? context.promise() : Promise.promise();
      }
      return h.removed.future();
    }
    return Future.succeededFuture();
  }

  /** Whether {@link #whenUpgradeWritten} has completed, asked without waiting: no extension handler is left. */
  public static boolean upgradeWritten(ServerWebSocket ws) {
    return extensionHandler(ws) == null;
  }

  private static WebSocketServerExtensionHandler extensionHandler(ServerWebSocket ws) {
    return ws instanceof WebSocketImplBase<?> impl && impl.channelHandlerContext() != null
        ? impl.channelHandlerContext().pipeline().get(WebSocketServerExtensionHandler.class) : null;
  }

  /**
   * Turns a failed inflation into what Netty raises for a bad frame, so the session closes with the code for
   * it: 1009 when the message inflated past the limit, 1007 when the data does not inflate at all.
   *
   * <p>Either way the decoder leaves the pipeline first. Its inflater is broken for good after a failure, and
   * Netty's decoder finishes its inflater when the channel goes inactive: that throws again, and the
   * inactive event then never reached Vert.x, so the session was never closed, and its connection count and
   * user slot were held for good.
   */
  @ChannelHandler.Sharable
  static final class TooBigOnInflationLimit extends ChannelInboundHandlerAdapter {
    static final TooBigOnInflationLimit INSTANCE = new TooBigOnInflationLimit();

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      Throwable t = cause;
      while (t != null && !(t instanceof DecompressionException)) {
        t = t.getCause();
      }
      if (t == null) {
        ctx.fireExceptionCaught(cause);
        return;
      }
      dropDecoder(ctx.pipeline());
      // Netty's bounded inflater says "maximum size" when it stops at the bound; anything else is bad data.
      boolean tooBig = String.valueOf(t.getMessage()).contains("maximum size");
      ctx.fireExceptionCaught(tooBig
          ? new CorruptedWebSocketFrameException(WebSocketCloseStatus.MESSAGE_TOO_BIG,
              "compressed message inflates past max_message_size")
          : new CorruptedWebSocketFrameException(WebSocketCloseStatus.INVALID_PAYLOAD_DATA,
              "compressed data that does not inflate"));
    }

    private static void dropDecoder(ChannelPipeline pipeline) {
      WebSocketExtensionDecoder decoder = pipeline.get(WebSocketExtensionDecoder.class);
      if (decoder == null) {
        return;
      }
      try {
        pipeline.remove(decoder);
      } catch (RuntimeException alreadyBroken) {
        // Removal releases the broken inflater, which may throw once more; the decoder is out all the same.
      }
    }
  }
}
