package dev.switchboard.gateway;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;

/** Whole server-to-client WebSocket frames, built once and shared (read-only duplicates) by every socket. */
final class WireFrames {

  private WireFrames() {}

  /** An unmasked final text frame; unreleasable, so each socket's write may release its duplicate freely. */
  static ByteBuf text(String payload) {
    byte[] p = payload.getBytes(StandardCharsets.UTF_8);
    ByteBuf b = Unpooled.buffer(p.length + 10);
    b.writeByte(0x81);
    if (p.length < 126) {
      b.writeByte(p.length);
    } else if (p.length < 65536) {
      b.writeByte(126).writeShort(p.length);
    } else {
      b.writeByte(127).writeLong(p.length);
    }
    return Unpooled.unreleasableBuffer(b.writeBytes(p));
  }
}
