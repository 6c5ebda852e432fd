package dev.switchboard.auth;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Who a session is, from its verified token.
 *
 * @param userId the {@code sub} claim
 * @param rooms room names from the {@code rooms} claim; "*" means every room
 * @param channelPatterns extra channel patterns from the {@code channels} claim (* matches any run)
 * @param segments claim → its values (one, or each element of an array claim, in token order) for the claims
 *     named in {@code channels.segments}; a claim with no usable value is absent
 * @param expiresAt the {@code exp} claim in epoch seconds, or null when the token does not expire
 */
public record Principal(String userId, Set<String> rooms, List<String> channelPatterns,
                        Map<String, List<String>> segments, Long expiresAt) {

  public JsonObject toJson() {
    JsonObject seg = new JsonObject();
    segments.forEach((claim, values) -> seg.put(claim, new JsonArray(values)));
    return new JsonObject()
        .put("sub", userId)
        .put("rooms", new JsonArray(List.copyOf(rooms)))
        .put("channels", new JsonArray(channelPatterns))
        .put("segments", seg)
        .put("exp", expiresAt);
  }

  public static Principal fromJson(JsonObject o) {
    Map<String, List<String>> seg = new LinkedHashMap<>();
    o.getJsonObject("segments", new JsonObject()).forEach(e -> seg.put(e.getKey(),
        List.copyOf(strings(e.getValue() instanceof JsonArray a ? a : new JsonArray().add(e.getValue())))));
    return new Principal(o.getString("sub"),
        Set.copyOf(strings(o.getJsonArray("rooms"))),
        List.copyOf(strings(o.getJsonArray("channels"))),
        Map.copyOf(seg),
        o.getLong("exp"));
  }

  private static List<String> strings(JsonArray a) {
    return a == null ? List.of() : a.stream().map(String::valueOf).toList();
  }

  public boolean inRoom(String room) {
    return rooms.contains("*") || rooms.contains(room);
  }
}
