package dev.switchboard.tools;

import dev.switchboard.auth.TokenIssuer;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.http.WebSocket;
import io.vertx.core.http.WebSocketClient;
import io.vertx.core.http.WebSocketClientOptions;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Opens N authenticated WebSocket sessions to one node and holds them idle (they answer the server's pings,
 * nothing else), for measuring what an idle connection costs the node. Bounded: at most {@code inFlight}
 * handshakes at once, a deadline for the ramp, a fixed hold time, then it closes everything and exits.
 *
 * <pre>
 * java -cp target/test-classes:target/switchboard.jar dev.switchboard.tools.IdleConnections \
 *     --port 8080 --count 10000 --secret "$SWITCHBOARD_JWT_SECRET" --hold 60
 * </pre>
 * Prints {@code CONNECTED n failed=f ms=t} once the ramp is done (then the node can be measured) and
 * {@code DONE} when it lets go. Each session is a different user (idle-0 … idle-N-1), so the per-user cap
 * does not apply; the node's per-IP limits must allow N (limits.connections_per_ip, connect_rate_per_ip).
 */
public final class IdleConnections {

  public static void main(String[] args) throws Exception {
    Map<String, String> a = new java.util.HashMap<>();
    for (int i = 0; i + 1 < args.length; i += 2) {
      a.put(args[i].replaceFirst("^--", ""), args[i + 1]);
    }
    int port = Integer.parseInt(a.getOrDefault("port", "8080"));
    int count = Integer.parseInt(a.getOrDefault("count", "10000"));
    int inFlight = Integer.parseInt(a.getOrDefault("in-flight", "200"));
    long holdSeconds = Long.parseLong(a.getOrDefault("hold", "60"));
    long rampDeadlineMs = Long.parseLong(a.getOrDefault("ramp-timeout", "300")) * 1000;
    String secret = a.get("secret");
    if (secret == null) {
      System.err.println("usage: IdleConnections --secret S [--port 8080] [--count 10000] [--hold 60] [--in-flight 200]");
      System.exit(2);
    }

    Vertx vertx = Vertx.vertx();
    TokenIssuer issuer = new TokenIssuer(vertx, secret);
    WebSocketClient client = vertx.createWebSocketClient(new WebSocketClientOptions()
        .setMaxConnections(count + 16).setConnectTimeout(10_000));
    List<WebSocket> open = java.util.Collections.synchronizedList(new ArrayList<>(count));
    AtomicInteger next = new AtomicInteger();
    AtomicInteger done = new AtomicInteger();
    AtomicInteger failed = new AtomicInteger();
    Promise<Void> ramped = Promise.promise();
    long t0 = System.currentTimeMillis();

    Runnable[] launch = new Runnable[1];
    launch[0] = () -> {
      int i = next.getAndIncrement();
      if (i >= count) {
        return;
      }
      String token = issuer.issue("idle-" + i, List.of(), List.of(), Map.of(), Duration.ofHours(2));
      connectOne(vertx, client, port, token).onComplete(ar -> {
        if (ar.succeeded()) {
          open.add(ar.result());
        } else {
          failed.incrementAndGet();
          if (failed.get() <= 5) {
            System.err.println("connection " + i + " failed: " + ar.cause().getMessage());
          }
        }
        if (done.incrementAndGet() == count) {
          ramped.tryComplete();
        } else {
          launch[0].run();
        }
      });
    };
    for (int i = 0; i < Math.min(inFlight, count); i++) {
      vertx.runOnContext(v -> launch[0].run());
    }
    try {
      ramped.future().await(rampDeadlineMs, java.util.concurrent.TimeUnit.MILLISECONDS);
    } catch (Exception e) {
      System.err.println("ramp did not finish within " + rampDeadlineMs + " ms: " + done.get() + " done");
    }
    System.out.println("CONNECTED " + open.size() + " failed=" + failed.get() + " ms=" + (System.currentTimeMillis() - t0));
    System.out.flush();
    Thread.sleep(holdSeconds * 1000);
    List<Future<Void>> closes = new ArrayList<>();
    synchronized (open) {
      open.forEach(ws -> closes.add(ws.close()));
    }
    Future.join(closes).await(30, java.util.concurrent.TimeUnit.SECONDS);
    vertx.close().await(30, java.util.concurrent.TimeUnit.SECONDS);
    System.out.println("DONE");
    System.exit(0);
  }

  /** Connects with ?token= and completes once auth_success arrived; fails on anything else. */
  static Future<WebSocket> connectOne(Vertx vertx, WebSocketClient client, int port, String token) {
    return client.connect(new WebSocketConnectOptions().setHost("127.0.0.1").setPort(port).setURI("/ws?token=" + token))
        .compose(ws -> {
          Promise<WebSocket> authed = Promise.promise();
          long timer = vertx.setTimer(30_000, t -> authed.tryFail("no auth_success within 30 s"));
          ws.textMessageHandler(text -> {
            JsonObject f = new JsonObject(text);
            if ("auth_success".equals(f.getString("type"))) {
              vertx.cancelTimer(timer);
              authed.tryComplete(ws);
            }
          });
          ws.closeHandler(v -> authed.tryFail("closed " + ws.closeStatusCode() + " " + ws.closeReason()));
          return authed.future();
        });
  }
}
