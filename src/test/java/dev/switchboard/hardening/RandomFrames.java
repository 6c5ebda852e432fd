package dev.switchboard.hardening;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.List;
import java.util.Map;
import java.util.Set;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.Tuple;

/**
 * jqwik generators for what a hostile or buggy client may send: arbitrary text, JSON-looking garbage, and
 * JSON objects built from the protocol's own vocabulary (known types and field names, channel-like strings,
 * {@code since} objects) mixed with random values of every JSON type, so most frames get past the first
 * checks and exercise the per-type validation.
 */
final class RandomFrames {

  private RandomFrames() {}

  static final List<String> TYPES = List.of("auth", "subscribe", "unsubscribe", "broadcast", "publish", "send",
      "presence", "request", "history", "ping", "admin_auth");
  static final List<String> FIELDS = List.of("channel", "message", "to", "token", "channels", "since", "limit",
      "address", "id", "api_key", "from_user");
  static final Set<String> SERVER_TYPES = Set.of("message", "ack", "error", "presence", "reply", "history", "pong",
      "auth_success");
  static final Set<String> ERROR_CODES = Set.of("bad_request", "unauthorized", "forbidden", "rate_limited", "too_large",
      "timeout", "internal");

  /** Any text: arbitrary Unicode (surrogates and control characters included) or JSON-looking fragments. */
  static Arbitrary<String> texts() {
    return Arbitraries.oneOf(
        Arbitraries.strings().all().ofMaxLength(300),
        Arbitraries.strings().withChars("{}[]\":,0123456789.-+eE truefalsn\\u/\u0000").ofMaxLength(120),
        jsonValues().map(v -> v == null ? "null" : v instanceof String s ? "\"" + s + "\"" : v.toString()));
  }

  /** Any JSON value, nested up to a few levels. */
  static Arbitrary<Object> jsonValues() {
    return Arbitraries.recursive(RandomFrames::scalars, inner -> Arbitraries.oneOf(
        inner,
        inner.list().ofMaxSize(4).map(l -> (Object) new JsonArray(new java.util.ArrayList<>(l))),
        Arbitraries.maps(Arbitraries.strings().alpha().ofMaxLength(6), inner).ofMaxSize(4)
            .map(m -> (Object) new JsonObject(new java.util.LinkedHashMap<>(m)))), 3);
  }

  static Arbitrary<Object> scalars() {
    return Arbitraries.oneOf(
        Arbitraries.strings().all().ofMaxLength(40).map(s -> (Object) s),
        Arbitraries.integers().map(i -> (Object) i),
        Arbitraries.longs().map(l -> (Object) l),
        Arbitraries.doubles().filter(Double::isFinite).map(d -> (Object) d),
        Arbitraries.of(true, false).map(b -> (Object) b),
        Arbitraries.just((Object) null));
  }

  /** Channel names, valid and not: known namespaces, unknown ones, bad characters, over-long. */
  static Arbitrary<String> channels() {
    return Arbitraries.oneOf(
        Arbitraries.of("room:lobby", "room:r1", "user:fuzzer", "user:bob", "topic:news", "broadcast",
            "segment:dept=sales", "$sys:admin", "nope:x", "room:", ":x", "room:a b", "room:\u0000", "lobby", ""),
        Arbitraries.strings().withChars("abcXYZ019_.:=@-$ /\u00e9\u0007").ofMaxLength(20).map(s -> "room:" + s),
        Arbitraries.strings().withChars("abc:").ofMinLength(250).ofMaxLength(300));
  }

  static Arbitrary<Object> fieldValues() {
    return Arbitraries.frequencyOf(
        Tuple.of(4, channels().map(c -> (Object) c)),
        Tuple.of(4, jsonValues()),
        Tuple.of(1, Combinators.combine(Arbitraries.longs().between(-3, 1_000), Arbitraries.strings().alpha().ofMaxLength(4).injectNull(0.3))
            .as((o, e) -> (Object) new JsonObject().put("offset", o).put("epoch", e))),
        Tuple.of(1, channels().list().ofMaxSize(5).map(l -> (Object) new JsonArray(new java.util.ArrayList<>(l)))),
        Tuple.of(1, Arbitraries.of("service.echo", "service.missing", "other.addr").map(a -> (Object) a)));
  }

  /** JSON objects made of protocol vocabulary and random values. */
  static Arbitrary<JsonObject> frames() {
    Arbitrary<Object> type = Arbitraries.frequencyOf(
        Tuple.of(8, Arbitraries.of(TYPES).map(t -> (Object) t)),
        Tuple.of(1, Arbitraries.strings().all().ofMaxLength(12).map(t -> (Object) t)),
        Tuple.of(1, jsonValues()));
    Arbitrary<Map<String, Object>> fields = Arbitraries.maps(
        Arbitraries.frequencyOf(Tuple.of(5, Arbitraries.of(FIELDS)), Tuple.of(1, Arbitraries.strings().alpha().ofMaxLength(6))),
        fieldValues()).ofMaxSize(6);
    return Combinators.combine(type, fields, Arbitraries.integers().between(0, 9)).as((t, f, dropType) -> {
      JsonObject o = new JsonObject(new java.util.LinkedHashMap<>(f));
      if (dropType > 0) {
        o.put("type", t);
      }
      return o;
    });
  }
}
