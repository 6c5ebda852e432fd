package dev.switchboard.gateway;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;

/**
 * Whole server-to-client WebSocket frames, built once per publication and written to every subscriber's
 * socket as a retained duplicate: one UTF-8 encoding and one frame header per node, not per socket.
 */
final class WireFrames {

  private WireFrames() {}

  /**
   * An unmasked final text frame in a direct buffer (the native transport writes it without a copy). The
   * caller owns one reference and releases it after handing {@code retainedDuplicate()}s to the sockets.
   */
  static ByteBuf text(String payload) {
    int len = ByteBufUtil.utf8Bytes(payload);
    ByteBuf b = ByteBufAllocator.DEFAULT.directBuffer(len + 10);
    b.writeByte(0x81);
    if (len < 126) {
      b.writeByte(len);
    } else if (len < 65536) {
      b.writeByte(126).writeShort(len);
    } else {
      b.writeByte(127).writeLong(len);
    }
    ByteBufUtil.reserveAndWriteUtf8(b, payload, len);
    return b;
  }
}
