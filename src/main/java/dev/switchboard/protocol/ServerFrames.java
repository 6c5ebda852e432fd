package dev.switchboard.protocol;

import dev.switchboard.bus.Publication;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.Collection;

/** The only place server → client JSON is written (SPEC §4). */
public final class ServerFrames {

  private ServerFrames() {}

  /** A delivery; built once per publication and shared by every subscriber. */
  public static String message(Publication p) {
    return messageJson(p).encode();
  }

  /** The message frame as an object (history answers list these). */
  public static JsonObject messageJson(Publication p) {
    JsonObject o = new JsonObject()
        .put("type", "message")
        .put("channel", p.channel())
        .put("message", p.message())
        .put("from_user", p.fromUser())
        .put("timestamp", p.timestamp());
    if (p.hasPosition()) {
      o.put("offset", p.offset()).put("epoch", p.epoch());
    }
    return o;
  }

  public static String ack(Object id) {
    return withId(new JsonObject().put("type", "ack"), id).encode();
  }

  public static String ack(Object id, JsonObject extra) {
    JsonObject o = withId(new JsonObject().put("type", "ack"), id);
    extra.forEach(e -> o.put(e.getKey(), e.getValue()));
    return o.encode();
  }

  public static String error(ProtocolError e) {
    return error(e.id(), e.code(), e.message());
  }

  public static String error(Object id, ErrorCode code, String message) {
    return withId(new JsonObject().put("type", "error"), id)
        .put("code", code.wire())
        .put("message", message)
        .encode();
  }

  /**
   * An error about one channel of a request that otherwise succeeded (a channel an auth frame asked for):
   * no id, since the request's own answer carries it, but the channel, so a client can tell which.
   */
  public static String channelError(ErrorCode code, String channel, String message) {
    return new JsonObject().put("type", "error").put("code", code.wire()).put("channel", channel)
        .put("message", message).encode();
  }

  public static String authSuccess(Object id, String userId, String sessionId, String node,
                                   Collection<String> channels, int heartbeatSeconds, Long expiresIn) {
    JsonObject o = withId(new JsonObject().put("type", "auth_success"), id)
        .put("user_id", userId)
        .put("session_id", sessionId)
        .put("node", node)
        .put("channels", new JsonArray(channels.stream().sorted().toList()))
        .put("heartbeat", heartbeatSeconds);
    if (expiresIn != null) {
      o.put("expires_in", expiresIn);
    }
    return o.encode();
  }

  public static String presence(Object id, String channel, JsonArray users) {
    return withId(new JsonObject().put("type", "presence"), id)
        .put("channel", channel)
        .put("users", users)
        .put("count", users.size())
        .encode();
  }

  public static String reply(Object id, Object message) {
    return withId(new JsonObject().put("type", "reply"), id).put("message", message).encode();
  }

  /** @param truncated older messages the request asked for were left out to keep the frame within its bound */
  public static String history(Object id, String channel, JsonArray messages, long offset, String epoch,
                               boolean truncated) {
    JsonObject frame = withId(new JsonObject().put("type", "history"), id)
        .put("channel", channel)
        .put("messages", messages)
        .put("offset", offset)
        .put("epoch", epoch);
    if (truncated) {
      frame.put("truncated", true);
    }
    return frame.encode();
  }

  public static String pong(Object id) {
    return withId(new JsonObject().put("type", "pong"), id).encode();
  }

  private static JsonObject withId(JsonObject o, Object id) {
    if (id == Frame.NULL_ID) {
      o.putNull("id");
    } else if (id != null) {
      o.put("id", id);
    }
    return o;
  }
}
