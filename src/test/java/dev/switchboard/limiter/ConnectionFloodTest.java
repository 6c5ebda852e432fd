package dev.switchboard.limiter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.SwitchboardNode;
import dev.switchboard.hardening.Receiver;
import dev.switchboard.hardening.SteadyPublisher;
import dev.switchboard.testing.TestNodes;
import io.micrometer.core.instrument.Counter;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.http.WebSocket;
import io.vertx.core.http.WebSocketClient;
import io.vertx.core.http.WebSocketClientOptions;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * One address floods the node with connection attempts — far over {@code connect_rate_per_ip} (50/s) and,
 * since admitted connections are kept open, soon over {@code connections_per_ip} (150 here, reached after 3 s) — for
 * {@link #FLOOD_MS} ms, while ten normal clients from another address receive a steady 100 messages/s.
 * Measures how fast the node turns the flood away with 4029 and proves the normal clients lose nothing.
 */
class ConnectionFloodTest {

  static final long FLOOD_MS = 4_000;
  static final int IN_FLIGHT = 64;
  static final int MAX_ATTEMPTS = 50_000;
  static final int PER_IP = 150;
  static final String ATTACKER = "127.0.0.66";

  @Test
  void floodFromOneAddressIsTurnedAwayWhileNormalClientsReceiveEverything() throws Exception {
    Vertx vertx = Vertx.vertx();
    Vertx attackerVertx = Vertx.vertx();
    SwitchboardNode node = TestNodes.standalone(new JsonObject()
        .put("limits", new JsonObject().put("connections_per_ip", PER_IP)));
    List<Receiver> normal = new ArrayList<>();
    Queue<WebSocket> admitted = new ConcurrentLinkedQueue<>();
    WebSocketClient attacker = attackerVertx.createWebSocketClient(new WebSocketClientOptions()
        .setLocalAddress(ATTACKER).setMaxConnections(IN_FLIGHT * 2).setConnectTimeout(5_000));
    long pinger = -1;
    try {
      for (int i = 0; i < 10; i++) {
        normal.add(Receiver.connect(vertx, node.port(), TestNodes.token("steady" + i, "steady"), "room:steady").await());
      }
      SteadyPublisher publisher = new SteadyPublisher(node.vertx(), "room:steady", 10).start();
      pinger = vertx.setPeriodic(200, t -> normal.forEach(Receiver::ping));

      AtomicInteger attempts = new AtomicInteger();
      AtomicInteger refused = new AtomicInteger();
      AtomicInteger refusedRate = new AtomicInteger();
      AtomicInteger refusedIp = new AtomicInteger();
      AtomicInteger failed = new AtomicInteger();
      long start = System.nanoTime();
      long end = start + TimeUnit.MILLISECONDS.toNanos(FLOOD_MS);
      Promise<Void> done = Promise.promise();
      AtomicInteger running = new AtomicInteger(IN_FLIGHT);
      for (int i = 0; i < IN_FLIGHT; i++) {
        attackerVertx.runOnContext(v -> attackLoop(attacker, node.port(), end, attempts, refused, refusedRate, refusedIp,
            failed, admitted, running, done));
      }
      done.future().await(FLOOD_MS + 30_000, TimeUnit.MILLISECONDS);
      double seconds = (System.nanoTime() - start) / 1e9;
      publisher.stop();
      int missing = publisher.awaitDelivered(normal, 10_000);
      int accepted = publisher.accepted().cardinality();
      vertx.cancelTimer(pinger);
      pinger = -1;
      long worstPong = normal.stream().mapToLong(Receiver::worstPongMillis).max().orElse(-1);
      Counter refusedMetric = node.context().registry().find("switchboard.connects").tag("result", "too_many_connections").counter();

      System.out.printf("connection flood from one IP for %.1f s: %d attempts, %d refused with 4029 (%.0f/s; %d over the "
              + "connect rate, %d over the per-IP cap), %d admitted, %d failed otherwise; 10 normal clients received "
              + "%d/%d messages each (%.2f%%), 0 duplicates=%b, worst pong %d ms; switchboard_connects_total{result="
              + "\"too_many_connections\"}=%.0f%n",
          seconds, attempts.get(), refused.get(), refused.get() / seconds, refusedRate.get(), refusedIp.get(),
          admitted.size(), failed.get(), accepted - missing, accepted, 100.0 * (accepted - missing) / accepted,
          normal.stream().allMatch(r -> r.duplicates() == 0), worstPong, refusedMetric == null ? 0 : refusedMetric.count());

      assertEquals(0, missing, "normal clients missed messages during the flood");
      assertTrue(accepted >= FLOOD_MS / 10 / 2, "the publisher kept going: " + accepted);
      normal.forEach(r -> assertFalse(r.isClosed(), "a normal client was disconnected"));
      assertTrue(refused.get() > 0);
      assertTrue(refusedRate.get() > 0, "the connect rate limit was hit");
      assertTrue(refusedIp.get() > 0, "the per-IP cap was hit");
      // Admissions are bounded by both limits: 50 per second, and 200 at once.
      assertTrue(admitted.size() <= Math.min(PER_IP, 50 * ((long) Math.ceil(seconds) + 1)), admitted.size() + " admitted");
    } finally {
      if (pinger >= 0) {
        vertx.cancelTimer(pinger);
      }
      List<Future<Void>> closes = new ArrayList<>();
      admitted.forEach(ws -> closes.add(ws.close()));
      Future.join(closes).await(10, TimeUnit.SECONDS);
      attacker.close().await();
      normal.forEach(r -> r.close().await());
      node.close().await();
      attackerVertx.close().await();
      vertx.close().await();
    }
  }

  /**
   * One attacker "thread": connect, and if the server closes at once with 4029 count it and go again;
   * a connection that is admitted is kept open (so the per-IP cap fills up) and the loop goes on.
   */
  private static void attackLoop(WebSocketClient client, int port, long end, AtomicInteger attempts, AtomicInteger refused,
                                 AtomicInteger refusedRate, AtomicInteger refusedIp, AtomicInteger failed,
                                 Queue<WebSocket> admitted, AtomicInteger running, Promise<Void> done) {
    if (System.nanoTime() > end || attempts.get() >= MAX_ATTEMPTS) {
      if (running.decrementAndGet() == 0) {
        done.tryComplete();
      }
      return;
    }
    attempts.incrementAndGet();
    Runnable next = () -> attackLoop(client, port, end, attempts, refused, refusedRate, refusedIp, failed, admitted,
        running, done);
    // Runs on the attacker's event loop: the handlers below are set before the socket reads anything.
    client.connect(new WebSocketConnectOptions().setHost("127.0.0.1").setPort(port).setURI("/ws")).onComplete(ar -> {
      if (ar.failed()) {
        failed.incrementAndGet();
        next.run();
        return;
      }
      WebSocket ws = ar.result();
      AtomicInteger settled = new AtomicInteger();
      ws.closeHandler(v -> {
        if (settled.getAndIncrement() == 0) {
          Short code = ws.closeStatusCode();
          if (code != null && code == 4029) {
            refused.incrementAndGet();
            String reason = ws.closeReason() == null ? "" : ws.closeReason();
            if (reason.contains("per second")) {
              refusedRate.incrementAndGet();
            } else if (reason.contains("from this IP")) {
              refusedIp.incrementAndGet();
            }
          } else {
            failed.incrementAndGet();
          }
          next.run();
        }
      });
      // An admitted connection answers a ping; a refused one is closed instead.
      ws.textMessageHandler(t -> {
        if (t.contains("\"pong\"") && settled.getAndIncrement() == 0) {
          admitted.add(ws);
          next.run();
        }
      });
      ws.writeTextMessage("{\"type\":\"ping\"}");
    });
  }
}
