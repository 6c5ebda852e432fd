package dev.switchboard.router;

import dev.switchboard.bus.Addresses;
import dev.switchboard.bus.Publication;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;

/**
 * Reports on {@link Addresses#UNDELIVERED}: {@code {"channel","message","from_user","timestamp","reason"}}
 * with reason {@code no_session} (a user: publish no session anywhere received) or {@code slow_consumer}
 * (dropped when a session was closed with 4009; then {@code user} and {@code session_id} are set too).
 */
public final class Undelivered {

  private Undelivered() {}

  public static void report(Vertx vertx, Publication pub, String reason) {
    report(vertx, pub, reason, null, null);
  }

  public static void report(Vertx vertx, Publication pub, String reason, String user, String sessionId) {
    JsonObject o = new JsonObject()
        .put("channel", pub.channel())
        .put("message", pub.message())
        .put("from_user", pub.fromUser())
        .put("timestamp", pub.timestamp())
        .put("reason", reason);
    if (user != null) {
      o.put("user", user).put("session_id", sessionId);
    }
    vertx.eventBus().publish(Addresses.UNDELIVERED, o);
  }
}
