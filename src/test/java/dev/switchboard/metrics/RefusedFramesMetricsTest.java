package dev.switchboard.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.switchboard.SwitchboardNode;
import dev.switchboard.testing.RawWsClient;
import dev.switchboard.testing.TestNodes;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A frame the session refuses unread — over its rate budget, or past the requests held while its first
 * authentication is verified — is answered {@code rate_limited} and counted as a drop, not as a message in,
 * whatever its kind (README, Observability: {@code switchboard_messages_in_total}).
 */
@ExtendWith(VertxExtension.class)
class RefusedFramesMetricsTest {

  /** The whole budget is the burst: at 0.001/s nothing refills while a test runs. */
  static final int BURST = 50;
  static SwitchboardNode node;

  @BeforeAll
  static void start() {
    node = TestNodes.standalone(new JsonObject()
        .put("limits", new JsonObject().put("messages_per_second", 0.001).put("burst", BURST)));
  }

  @AfterAll
  static void stop() {
    TestNodes.closeAll(List.of(node));
  }

  @Test
  void binaryFramesOverTheBudgetCountAsDropsOnly(Vertx vertx) throws Exception {
    Scrape before = Scrape.of(vertx, node.port());
    try (RawWsClient c = RawWsClient.connect(node.port(), "/ws?token=" + TestNodes.token("binary"))) {
      c.next("auth_success", 5_000);
      for (int i = 0; i < BURST + 10; i++) {
        c.sendFrame(RawWsClient.BINARY, true, new byte[] {1});
      }
      int refused = 0;
      int limited = 0;
      while (refused + limited < BURST + 10) {
        String code = c.next("error", 5_000).getString("code");
        if ("rate_limited".equals(code)) {
          limited++;
        } else {
          assertEquals("bad_request", code);
          refused++;
        }
      }
      assertEquals(BURST, refused, "binary frames within the budget are refused as bad requests");
      assertEquals(10, limited, "the rest are over the budget");
    }
    Scrape after = Scrape.of(vertx, node.port());
    assertEquals(BURST, after.delta(before, "switchboard_messages_in_total{type=\"binary\"}"),
        "binary frames over the rate budget count as drops, not as messages in");
    assertEquals(10, after.delta(before, "switchboard_messages_dropped_total{reason=\"rate_limited\"}"));
  }

  @Test
  void requestsPastThePipelineBoundCountAsDrops(Vertx vertx) throws Exception {
    Scrape before = Scrape.of(vertx, node.port());
    try (RawWsClient c = RawWsClient.connect(node.port(), "/ws")) {
      List<String> frames = new ArrayList<>();
      frames.add(new JsonObject().put("type", "auth").put("token", TestNodes.token("eager")).encode());
      for (int i = 1; i <= 36; i++) {
        frames.add(new JsonObject().put("type", "ping").put("id", i).encode());
      }
      c.sendTexts(frames);  // one write, read in one pass: all arrive while the auth is in flight
      int pongs = 0;
      int limited = 0;
      while (pongs + limited < 36) {
        RawWsClient.Frame f = c.read(5_000);
        if (f.opcode() != RawWsClient.TEXT) {
          continue;
        }
        JsonObject x = new JsonObject(f.text());
        if ("pong".equals(x.getString("type"))) {
          pongs++;
        } else if ("error".equals(x.getString("type"))) {
          assertEquals("rate_limited", x.getString("code"), x.encode());
          limited++;
        }
      }
      assertEquals(32, pongs, "held and answered after auth_success");
      assertEquals(4, limited, "past the 32 held");
    }
    Scrape after = Scrape.of(vertx, node.port());
    assertEquals(4, after.delta(before, "switchboard_messages_dropped_total{reason=\"rate_limited\"}"),
        "a request refused rate_limited is a dropped message, wherever it was refused");
    assertEquals(32, after.delta(before, "switchboard_messages_in_total{type=\"ping\"}"));
  }
}
