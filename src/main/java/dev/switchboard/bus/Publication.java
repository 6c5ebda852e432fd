package dev.switchboard.bus;

import io.vertx.core.json.JsonObject;
import java.time.Instant;
import java.time.format.DateTimeFormatter;

/**
 * One message on its way to sockets: the event-bus contract between the router (or the Java publisher
 * helper, or the Redis bridge) and the gateway instances that hold subscribers.
 *
 * @param acceptedAtMicros wall-clock microseconds when the publish was accepted; used to measure
 *     publish→socket lag across nodes (so it is wall time, not {@code nanoTime}).
 * @param offset the channel offset when the channel keeps history, else -1
 * @param epoch the history epoch when the channel keeps history, else null
 */
public record Publication(String channel, Object message, String fromUser, String timestamp,
                          long acceptedAtMicros, long offset, String epoch) {

  public static Publication now(String channel, Object message, String fromUser) {
    Instant now = Instant.now();
    return new Publication(channel, message, fromUser, DateTimeFormatter.ISO_INSTANT.format(now),
        now.getEpochSecond() * 1_000_000L + now.getNano() / 1_000, -1, null);
  }

  public Publication withPosition(long newOffset, String newEpoch) {
    return new Publication(channel, message, fromUser, timestamp, acceptedAtMicros, newOffset, newEpoch);
  }

  public boolean hasPosition() {
    return offset >= 0;
  }

  public JsonObject toJson() {
    JsonObject o = new JsonObject()
        .put("channel", channel)
        .put("message", message)
        .put("from_user", fromUser)
        .put("timestamp", timestamp)
        .put("accepted_at", acceptedAtMicros);
    if (hasPosition()) {
      o.put("offset", offset).put("epoch", epoch);
    }
    return o;
  }

  public static Publication fromJson(JsonObject o) {
    Long off = o.getLong("offset");
    Long acc = o.getLong("accepted_at");
    return new Publication(o.getString("channel"), o.getValue("message"), o.getString("from_user"),
        o.getString("timestamp"), acc == null ? 0 : acc, off == null ? -1 : off, o.getString("epoch"));
  }

  public static long nowMicros() {
    Instant now = Instant.now();
    return now.getEpochSecond() * 1_000_000L + now.getNano() / 1_000;
  }
}
