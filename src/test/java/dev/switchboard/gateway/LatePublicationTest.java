package dev.switchboard.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.SwitchboardNode;
import dev.switchboard.bus.Addresses;
import dev.switchboard.bus.Publication;
import dev.switchboard.testing.LogCapture;
import dev.switchboard.testing.TestNodes;
import dev.switchboard.testing.WsClient;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.EventBus;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.Timeout;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * SPEC §5: {@code switchboard.undelivered} reports a publish to a {@code user:} channel that reached no
 * session. A publish routed to a node while the user's last session there is closing reaches the channel's
 * consumer after its unregistration: Vert.x discarded it with a WARN and nobody was told. Both event-bus
 * messages below are routed while the consumer is registered and queued, in this order, on the session's
 * event loop: the disconnect runs first and unregisters the consumer, so the publication arrives after it,
 * every time.
 */
@ExtendWith(VertxExtension.class)
class LatePublicationTest {

  private static final String HOLD = "test-hold-loop";

  private SwitchboardNode node;
  /** Detached here too, so a failed run does not leave it on Vert.x's logger for the rest of the JVM. */
  private LogCapture discards;

  @AfterEach
  void tearDown() {
    if (discards != null) {
      discards.close();
    }
    if (node != null) {
      node.close().await();
    }
  }

  @Test
  @Timeout(value = 20, timeUnit = TimeUnit.SECONDS)
  void aPublicationArrivingAfterTheUsersLastSessionLeftIsReportedNotDiscarded(Vertx vertx, VertxTestContext ctx)
      throws InterruptedException {
    node = TestNodes.standalone(new JsonObject());
    WsClient alice = WsClient.authed(vertx, node.port(), TestNodes.token("alice")).await();
    discards = LogCapture.of("io.vertx.core.eventbus.impl.MessageConsumerImpl");

    EventBus eb = node.vertx().eventBus();
    JsonObject message = new JsonObject().put("text", "just too late");
    long giveUp = vertx.setTimer(5_000, t -> ctx.failNow(new AssertionError(
        "no undelivered report within 5 s; Vert.x logged: " + discards.messages())));
    eb.<JsonObject>consumer(Addresses.UNDELIVERED, m -> ctx.verify(() -> {
      vertx.cancelTimer(giveUp);
      assertEquals("no_session", m.body().getString("reason"));
      assertEquals("user:alice", m.body().getString("channel"));
      assertEquals(message, m.body().getJsonObject("message"));
      discards.close();
      assertEquals(List.of(), discards.messages(), "Vert.x logged a discard");
      assertTrue(alice.received().stream().noneMatch(f -> "message".equals(f.getString("type"))),
          () -> "alice got it after all: " + alice.received());
      ctx.completeNow();
    })).completion().await();

    // Alice's event loop is held for a moment by a marker message on her channel (an inbound interceptor runs
    // on the consumer's loop; the marker itself is swallowed). Meanwhile the disconnect and the publication
    // are both routed, while her consumer is still registered, and queued on that loop in this order; once
    // released, the loop runs the disconnect (which unregisters the consumer) and then the publication.
    // The publication goes straight to the channel's address, as the Java helper publishes: the router's own
    // check would see alice's session, which is still there when the publish is routed.
    String aliceAddress = Addresses.channel("user:alice");
    CountDownLatch holding = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    eb.addInboundInterceptor(dc -> {
      if (dc.message().headers().contains(HOLD)) {
        holding.countDown();
        try {
          release.await(2, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        return;
      }
      dc.next();
    });
    eb.publish(aliceAddress, new JsonObject(), new DeliveryOptions().addHeader(HOLD, "1"));
    assertTrue(holding.await(5, TimeUnit.SECONDS), "alice's event loop was never held");
    eb.publish(Addresses.DISCONNECT_USER, new JsonObject().put("user", "alice"));
    eb.publish(aliceAddress, Publication.now("user:alice", message, null).toJson());
    release.countDown();
  }
}
