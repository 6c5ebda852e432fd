package dev.switchboard.gateway;

import static dev.switchboard.cluster.Tally.waitFor;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import dev.switchboard.SwitchboardNode;
import dev.switchboard.bus.Addresses;
import dev.switchboard.cluster.Http;
import dev.switchboard.testing.TestNodes;
import dev.switchboard.testing.WsClient;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.internal.VertxInternal;
import io.vertx.core.json.JsonObject;
import io.vertx.core.spi.cluster.RegistrationInfo;
import io.vertx.junit5.Timeout;
import io.vertx.junit5.VertxExtension;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * SPEC §1: each node holds one consumer per channel it has local subscribers for. A node runs several gateway
 * instances (one per core), and subscribers of one channel land on several of them; the node still registers
 * one consumer, receives each publication once, and hands it to every instance.
 */
@ExtendWith(VertxExtension.class)
class ChannelFeedsTest {

  private List<SwitchboardNode> nodes;

  @AfterEach
  void tearDown() {
    if (nodes != null) {
      TestNodes.closeAll(nodes);
    }
  }

  @Test
  @Timeout(value = 90, timeUnit = TimeUnit.SECONDS)
  void gatewayInstancesOfOneNodeShareOneConsumerPerChannel(Vertx vertx) {
    nodes = TestNodes.cluster(2);
    SwitchboardNode node = nodes.get(0);
    String channel = "topic:" + UUID.randomUUID().toString().substring(0, 8);
    String address = Addresses.channel(channel);
    List<GatewayVerticle> gateways = MultiInstanceTest.gateways(node);
    assertEquals(2, gateways.size());

    WsClient ann = WsClient.authed(vertx, node.port(), TestNodes.token("ann")).await();
    WsClient ben = WsClient.authed(vertx, node.port(), TestNodes.token("ben")).await();
    assertNotEquals(MultiInstanceTest.instanceOf(gateways, "ann"), MultiInstanceTest.instanceOf(gateways, "ben"),
        "ann and ben share an event loop");
    Frames.ack(ann, 1, Frames.subscribe(channel));
    Frames.ack(ben, 1, Frames.subscribe(channel));

    List<RegistrationInfo> regs = registrations(nodes.get(1), address);
    assertEquals(1, regs.size(), () -> "one consumer for the node's two gateway instances: " + regs);
    assertEquals(node.context().nodeId(), regs.get(0).nodeId());

    long before = node.context().sessions().fanoutReceivedTotal();
    publish(vertx, channel, 0, 30);
    waitFor(() -> seqs(ann, channel).size() == 30 && seqs(ben, channel).size() == 30, 10_000,
        () -> "30 each: ann " + seqs(ann, channel) + ", ben " + seqs(ben, channel));
    List<Integer> inOrder = IntStream.range(0, 30).boxed().toList();
    assertEquals(inOrder, seqs(ann, channel));
    assertEquals(inOrder, seqs(ben, channel));
    assertEquals(30, node.context().sessions().fanoutReceivedTotal() - before,
        "the node receives each publication once, not once per gateway instance");

    // Ann subscribed first, so the consumer is on her instance's loop; her leaving must not cut ben off.
    Frames.ack(ann, 2, Frames.unsubscribe(channel));
    publish(vertx, channel, 30, 10);
    waitFor(() -> seqs(ben, channel).size() == 40, 10_000, () -> "ben's 40: " + seqs(ben, channel));
    assertEquals(IntStream.range(0, 40).boxed().toList(), seqs(ben, channel));
    assertEquals(30, seqs(ann, channel).size(), () -> "ann got some after unsubscribing: " + seqs(ann, channel));
    assertEquals(1, registrations(nodes.get(1), address).size());

    // The last subscriber leaving drops the node's one registration after the linger.
    Frames.ack(ben, 2, Frames.unsubscribe(channel));
    waitFor(() -> registrations(nodes.get(1), address).isEmpty(), 10_000, () -> address + " still registered");
    ann.close().await();
    ben.close().await();
  }

  /** Publishes seq from..from+n-1 over HTTP on the other node, one after the other. */
  private void publish(Vertx vertx, String channel, int from, int n) {
    for (int i = from; i < from + n; i++) {
      Http.Answer a = Http.post(vertx, nodes.get(1).port(), "/api/publish",
          new JsonObject().put("channel", channel).put("message", new JsonObject().put("seq", i)));
      assertEquals(200, a.status(), () -> "publish: " + a);
    }
  }

  private static List<Integer> seqs(WsClient c, String channel) {
    return c.received().stream()
        .filter(f -> "message".equals(f.getString("type")) && channel.equals(f.getString("channel")))
        .map(f -> f.getJsonObject("message").getInteger("seq"))
        .toList();
  }

  private static List<RegistrationInfo> registrations(SwitchboardNode seenFrom, String address) {
    Promise<List<RegistrationInfo>> p = Promise.promise();
    ((VertxInternal) seenFrom.vertx()).clusterManager().getRegistrations(address, p);
    return p.future().await();
  }
}
