package dev.switchboard.router;

import dev.switchboard.bus.Addresses;
import dev.switchboard.bus.Publication;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.core.spi.cluster.ClusterManager;
import io.vertx.core.spi.cluster.RegistrationInfo;
import java.util.List;

/**
 * Reports on {@link Addresses#UNDELIVERED} (published cluster-wide, so any backend JVM may consume it):
 *
 * <pre>{@code
 * {"channel":"user:alice", "message":<the message>, "from_user":"bob"|null,
 *  "timestamp":"<ISO-8601 UTC of the publish>", "reason":"no_session"}
 * }</pre>
 *
 * with reason {@code no_session} (a publish to a {@code user:} channel that no node held a consumer for:
 * the user had no session anywhere) or {@code slow_consumer} (dropped when a session was closed with 4009;
 * then {@code "user"} and {@code "session_id"} name that session). A report is a hint for a fallback such as
 * a mobile push, not a transaction: {@code no_session} is decided from the cluster's subscription table
 * right after the publish, so a session that connects at that very moment may both receive the message and
 * be reported, or neither.
 */
public final class Undelivered {

  public static final String NO_SESSION = "no_session";
  public static final String SLOW_CONSUMER = "slow_consumer";

  private Undelivered() {}

  /** @return true, so it can end a condition */
  public static boolean report(Vertx vertx, Publication pub, String reason) {
    report(vertx, pub, reason, null, null);
    return true;
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

  /**
   * Looks the channel address up in the cluster's subscription table and reports {@code no_session} when no
   * member holds a consumer. Completes with whether it reported; a failed lookup reports nothing.
   */
  public static Future<Boolean> reportIfNoConsumer(Vertx vertx, ClusterManager cm, String address, Publication pub) {
    Promise<List<RegistrationInfo>> regs = Promise.promise();
    cm.getRegistrations(address, regs);
    return regs.future()
        .map(list -> (list == null || list.isEmpty()) && report(vertx, pub, NO_SESSION))
        .otherwise(false);
  }
}
