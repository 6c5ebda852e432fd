package dev.switchboard.limiter;

import dev.switchboard.bus.Addresses;
import dev.switchboard.cluster.ClusterView;
import dev.switchboard.cluster.NodeContext;
import dev.switchboard.config.SwitchboardConfig;
import dev.switchboard.gateway.NodeSessions;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.eventbus.Message;
import io.vertx.core.json.JsonObject;
import java.util.HashMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Connection admission for this node (SPEC §6), asked once per handshake and once per authentication,
 * never per message. One instance on one event loop owns every counter, so a check and the reservation
 * that follows it are one step: a burst of simultaneous connections cannot slip past a cap while earlier
 * ones are still being set up. The per-user cap is cluster-wide; other nodes are asked through
 * {@link ClusterView} only when this node's own count does not already decide.
 *
 * <p>Refusals are logged by address (the per-user cap by user): the first one in each second in full, the
 * rest as one summary line per second ({@link RefusalLog}), so a connection flood cannot turn into a log flood.
 *
 * <p>Messages (all local):
 * <ul>
 *   <li>{@link Addresses#LIMITER_ADMIT} {@code {"ip"}}: reserves a connection slot, or fails with 503 (node
 *   draining or at {@code server.max_connections}) or 4029 (per-IP cap or connect rate).</li>
 *   <li>{@link Addresses#LIMITER_ADMIT_USER} {@code {"user", "ip"}}: reserves a session slot for the user,
 *   or fails with 4029.</li>
 *   <li>{@link Addresses#LIMITER_RELEASE} {@code {"ip"?, "user"?}}: gives back what was reserved; sent
 *   exactly once per reservation by the session that holds it.</li>
 * </ul>
 */
public final class LimiterVerticle extends VerticleBase {

  private static final Logger log = LoggerFactory.getLogger(LimiterVerticle.class);

  private final NodeContext node;
  private final SwitchboardConfig.Limits limits;
  private final int maxConnections;
  private final ClusterView view;
  private final Map<String, Integer> perIp = new HashMap<>();
  /** Per-user slots live in NodeSessions, where this node's directory answers other nodes from them. */
  private final NodeSessions slots;
  private final ConnectRate connectRate;
  private RefusalLog refusals;
  private int connections;

  public LimiterVerticle(NodeContext node) {
    this.node = node;
    this.limits = node.config().limits();
    this.maxConnections = node.config().server().maxConnections();
    this.view = new ClusterView(node);
    this.slots = node.sessions();
    this.connectRate = new ConnectRate(limits.connectRatePerIp(), System.nanoTime());
  }

  @Override
  public Future<?> start() {
    refusals = new RefusalLog(vertx, log, "connect_refused");
    var admit = vertx.eventBus().<JsonObject>localConsumer(Addresses.LIMITER_ADMIT, msg -> {
      String ip = msg.body().getString("ip");
      Refusal refusal = admitConnection(ip);
      if (refusal == null) {
        msg.reply(new JsonObject().put("ok", true));
      } else {
        refusals.refused("ip=" + ip, " status=" + refusal.code() + " reason=\"" + refusal.reason() + "\"");
        msg.fail(refusal.code(), refusal.reason());
      }
    });
    var release = vertx.eventBus().<JsonObject>localConsumer(Addresses.LIMITER_RELEASE, msg -> {
      String ip = msg.body().getString("ip");
      if (ip != null) {
        perIp.computeIfPresent(ip, (k, n) -> n <= 1 ? null : n - 1);
        connections = Math.max(0, connections - 1);
      }
      String user = msg.body().getString("user");
      if (user != null) {
        slots.releaseUserSlot(user);
      }
    });
    var admitUser = vertx.eventBus().<JsonObject>localConsumer(Addresses.LIMITER_ADMIT_USER, msg -> {
      String user = msg.body().getString("user");
      int cap = limits.connectionsPerUser();
      if (slots.userSlotsOf(user) >= cap) {
        refuseUser(msg, user, cap);
        return;
      }
      // Reserve before asking the cluster: a node asking about this user from now on counts this login. Of
      // two simultaneous logins on two nodes, each reserves and then asks the other, so at least one sees
      // both and the cap holds (it may refuse both, when together they were over it).
      slots.reserveUserSlot(user);
      if (!node.clustered() || node.members().size() <= 1) {
        msg.reply(new JsonObject().put("ok", true));
        return;
      }
      view.userSlotsElsewhere(user).onComplete(ar -> {
        int elsewhere = ar.succeeded() ? ar.result() : 0;
        if (elsewhere + slots.userSlotsOf(user) > cap) {
          slots.releaseUserSlot(user);
          refuseUser(msg, user, cap);
        } else {
          msg.reply(new JsonObject().put("ok", true));
        }
      });
    });
    return Future.all(admit.completion(), release.completion(), admitUser.completion());
  }

  /** Why a connection is refused: the HTTP status (503) or close code (4029) to use, and the reason. */
  private record Refusal(int code, String reason) {}

  /** Reserves a slot for a new connection from ip; returns null when admitted. */
  private Refusal admitConnection(String ip) {
    if (node.draining()) {
      return new Refusal(503, "node is draining");
    }
    if (maxConnections > 0 && connections >= maxConnections) {
      return new Refusal(503, "node is at its connection limit (" + maxConnections + ")");
    }
    if (!connectRate.tryAdmit(ip, System.nanoTime())) {
      return new Refusal(4029, "too many new connections from this IP per second (limit "
          + limits.connectRatePerIp() + ")");
    }
    int open = perIp.getOrDefault(ip, 0);
    if (open >= limits.connectionsPerIp()) {
      return new Refusal(4029, "too many connections from this IP (limit " + limits.connectionsPerIp() + ")");
    }
    perIp.put(ip, open + 1);
    connections++;
    return null;
  }

  private void refuseUser(Message<JsonObject> msg, String user, int cap) {
    Refusal refusal = new Refusal(4029, "too many connections for this user (limit " + cap + ")");
    refusals.refused("user=" + user, " ip=" + msg.body().getString("ip") + " status=" + refusal.code()
        + " reason=\"" + refusal.reason() + "\"");
    msg.fail(refusal.code(), refusal.reason());
  }

}
