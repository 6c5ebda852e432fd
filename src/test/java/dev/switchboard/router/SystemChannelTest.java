package dev.switchboard.router;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.SwitchboardNode;
import dev.switchboard.bus.Addresses;
import dev.switchboard.client.Switchboard;
import dev.switchboard.protocol.Channel;
import dev.switchboard.testing.TestNodes;
import io.vertx.core.Future;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The admin feed ({@code $sys:stats}) is written by the nodes only: a backend cannot publish there, through
 * the router's event-bus address or the Java helper (HTTP and Redis: ApiValidationTest, RedisBridgeTest), so
 * what the dashboard shows cannot be forged by anyone holding an API key.
 */
class SystemChannelTest {

  static SwitchboardNode node;

  @BeforeAll
  static void start() {
    node = TestNodes.standalone();
  }

  @AfterAll
  static void stop() {
    node.close().await();
  }

  @Test
  void theRouterRefusesASystemChannelWith403() {
    Future<?> f = node.vertx().eventBus().request(Addresses.PUBLISH,
        new JsonObject().put("channel", Channel.SYSTEM_STATS).put("message", new JsonObject().put("node", "forged")));
    Throwable t = f.transform(ar -> Future.succeededFuture(ar.cause())).await();
    ReplyException re = assertInstanceOf(ReplyException.class, t, "refused");
    assertEquals(403, re.failureCode());
    assertTrue(re.getMessage().contains("written by the nodes"), re.getMessage());
  }

  @Test
  void theJavaHelperRefusesASystemChannel() {
    Future<Void> f = Switchboard.publisher(node.vertx()).publish(Channel.SYSTEM_STATS, new JsonObject().put("node", "forged"));
    assertTrue(f.failed(), "refused before anything is published");
    assertTrue(f.cause().getMessage().contains("written by the nodes"), f.cause().getMessage());
  }
}
