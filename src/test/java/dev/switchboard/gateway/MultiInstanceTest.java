package dev.switchboard.gateway;

import static dev.switchboard.gateway.Frames.WAIT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import dev.switchboard.SwitchboardNode;
import dev.switchboard.testing.TestNodes;
import dev.switchboard.testing.WsClient;
import io.vertx.core.Vertx;
import io.vertx.core.internal.VertxInternal;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * server.instances = 2: two gateway verticles, each with its own event loop, session index and channel
 * consumers. Clients that land on different instances still see each other's messages and presence. And the
 * default, 0: one instance per core.
 */
@ExtendWith(VertxExtension.class)
class MultiInstanceTest {

  @Test
  void clientsOnDifferentEventLoopsSeeEachOther(Vertx vertx) {
    SwitchboardNode node = TestNodes.standalone(new JsonObject().put("server", new JsonObject().put("instances", 2)));
    try {
      List<GatewayVerticle> gateways = gateways(node);
      assertEquals(2, gateways.size());

      // Connections are spread round-robin over the instances: two in a row land on different ones.
      WsClient ann = WsClient.authed(vertx, node.port(), TestNodes.token("ann", "lobby")).await();
      WsClient ben = WsClient.authed(vertx, node.port(), TestNodes.token("ben", "lobby")).await();
      int annAt = instanceOf(gateways, "ann");
      int benAt = instanceOf(gateways, "ben");
      assertNotEquals(annAt, benAt, "ann and ben share an event loop");

      Frames.ack(ann, 1, Frames.subscribe("room:lobby"));
      Frames.ack(ben, 1, Frames.subscribe("room:lobby"));
      Frames.ack(ann, 2, Frames.publish("broadcast", "room:lobby", "from ann"));
      Frames.ack(ben, 2, Frames.publish("broadcast", "room:lobby", "from ben"));
      for (WsClient c : List.of(ann, ben)) {
        List<String> got = new ArrayList<>();
        got.add(c.next("message", WAIT).await().getString("message"));
        got.add(c.next("message", WAIT).await().getString("message"));
        got.sort(null);
        assertEquals(List.of("from ann", "from ben"), got);
      }

      Frames.ack(ann, 3, Frames.send("ben", "dm"));
      JsonObject dm = ben.next("message", WAIT).await();
      assertEquals("user:ben", dm.getString("channel"));
      assertEquals("ann", dm.getString("from_user"));

      JsonObject p = ben.request(4, Frames.presence("room:lobby"), WAIT).await();
      assertEquals(new JsonArray().add("ann").add("ben"), p.getJsonArray("users"));
      ann.close().await();
      ben.close().await();
    } finally {
      node.close().await();
    }
  }

  /** The default: one gateway loop per core, not Vert.x's two per core (BENCHMARKS.md item 16). */
  @Test
  void zeroInstancesMeansOneGatewayPerCore() {
    SwitchboardNode node = TestNodes.standalone(new JsonObject().put("server", new JsonObject().put("instances", 0)));
    try {
      assertEquals(Runtime.getRuntime().availableProcessors(), gateways(node).size());
    } finally {
      node.close().await();
    }
  }

  /**
   * server.event_loops sizes the node's event-loop pool; 0 keeps Vert.x's two per core. Gateways beyond the
   * pool share its loops and still serve their clients.
   */
  @Test
  void eventLoopsSizesTheNodesPool(Vertx vertx) {
    SwitchboardNode one = TestNodes.standalone(new JsonObject().put("server", new JsonObject()
        .put("event_loops", 1).put("instances", 2)));
    try {
      assertEquals(1, loops(one));
      assertEquals(2, gateways(one).size());
      WsClient ann = WsClient.authed(vertx, one.port(), TestNodes.token("ann", "lobby")).await();
      WsClient ben = WsClient.authed(vertx, one.port(), TestNodes.token("ben", "lobby")).await();
      Frames.ack(ben, 1, Frames.subscribe("room:lobby"));
      Frames.ack(ann, 1, Frames.publish("broadcast", "room:lobby", "one loop"));
      assertEquals("one loop", ben.next("message", WAIT).await().getString("message"));
      ann.close().await();
      ben.close().await();
    } finally {
      one.close().await();
    }
    SwitchboardNode byDefault = TestNodes.standalone(new JsonObject());
    try {
      assertEquals(2 * Runtime.getRuntime().availableProcessors(), loops(byDefault));
    } finally {
      byDefault.close().await();
    }
  }

  private static int loops(SwitchboardNode node) {
    int n = 0;
    for (var loop : ((VertxInternal) node.vertx()).nettyEventLoopGroup()) {
      n++;
    }
    return n;
  }

  static List<GatewayVerticle> gateways(SwitchboardNode node) {
    List<GatewayVerticle> out = new ArrayList<>();
    ((VertxInternal) node.vertx()).deploymentManager().deployments().forEach(d ->
        d.deployment().instances().forEach(v -> {
          if (v instanceof GatewayVerticle g) {
            out.add(g);
          }
        }));
    return out;
  }

  static int instanceOf(List<GatewayVerticle> gateways, String user) {
    for (int i = 0; i < gateways.size(); i++) {
      if (gateways.get(i).sessionUsers().await().contains(user)) {
        return i;
      }
    }
    throw new AssertionError(user + " has no session on any gateway instance");
  }
}
