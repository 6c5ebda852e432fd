package dev.switchboard.limiter;

import dev.switchboard.bus.Addresses;
import dev.switchboard.cluster.ClusterView;
import dev.switchboard.cluster.NodeContext;
import dev.switchboard.config.SwitchboardConfig;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.json.JsonObject;
import java.util.HashMap;
import java.util.Map;

/**
 * Connection admission for this node (SPEC §6), asked once per handshake and once per authentication,
 * never per message. Holds the per-IP counters itself (one instance, one event loop, no locks); the
 * per-user cap is cluster-wide and asks {@link ClusterView}.
 *
 * <p>Replies: {@code {"ok":true}}, or a failure whose code is the HTTP status (503) or close code (4029) to
 * use and whose message is the reason.
 */
public final class LimiterVerticle extends VerticleBase {

  private final NodeContext node;
  private final SwitchboardConfig.Limits limits;
  private final int maxConnections;
  private final ClusterView view;
  private final Map<String, Integer> perIp = new HashMap<>();
  private final Map<String, int[]> connectRate = new HashMap<>();
  private long rateWindowSecond;

  public LimiterVerticle(NodeContext node) {
    this.node = node;
    this.limits = node.config().limits();
    this.maxConnections = node.config().server().maxConnections();
    this.view = new ClusterView(node);
  }

  @Override
  public Future<?> start() {
    var admit = vertx.eventBus().<JsonObject>localConsumer(Addresses.LIMITER_ADMIT, msg -> {
      String ip = msg.body().getString("ip");
      if (node.draining()) {
        msg.fail(503, "node is draining");
        return;
      }
      if (maxConnections > 0 && node.sessions().connections() >= maxConnections) {
        msg.fail(503, "node is at its connection limit (" + maxConnections + ")");
        return;
      }
      long second = System.currentTimeMillis() / 1000;
      if (second != rateWindowSecond) {
        rateWindowSecond = second;
        connectRate.clear();
      }
      int[] rate = connectRate.computeIfAbsent(ip, k -> new int[1]);
      if (++rate[0] > limits.connectRatePerIp()) {
        msg.fail(4029, "too many new connections from this IP per second (limit " + limits.connectRatePerIp() + ")");
        return;
      }
      int open = perIp.getOrDefault(ip, 0);
      if (open >= limits.connectionsPerIp()) {
        msg.fail(4029, "too many connections from this IP (limit " + limits.connectionsPerIp() + ")");
        return;
      }
      perIp.put(ip, open + 1);
      msg.reply(new JsonObject().put("ok", true));
    });
    var release = vertx.eventBus().<JsonObject>localConsumer(Addresses.LIMITER_RELEASE, msg -> {
      String ip = msg.body().getString("ip");
      perIp.computeIfPresent(ip, (k, n) -> n <= 1 ? null : n - 1);
    });
    var admitUser = vertx.eventBus().<JsonObject>localConsumer(Addresses.LIMITER_ADMIT_USER, msg -> {
      String user = msg.body().getString("user");
      int cap = limits.connectionsPerUser();
      // The local count is exact and free; ask the cluster only when it could matter.
      if (node.sessions().sessionsOf(user) >= cap) {
        msg.fail(4029, "too many connections for this user (limit " + cap + ")");
        return;
      }
      if (!node.clustered() || node.members().size() == 1) {
        msg.reply(new JsonObject().put("ok", true));
        return;
      }
      view.userSessions(user).onComplete(ar -> {
        if (ar.succeeded() && ar.result() >= cap) {
          msg.fail(4029, "too many connections for this user (limit " + cap + ")");
        } else {
          msg.reply(new JsonObject().put("ok", true));
        }
      });
    });
    return Future.all(admit.completion(), release.completion(), admitUser.completion());
  }
}
