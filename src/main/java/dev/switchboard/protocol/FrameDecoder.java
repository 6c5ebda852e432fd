package dev.switchboard.protocol;

import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.Json;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;

/**
 * Turns one text frame into a {@link Frame} or a {@link ProtocolError}. It never throws: every way a frame
 * can be wrong maps to {@code bad_request} with a reason a client developer can act on.
 */
public final class FrameDecoder {

  private FrameDecoder() {}

  /** The outcome of decoding: exactly one of frame and error is non-null. */
  public record Decoded(Frame frame, ProtocolError error) {
    static Decoded ok(Frame f) {
      return new Decoded(f, null);
    }

    static Decoded fail(String message, Object id) {
      return new Decoded(null, ProtocolError.badRequest(message, id));
    }
  }

  public static Decoded decode(String text) {
    try {
      return decodeUnchecked(text);
    } catch (RuntimeException e) {
      // Defensive: a decoder bug must answer bad_request, never kill the connection.
      return Decoded.fail("could not decode frame: " + e.getClass().getSimpleName(), null);
    }
  }

  /**
   * Just the request id of a frame, for answering one that is refused before decoding (over the rate
   * budget); null when the text is not a JSON object or its id is not a string or number.
   */
  public static Object idOf(String text) {
    try {
      Object id = Json.decodeValue(text) instanceof JsonObject o ? idField(o) : null;
      return id instanceof String || id instanceof Number || id == Frame.NULL_ID ? id : null;
    } catch (RuntimeException e) {
      return null;
    }
  }

  private static Object idField(JsonObject obj) {
    Object id = obj.getValue("id");
    return id == null && obj.containsKey("id") ? Frame.NULL_ID : id;
  }

  private static Decoded decodeUnchecked(String text) {
    if (text == null || text.isBlank()) {
      return Decoded.fail("empty frame", null);
    }
    Object parsed;
    try {
      parsed = Json.decodeValue(text);
    } catch (DecodeException e) {
      // Jackson's read limits (nesting depth, number length) refuse valid JSON too: say which limit it was.
      Throwable c = e.getCause();
      return Decoded.fail(c instanceof StreamConstraintsException limit
          ? "frame exceeds a JSON limit: " + limit.getOriginalMessage() : "frame is not valid JSON", null);
    }
    if (!(parsed instanceof JsonObject obj)) {
      return Decoded.fail("frame must be a JSON object", null);
    }
    Object id = idField(obj);
    if (id != null && id != Frame.NULL_ID && !(id instanceof String) && !(id instanceof Number)) {
      return Decoded.fail("id must be a string, a number or null", null);
    }
    if (id instanceof Double d && !Double.isFinite(d)) {
      // 1e999 parses to Infinity, which would be echoed as the string "Infinity": not the id that was sent.
      return Decoded.fail("id must be a finite number", null);
    }
    Object type = obj.getValue("type");
    if (type == null) {
      return Decoded.fail("missing field: type", id);
    }
    if (!(type instanceof String t)) {
      return Decoded.fail("type must be a string", id);
    }
    return switch (t) {
      case "auth" -> auth(obj, id);
      case "subscribe" -> subscribe(obj, id);
      case "unsubscribe" -> channelOnly(obj, id).map(ch -> new Frame.Unsubscribe(id, ch));
      case "broadcast", "publish" -> publish(obj, id);
      case "send" -> send(obj, id);
      case "presence" -> channelOnly(obj, id).map(ch -> new Frame.Presence(id, ch));
      case "request" -> request(obj, id);
      case "history" -> history(obj, id);
      case "ping" -> Decoded.ok(new Frame.Ping(id));
      default -> Decoded.fail("unknown type: " + truncate(t), id);
    };
  }

  private static Decoded auth(JsonObject obj, Object id) {
    Object apiKey = obj.getValue("api_key");
    if (apiKey != null && !obj.containsKey("token")) {
      return apiKey instanceof String k && !k.isEmpty() ? Decoded.ok(new Frame.AdminAuth(id, k))
          : Decoded.fail("api_key must be a non-empty string", id);
    }
    Object token = obj.getValue("token");
    // An empty token is an auth attempt that fails (unauthorized, then 1008, as an empty ?token= does), not a
    // malformed frame that leaves the client waiting for the auth timeout.
    if (!(token instanceof String s)) {
      return Decoded.fail(token == null ? "missing field: token" : "token must be a string", id);
    }
    Object chans = obj.getValue("channels");
    List<String> channels = new ArrayList<>();
    if (chans != null) {
      if (!(chans instanceof JsonArray arr)) {
        return Decoded.fail("channels must be an array of strings", id);
      }
      for (Object c : arr) {
        if (!(c instanceof String cs)) {
          return Decoded.fail("channels must be an array of strings", id);
        }
        channels.add(cs);
      }
    }
    return Decoded.ok(new Frame.Auth(id, s, List.copyOf(channels)));
  }

