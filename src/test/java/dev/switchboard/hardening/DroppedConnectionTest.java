package dev.switchboard.hardening;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.SwitchboardNode;
import dev.switchboard.bus.Addresses;
import dev.switchboard.testing.RawWsClient;
import dev.switchboard.testing.TestNodes;
import io.micrometer.core.instrument.Counter;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Clients that leave abruptly, at the two moments where the server's view lags behind the TCP connection:
 * during the upgrade (admission is decided on the event bus, so the socket can be gone before the accept)
 * and while deliveries are queued for it (Netty closes a reset channel at once but tells Vert.x a task later).
 * Neither may cost a per-IP slot or count as a slow consumer. Found by {@code benchmarks/soak.py}.
 */
@ExtendWith(VertxExtension.class)
class DroppedConnectionTest {

  private SwitchboardNode node;

  @AfterEach
  void stop() {
    if (node != null) {
      node.close().await();
    }
  }

  @Test
  void anUpgradeDroppedBeforeItIsAcceptedGivesItsPerIpSlotBack(Vertx vertx) throws Exception {
    int perIp = 3;
    node = TestNodes.standalone(new JsonObject().put("limits", new JsonObject()
        .put("connections_per_ip", perIp).put("connect_rate_per_ip", 100_000)));
    String ip = "127.0.0.51";
    for (int i = 0; i < 40; i++) {
      // The whole upgrade request, then a reset: the server reads both in one go, while admission is pending.
      try (Socket s = new Socket()) {
        s.bind(new InetSocketAddress(InetAddress.getByName(ip), 0));
        s.connect(new InetSocketAddress("127.0.0.1", node.port()), 5000);
        OutputStream out = s.getOutputStream();
        out.write(("GET /ws?token=" + TestNodes.token("gone" + i) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            + "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            + "Sec-WebSocket-Version: 13\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
        out.flush();
        s.setSoLinger(true, 0);
      }
    }
    // Each dropped upgrade releases its slot once its accept fails; then the address gets its full quota.
    long deadline = System.currentTimeMillis() + 20_000;
    List<RawWsClient> held = new ArrayList<>();
    try {
      while (held.size() < perIp) {
        assertTrue(System.currentTimeMillis() < deadline,
            "only " + held.size() + " of " + perIp + " connections admitted from " + ip + ": slots leaked");
        RawWsClient c = RawWsClient.connect(node.port(), "/ws?token=" + TestNodes.token("kept" + held.size()), ip, Map.of());
        JsonObject first = firstFrame(c);
        if (first != null && "auth_success".equals(first.getString("type"))) {
          held.add(c);
        } else {
          c.close();
          vertx.timer(50).await();
        }
      }
    } finally {
      held.forEach(RawWsClient::close);
    }
  }

  /** The first text frame, or null when the server closed instead (4029 while slots are still taken). */
  private static JsonObject firstFrame(RawWsClient c) throws IOException {
    RawWsClient.Frame f = c.read(5_000);
    return f != null && f.opcode() == RawWsClient.TEXT ? new JsonObject(f.text()) : null;
  }

  @Test
  void aClientThatResetsWhileDeliveriesAreUnderWayIsNotASlowConsumer(Vertx vertx) throws Exception {
    node = TestNodes.standalone(new JsonObject());
    String channel = "room:stream";
    AtomicBoolean stop = new AtomicBoolean();
    publishEveryMs(channel, stop, 0);
    int clients = 200;
    try {
      for (int i = 0; i < clients; i += 10) {
        List<RawWsClient> batch = new ArrayList<>();
        for (int j = i; j < i + 10; j++) {
          RawWsClient c = RawWsClient.connect(node.port(), "/ws?token=" + TestNodes.token("r" + (j % 20), "stream"),
              "127.0.0." + (60 + j % 8), Map.of());
          c.next("auth_success", 5_000);
          c.send(new JsonObject().put("type", "subscribe").put("id", 1).put("channel", channel));
          batch.add(c);
        }
        for (RawWsClient c : batch) {
          c.next("message", 5_000);
        }
        // Reset while messages keep coming: several of them are on their way to each socket.
        batch.forEach(RawWsClient::reset);
      }
    } finally {
      stop.set(true);
    }
    long deadline = System.currentTimeMillis() + 15_000;
    while (node.context().sessions().connections() > 0) {
      assertTrue(System.currentTimeMillis() < deadline, node.context().sessions().connections() + " sessions still open");
      vertx.timer(50).await();
    }
    Counter slow = node.context().registry().find("switchboard.disconnects").tag("code", "4009").counter();
    assertEquals(0.0, slow == null ? 0.0 : slow.count(), "clients that reset were closed as slow consumers");
  }

  private void publishEveryMs(String channel, AtomicBoolean stop, int seq) {
    if (stop.get()) {
      return;
    }
    node.vertx().eventBus().request(Addresses.PUBLISH, new JsonObject().put("channel", channel)
            .put("message", new JsonObject().put("seq", seq).put("pad", "x".repeat(100))))
        .onComplete(ar -> node.vertx().setTimer(1, t -> publishEveryMs(channel, stop, seq + 1)));
  }
}
