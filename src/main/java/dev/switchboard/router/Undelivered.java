package dev.switchboard.router;

import dev.switchboard.bus.Addresses;
import dev.switchboard.bus.Publication;
import dev.switchboard.cluster.ConsumerDirectory;
import dev.switchboard.cluster.NodeContext;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;

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
 * a mobile push, not a transaction: {@code no_session} is decided right after the publish from the same
 * node-local routing table the clustered event bus routed it with ({@link ConsumerDirectory}; no cluster
 * call when the user has a session somewhere), so a session that connects at that very moment may both
 * receive the message and be reported, or neither. That table learns of a consumer's removal from the
 * cluster's registration events: for tens of milliseconds after a user's last session closes anywhere (until
 * Hazelcast drops a crashed node), publishes still go to that node and are usually not reported (the gateway
 * asks again when such a publication arrives, {@link #reportIfNoSession}, but the table still lists its own
 * removed consumer). A new session is seen at once, because the table caches only addresses that have
 * consumers. Standalone, the node's own sessions decide, with no delay, both at publish time and when a
 * publication arrives after the user's last session left. In a cluster a report is only published while some
 * member consumes this address (a watched flag, see {@link ConsumerDirectory#mayHaveConsumer}); a consumer is
 * seen milliseconds after its registration completes; reports made in those milliseconds are not sent.
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
    // Usually nobody listens, and a publish to an address without consumers reads Hazelcast each time.
    if (ConsumerDirectory.worthPublishing(vertx, Addresses.UNDELIVERED)) {
      vertx.eventBus().publish(Addresses.UNDELIVERED, o);
    }
  }

  /**
   * Reports a publication to a {@code user:} channel as {@code no_session}, and counts it, when the user has no
   * session: in a cluster when no member holds a consumer for the channel's address ({@link ConsumerDirectory},
   * the node-local routing table), standalone when no session on this node is subscribed to it. The router
   * calls it right after the publish; a gateway instance calls it for a publication that reached its consumer
   * only after the user's last session there had left.
   */
  public static void reportIfNoSession(NodeContext node, Publication pub, String address) {
    Vertx vertx = node.vertx();
    Future<Boolean> reported = node.clusterManager() != null
        ? reportIfNoConsumer(vertx, ConsumerDirectory.of(vertx), address, pub)
        : Future.succeededFuture(node.sessions().usersIn(pub.channel()).isEmpty() && report(vertx, pub, NO_SESSION));
    reported.onSuccess(r -> {
      if (r) {
        node.metrics().dropped(NO_SESSION);
      }
    });
  }

  /**
   * Asks the cluster's consumer directory whether any member holds a consumer for the channel address and
   * reports {@code no_session} when none does. Call it right after the publish. Completes with whether it
   * reported; a failed lookup reports nothing.
   */
  public static Future<Boolean> reportIfNoConsumer(Vertx vertx, ConsumerDirectory directory, String address,
      Publication pub) {
    return directory.hasConsumer(address)
        .map(any -> !any && report(vertx, pub, NO_SESSION))
        .otherwise(false);
  }
}
