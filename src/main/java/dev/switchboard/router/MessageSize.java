package dev.switchboard.router;

import io.netty.buffer.ByteBufUtil;
import io.vertx.core.json.Json;

/**
 * {@code session.max_message_size} as every backend path applies it to a message: in bytes of its UTF-8
 * JSON, as a WebSocket frame is measured, not in Java characters (a message of 40,000 "é" is 80,000 bytes).
 */
public final class MessageSize {

  private MessageSize() {}

  public static boolean over(Object message, int maxBytes) {
    String json = Json.encode(message);
    // Characters never outnumber UTF-8 bytes, and never take more than three of them.
    return json.length() > maxBytes || (json.length() * 3L > maxBytes && ByteBufUtil.utf8Bytes(json) > maxBytes);
  }

  public static String refusal(int maxBytes) {
    return "message is larger than max_message_size (" + maxBytes + " bytes)";
  }
}
