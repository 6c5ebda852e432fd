package dev.switchboard.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocket08FrameDecoder;
import io.netty.handler.codec.http.websocketx.WebSocketDecoderConfig;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The pre-built delivery frame decodes, with Netty's own decoder, to the text it was built from. */
class WireFramesTest {

  /** Around each length encoding of RFC 6455 §5.2: 7-bit, 16-bit and 64-bit. */
  @ParameterizedTest(name = "{0} payload bytes")
  @ValueSource(ints = {0, 1, 125, 126, 127, 65_535, 65_536, 200_000})
  void decodesToTheSameText(int bytes) {
    String text = "é".repeat(bytes / 2) + "x".repeat(bytes % 2);
    ByteBuf wire = WireFrames.text(text);
    EmbeddedChannel ch = new EmbeddedChannel(new WebSocket08FrameDecoder(WebSocketDecoderConfig.newBuilder()
        .expectMaskedFrames(false).maxFramePayloadLength(1 << 20).build()));
    // Every socket writes its own retained duplicate: the shared bytes must stay readable for the next one.
    for (int i = 0; i < 2; i++) {
      assertTrue(ch.writeInbound(wire.retainedDuplicate()), "a frame came out");
      TextWebSocketFrame f = ch.readInbound();
      assertTrue(f.isFinalFragment());
      assertEquals(text, f.text());
      f.release();
    }
    ch.finishAndReleaseAll();
    assertTrue(wire.release(), "the hub's own reference was the last one: nothing leaks");
  }
}
