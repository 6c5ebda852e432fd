package dev.switchboard.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.SwitchboardNode;
import dev.switchboard.client.SwitchboardClient;
import dev.switchboard.config.SwitchboardConfig;
import dev.switchboard.testing.TestNodes;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.auth.PubSecKeyOptions;
import io.vertx.ext.auth.jwt.JWTAuth;
import io.vertx.ext.auth.jwt.JWTAuthOptions;
import io.vertx.junit5.VertxExtension;
import java.nio.file.Path;
import java.util.List;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The bench's WebSocket publisher is the Java client (SPEC §8) against a real node: its publishes reach every
 * receiver with the payload the latency is measured from, and a publish the server refuses is counted as an
 * error, which flags the run.
 */
@ExtendWith(VertxExtension.class)
class LoadClientPublisherTest {

  @TempDir
  Path dir;

  @Test
  void thePublisherIsTheJavaClientAndARefusedPublishIsAnError() {
    SwitchboardNode node = TestNodes.standalone();
    BenchSettings s = new BenchSettings("secret", "key", List.of(), 1, 1, 0, 1, dir, false, false, false, "auto",
        SwitchboardConfig.Transport.AUTO, true, BenchSettings.AUTO_CPUS, 0, 0, 0);
    try (LoadClient client = new LoadClient(s, 1, LoadClient.Compression.OFF)) {
      LoadClient.Conn receiver = client.conn(0, "r0", node.port(), 0);
      client.connect(receiver, TestNodes.token("r0", "bench"), List.of(), 10_000)
          .compose(v -> client.subscribe(receiver, "room:bench", 10_000)).await();
      SwitchboardClient publisher = client.publisher(-1, node.port(), TestNodes.token("publisher0", "bench"), 10_000).await();

      // 20 messages within the server's default burst (40) for one session
      LoadClient.PhaseRun run = client.openLoop(LoadClient.PHASE_RATE, 20, 1_000, 10_000, 100, (payload, seq) -> {
        client.publish(publisher, "room:bench", new JsonObject(payload));
        return 1;
      }, "x").await();
      assertTrue(run.drained(), "every receipt arrived");
      assertTrue(run.sent() >= 15, "sent " + run.sent());
      assertEquals(run.sent(), client.delivered[LoadClient.PHASE_RATE].sum(), "each message delivered once");
      assertEquals(run.sent(), client.takeLatency(LoadClient.PHASE_RATE).getTotalCount(), "each latency measured");
      assertEquals(0, client.errors.sum(), String.valueOf(client.errorSamples));

      // the token names room:bench only
      client.publish(publisher, "room:elsewhere", new JsonObject().put("n", 1));
      await(() -> client.errors.sum() == 1, () -> "the refusal counted: " + client.errorSamples);
      assertTrue(client.errorSamples.peek().contains("forbidden"), String.valueOf(client.errorSamples));
      assertEquals(0, client.unexpectedCloses.sum(), String.valueOf(client.errorSamples));
      client.expectCloses();
    } finally {
      node.close().await();
    }
  }

  /** Against the bare baseline too: it takes the token from the upgrade's Authorization header, as the client sends it. */
  @Test
  void thePublisherConnectsToTheBareServer(Vertx vertx) {
    int port = TestNodes.freePort();
    JWTAuth jwt = JWTAuth.create(vertx, new JWTAuthOptions()
        .addPubSecKey(new PubSecKeyOptions().setAlgorithm("HS256").setBuffer(TestNodes.SECRET)));
    String bare = vertx.deployVerticle(new BareServer.Instance(jwt, new HttpServerOptions().setHost("127.0.0.1")
        .setPort(port), "key", BareServer.Write.TEXT)).await();
    BenchSettings s = new BenchSettings("secret", "key", List.of(), 1, 1, 0, 1, dir, false, false, false, "auto",
        SwitchboardConfig.Transport.AUTO, true, BenchSettings.AUTO_CPUS, 0, 0, 0);
    try (LoadClient client = new LoadClient(s, 1, LoadClient.Compression.OFF)) {
      SwitchboardClient publisher = client.publisher(-1, port, TestNodes.token("publisher0", "bench"), 5_000).await();
      assertEquals("publisher0", publisher.userId());
      publisher.publish("room:bench", new JsonObject().put("n", 1)).await();
      client.expectCloses();
    } finally {
      vertx.undeploy(bare).await();
    }
  }

  private static void await(BooleanSupplier condition, Supplier<String> what) {
    long deadline = System.currentTimeMillis() + 10_000;
    while (!condition.getAsBoolean()) {
      assertTrue(System.currentTimeMillis() < deadline, () -> "not within 10 s: " + what.get());
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        throw new AssertionError(e);
      }
    }
  }
}
