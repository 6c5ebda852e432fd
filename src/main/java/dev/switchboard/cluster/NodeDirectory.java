package dev.switchboard.cluster;

import dev.switchboard.bus.Addresses;
import dev.switchboard.gateway.NodeSessions;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.eventbus.EventBus;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

/**
 * Answers the directed questions other nodes ask this one (see {@link ClusterView}): presence of a channel,
 * node info, the connection slots a user holds here; and the subscription probe that proves this node's event bus already
 * routes a channel to a node that just subscribed ({@link ProbeResponder}).
 */
public final class NodeDirectory extends VerticleBase {

  private final NodeContext node;

  public NodeDirectory(NodeContext node) {
    this.node = node;
  }

  @Override
  public Future<?> start() {
    EventBus eb = vertx.eventBus();
    String id = node.nodeId();
    NodeSessions sessions = node.sessions();
    var presence = eb.<JsonObject>consumer(Addresses.node(id, "presence"), msg ->
        msg.reply(new JsonObject().put("users", new JsonArray(sessions.usersIn(msg.body().getString("channel"))))));
    var info = eb.<JsonObject>consumer(Addresses.node(id, "info"), msg ->
        msg.reply(new JsonObject()
            .put("node", node.name())
            .put("id", id)
            .put("connections", sessions.openSockets())
            .put("users", sessions.users())
            .put("ready", node.ready())
            .put("draining", node.draining())));
    var users = eb.<JsonObject>consumer(Addresses.node(id, "user-slots"), msg ->
        msg.reply(new JsonObject().put("slots", sessions.userSlotsOf(msg.body().getString("user")))));
    var probe = ProbeResponder.register(vertx, id);
    return Future.all(presence.completion(), info.completion(), users.completion(), probe.completion());
  }
}
