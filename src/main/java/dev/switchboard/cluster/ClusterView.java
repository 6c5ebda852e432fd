package dev.switchboard.cluster;

import dev.switchboard.bus.Addresses;
import io.vertx.core.Future;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.Message;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;

/**
 * Cluster-wide answers gathered from every member's {@link NodeDirectory}: presence, nodes, a user's
 * connection slots. The member list comes from the cluster manager, so a node that died stops being asked
 * (and stops being counted) as soon as Hazelcast drops it: no ghost users, and no shared state to clean.
 * A member that does not answer within the timeout is left out of the answer rather than failing it.
 */
public final class ClusterView {

  static final long TIMEOUT_MS = 2000;

  private final NodeContext node;

  public ClusterView(NodeContext node) {
    this.node = node;
  }

  /** Users subscribed to the channel on any node, sorted, each once. */
  public Future<JsonArray> presence(String channel) {
    return gather("presence", new JsonObject().put("channel", channel)).map(replies -> {
      TreeSet<String> users = new TreeSet<>();
      for (JsonObject r : replies) {
        r.getJsonArray("users", new JsonArray()).forEach(u -> users.add(String.valueOf(u)));
      }
      return new JsonArray(new ArrayList<>(users));
    });
  }

  /** One entry per member that answered: node, id, connections, users, ready. */
  public Future<JsonArray> nodes() {
    return gather("info", new JsonObject()).map(replies -> {
      List<JsonObject> sorted = new ArrayList<>(replies);
      sorted.sort((a, b) -> a.getString("node", "").compareTo(b.getString("node", "")));
      return new JsonArray(new ArrayList<>(sorted));
    });
  }

  /** Connection slots the user holds on every other node: its sessions there and its logins being admitted. */
  public Future<Integer> userSlotsElsewhere(String user) {
    return gather("user-slots", new JsonObject().put("user", user), false)
        .map(replies -> replies.stream().mapToInt(r -> r.getInteger("slots", 0)).sum());
  }

  private Future<List<JsonObject>> gather(String op, JsonObject body) {
    return gather(op, body, true);
  }

  private Future<List<JsonObject>> gather(String op, JsonObject body, boolean includingThisNode) {
    DeliveryOptions opts = new DeliveryOptions().setSendTimeout(TIMEOUT_MS);
    List<Future<JsonObject>> asks = new ArrayList<>();
    for (String member : node.members()) {
      if (!includingThisNode && member.equals(node.nodeId())) {
        continue;
      }
      Future<JsonObject> ask = node.vertx().eventBus().<JsonObject>request(Addresses.node(member, op), body, opts)
          .map(Message::body)
          .otherwise((JsonObject) null);
      asks.add(ask);
    }
    return Future.join(asks).transform(ar -> {
      List<JsonObject> out = new ArrayList<>();
      for (Future<JsonObject> f : asks) {
        if (f.succeeded() && f.result() != null) {
          out.add(f.result());
        }
      }
      return Future.succeededFuture(out);
    });
  }
}
