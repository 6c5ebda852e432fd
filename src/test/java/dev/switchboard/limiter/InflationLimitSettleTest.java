package dev.switchboard.limiter;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;
import io.netty.handler.codec.http.websocketx.extensions.WebSocketExtensionDecoder;
import java.util.List;
import io.netty.handler.codec.http.websocketx.extensions.compression.PerMessageDeflateServerExtensionHandshaker;
import org.junit.jupiter.api.Test;

/** The error translator stays only where an extension decoder can raise an inflation error. */
class InflationLimitSettleTest {

  /** Stands in for the permessage-deflate decoder Netty adds when compression is negotiated. */
  static final class SomeExtensionDecoder extends WebSocketExtensionDecoder {
    @Override
    protected void decode(ChannelHandlerContext ctx, WebSocketFrame msg, List<Object> out) {
      out.add(msg.retain());
    }
  }

  @Test
  void uncompressedSocketDropsTheTranslator() {
    EmbeddedChannel ch = new EmbeddedChannel();
    ch.pipeline().addLast(InflationLimit.ERRORS, InflationLimit.TooBigOnInflationLimit.INSTANCE);
    InflationLimit.settle(ch.pipeline());
    assertNull(ch.pipeline().get(InflationLimit.ERRORS));
    ch.finishAndReleaseAll();
  }

  @Test
  void compressedSocketKeepsTheTranslator() {
    EmbeddedChannel ch = new EmbeddedChannel();
    ch.pipeline().addLast("decoder", new SomeExtensionDecoder());
    ch.pipeline().addLast(InflationLimit.ERRORS, InflationLimit.TooBigOnInflationLimit.INSTANCE);
    InflationLimit.settle(ch.pipeline());
    assertNotNull(ch.pipeline().get(InflationLimit.ERRORS));
    ch.finishAndReleaseAll();
  }

  /** A pipeline mid-upgrade: the settling extension handler, the negotiated decoder if any, the translator. */
  private static EmbeddedChannel upgrading(boolean negotiated) {
    EmbeddedChannel ch = new EmbeddedChannel();
    ch.pipeline().addLast(InflationLimit.HANDLER, new InflationLimit.SettlingExtensionHandler(
        new PerMessageDeflateServerExtensionHandshaker()));
    if (negotiated) {
      ch.pipeline().addLast("decoder", new SomeExtensionDecoder());
    }
    ch.pipeline().addLast(InflationLimit.ERRORS, InflationLimit.TooBigOnInflationLimit.INSTANCE);
    return ch;
  }

  @Test
  void theExtensionHandlerSettlesWhenItLeavesAfterTheUpgrade() {
    EmbeddedChannel ch = upgrading(false);
    assertNotNull(ch.pipeline().get(InflationLimit.ERRORS), "kept while the upgrade response is in flight");
    ch.pipeline().remove(InflationLimit.HANDLER);
    assertNull(ch.pipeline().get(InflationLimit.ERRORS));
    ch.finishAndReleaseAll();
  }

  @Test
  void aNegotiatedDecoderKeepsTheTranslatorWhenTheHandlerLeaves() {
    EmbeddedChannel ch = upgrading(true);
    ch.pipeline().remove(InflationLimit.HANDLER);
    assertNotNull(ch.pipeline().get(InflationLimit.ERRORS));
    ch.finishAndReleaseAll();
  }
}
