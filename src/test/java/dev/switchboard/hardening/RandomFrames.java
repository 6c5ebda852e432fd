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
            .map(m -> (Object) new JsonObject(new java.util.LinkedHashMap<>(m)))), 2);
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
    return Arbitraries.frequencyOf(
        Tuple.of(6, Arbitraries.of("room:lobby", "room:r1", "room:r2", "room:r3", "topic:news", "user:fuzzer", "user:bob")),
        Tuple.of(3, Arbitraries.of("room:lobby", "room:r1", "user:fuzzer", "user:bob", "topic:news", "broadcast",
            "segment:dept=sales", "$sys:admin", "nope:x", "room:", ":x", "room:a b", "room:\u0000", "lobby", "")),
        Tuple.of(2, Arbitraries.strings().withChars("abcXYZ019_.:=@-$ /\u00e9\u0007").ofMaxLength(20).map(s -> "room:" + s)),
        Tuple.of(1, Arbitraries.strings().withChars("abc:").ofMinLength(250).ofMaxLength(300)));
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

  /** Marks a field left out of a generated frame. */
  private static final Object ABSENT = new Object();

  /** Mostly a plausible value for the field, sometimes any JSON value, sometimes no field at all. */
  private static Arbitrary<Object> field(Arbitrary<?> plausible) {
    return Arbitraries.frequencyOf(
        Tuple.of(8, plausible.map(v -> (Object) v)),
        Tuple.of(2, jsonValues()),
        Tuple.of(1, Arbitraries.just(ABSENT)));
  }

  private static Arbitrary<JsonObject> frameOf(String type, Map<String, Arbitrary<?>> fields) {
    List<String> names = new java.util.ArrayList<>(fields.keySet());
    List<Arbitrary<Object>> values = new java.util.ArrayList<>();
    names.forEach(n -> values.add(field(fields.get(n))));
    return Combinators.combine(values).as(vs -> {
      JsonObject o = new JsonObject().put("type", type);
      for (int i = 0; i < names.size(); i++) {
        if (vs.get(i) != ABSENT) {
          o.put(names.get(i), vs.get(i));
        }
      }
      return o;
    });
  }

  /**
   * JSON objects shaped like each request type — plausible fields most of the time, wrong types or missing
   * fields some of the time — plus free-form objects of protocol vocabulary and random values.
   */
  static Arbitrary<JsonObject> frames() {
    Arbitrary<String> users = Arbitraries.of("fuzzer", "bob", "a.b@c", "x-y_z", "bob smith", "", "\u0000");
    Arbitrary<Object> since = Combinators.combine(Arbitraries.longs().between(-2, 1_000),
            Arbitraries.strings().alpha().ofMaxLength(4).injectNull(0.3))
        .as((o, e) -> new JsonObject().put("offset", o).put("epoch", e));
    Arbitrary<Object> channelList = channels().list().ofMaxSize(4).map(l -> new JsonArray(new java.util.ArrayList<>(l)));
    Arbitrary<JsonObject> shaped = Arbitraries.oneOf(
        frameOf("auth", Map.of("token", Arbitraries.strings().ofMaxLength(40), "channels", channelList)),
        frameOf("auth", Map.of("api_key", Arbitraries.strings().ofMaxLength(20))),
        frameOf("subscribe", Map.of("channel", channels(), "since", since)),
        frameOf("unsubscribe", Map.of("channel", channels())),
        frameOf("broadcast", Map.of("channel", channels(), "message", jsonValues())),
        frameOf("publish", Map.of("channel", channels(), "message", jsonValues())),
        frameOf("send", Map.of("to", users, "message", jsonValues())),
        frameOf("presence", Map.of("channel", channels())),
        frameOf("request", Map.of("address", Arbitraries.of("service.echo", "service.missing", "other.addr", ""),
            "message", jsonValues())),
        frameOf("history", Map.of("channel", channels(), "limit", Arbitraries.integers().between(-2, 500))),
        frameOf("ping", Map.of()));
    Arbitrary<Object> type = Arbitraries.frequencyOf(
        Tuple.of(6, Arbitraries.of(TYPES).map(t -> (Object) t)),
        Tuple.of(2, Arbitraries.strings().all().ofMaxLength(12).map(t -> (Object) t)),
        Tuple.of(1, jsonValues()),
        Tuple.of(1, Arbitraries.just(ABSENT)));
    Arbitrary<JsonObject> freeForm = Combinators.combine(type, Arbitraries.maps(
        Arbitraries.frequencyOf(Tuple.of(5, Arbitraries.of(FIELDS)), Tuple.of(1, Arbitraries.strings().alpha().ofMaxLength(6))),
        fieldValues()).ofMaxSize(5)).as((t, f) -> {
          JsonObject o = new JsonObject(new java.util.LinkedHashMap<>(f));
          if (t != ABSENT) {
            o.put("type", t);
          }
          return o;
        });
    // Edge-case enumeration over nested combinations is expensive and adds little here.
    return Arbitraries.frequencyOf(Tuple.of(4, shaped), Tuple.of(1, freeForm)).withoutEdgeCases();
  }
}
