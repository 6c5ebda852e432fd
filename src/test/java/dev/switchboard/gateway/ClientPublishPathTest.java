package dev.switchboard.gateway;

import static dev.switchboard.gateway.Frames.WAIT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.SwitchboardNode;
import dev.switchboard.bus.Addresses;
import dev.switchboard.testing.TestNodes;
import dev.switchboard.testing.WsClient;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A client's publish on a channel without history is fanned out from the session's own loop, with no
 * request/reply to the router verticle; on a channel with history it goes through the router, which stamps
 * the offset. Either way the ack comes after the message was handed to the event bus.
 */
@ExtendWith(VertxExtension.class)
class ClientPublishPathTest {

  static SwitchboardNode node;
  static final AtomicInteger routerRequests = new AtomicInteger();

  @BeforeAll
  static void start() {
    node = TestNodes.standalone(new JsonObject().put("channels", new JsonObject().put("namespaces", new JsonObject()
        .put("topic", new JsonObject().put("subscribe", "authenticated").put("publish", "authenticated")
            .put("history_size", 10).put("history_ttl", "10m")))));
    node.vertx().eventBus().addOutboundInterceptor(ctx -> {
      if (Addresses.CLIENT_PUBLISH.equals(ctx.message().address())) {
        routerRequests.incrementAndGet();
      }
      ctx.next();
    });
  }

  @AfterAll
  static void stop() {
    node.close().await();
  }

  @Test
  void withoutHistoryTheSessionPublishesItselfAndTheMessageArrives(Vertx vertx) {
    WsClient ann = WsClient.authed(vertx, node.port(), TestNodes.token("ann", "lobby")).await();
    WsClient ben = WsClient.authed(vertx, node.port(), TestNodes.token("ben", "lobby")).await();
    Frames.ack(ben, 1, Frames.subscribe("room:lobby"));
    int before = routerRequests.get();

    Frames.ack(ann, 1, Frames.publish("broadcast", "room:lobby", new JsonObject().put("n", 1)));
    Frames.ack(ann, 2, Frames.send("ben", "dm"));
    JsonObject room = ben.next("message", WAIT).await();
    assertEquals("room:lobby", room.getString("channel"));
    assertEquals("ann", room.getString("from_user"));
    assertFalse(room.containsKey("offset"), "no history on room:, no offset: " + room);
    JsonObject dm = ben.next(f -> "user:ben".equals(f.getString("channel")), WAIT).await();
    assertEquals("dm", dm.getString("message"));
    assertEquals(before, routerRequests.get(), "no request to " + Addresses.CLIENT_PUBLISH);
    ann.close().await();
    ben.close().await();
  }

  @Test
  void withHistoryTheRouterStampsTheOffset(Vertx vertx) {
    WsClient cat = WsClient.authed(vertx, node.port(), TestNodes.token("cat")).await();
    Frames.ack(cat, 1, Frames.subscribe("topic:news"));
    int before = routerRequests.get();

    Frames.ack(cat, 2, Frames.publish("broadcast", "topic:news", "headline"));
    JsonObject m = cat.next("message", WAIT).await();
    assertTrue(m.getLong("offset") >= 1, "offset stamped by the router: " + m);
    assertEquals(before + 1, routerRequests.get(), "one request to " + Addresses.CLIENT_PUBLISH);
    cat.close().await();
  }
}