  private static Decoded subscribe(JsonObject obj, Object id) {
    ChannelOrError ch = channel(obj, id);
    if (ch.error != null) {
      return ch.error;
    }
    Object since = obj.getValue("since");
    Frame.Since s = null;
    if (since != null) {
      if (!(since instanceof JsonObject so)) {
        return Decoded.fail("since must be an object {\"offset\":n,\"epoch\":\"…\"}", id);
      }
      Object off = so.getValue("offset");
      Object epoch = so.getValue("epoch");
      if (!(off instanceof Number n) || n.longValue() < 0 || n.doubleValue() != Math.floor(n.doubleValue())) {
        return Decoded.fail("since.offset must be a non-negative integer", id);
      }
      if (epoch != null && !(epoch instanceof String)) {
        return Decoded.fail("since.epoch must be a string", id);
      }
      s = new Frame.Since(n.longValue(), (String) epoch);
    }
    return Decoded.ok(new Frame.Subscribe(id, ch.channel, s));
  }

  private static Decoded publish(JsonObject obj, Object id) {
    ChannelOrError ch = channel(obj, id);
    if (ch.error != null) {
      return ch.error;
    }
    if (!obj.containsKey("message") || obj.getValue("message") == null) {
      return Decoded.fail("missing field: message", id);
    }
    return Decoded.ok(new Frame.Publish(id, ch.channel, obj.getValue("message")));
  }

  private static Decoded send(JsonObject obj, Object id) {
    Object to = obj.getValue("to");
    if (to == null) {
      return Decoded.fail("missing field: to", id);
    }
    if (!(to instanceof String user)) {
      return Decoded.fail("to must be a user id (a string)", id);
    }
    String problem = Channel.userIdProblem(user);
    if (problem != null) {
      return Decoded.fail("to " + problem, id);
    }
    if (!obj.containsKey("message") || obj.getValue("message") == null) {
      return Decoded.fail("missing field: message", id);
    }
    return Decoded.ok(new Frame.Send(id, user, obj.getValue("message")));
  }

  private static Decoded request(JsonObject obj, Object id) {
    Object address = obj.getValue("address");
    if (address == null) {
      return Decoded.fail("missing field: address", id);
    }
    if (!(address instanceof String a) || a.isEmpty() || a.length() > 255) {
      return Decoded.fail("address must be a non-empty string of at most 255 characters", id);
    }
    if (obj.getValue("message") == null) {
      return Decoded.fail("missing field: message", id);
    }
    return Decoded.ok(new Frame.Request(id, a, obj.getValue("message")));
  }

  private static Decoded history(JsonObject obj, Object id) {
    ChannelOrError ch = channel(obj, id);
    if (ch.error != null) {
      return ch.error;
    }
    Object limit = obj.getValue("limit");
    Integer l = null;
    if (limit != null) {
      if (!(limit instanceof Number n) || n.doubleValue() != Math.floor(n.doubleValue()) || n.doubleValue() < 0) {
        return Decoded.fail("limit must be a non-negative integer", id);
      }
      // Any larger limit means "all that is kept", which history_size bounds anyway.
      l = n.doubleValue() >= Integer.MAX_VALUE ? Integer.MAX_VALUE : n.intValue();
    }
    return Decoded.ok(new Frame.History(id, ch.channel, l));
  }

  private interface FrameFactory {
    Frame make(Channel ch);
  }

  private record ChannelOrError(Channel channel, Decoded error) {
    Decoded map(FrameFactory f) {
      return error != null ? error : Decoded.ok(f.make(channel));
    }
  }

  private static ChannelOrError channelOnly(JsonObject obj, Object id) {
    return channel(obj, id);
  }

  private static ChannelOrError channel(JsonObject obj, Object id) {
    Object raw = obj.getValue("channel");
    if (raw == null) {
      return new ChannelOrError(null, Decoded.fail("missing field: channel", id));
    }
    if (!(raw instanceof String s)) {
      return new ChannelOrError(null, Decoded.fail("channel must be a string", id));
    }
    Channel.Result r = Channel.parse(s);
    if (!r.ok()) {
      return new ChannelOrError(null, Decoded.fail("bad channel name: " + r.error(), id));
    }
    return new ChannelOrError(r.channel(), null);
  }

  private static String truncate(String s) {
    return s.length() > 40 ? s.substring(0, 40) + "…" : s;
  }
}
