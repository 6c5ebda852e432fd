package dev.switchboard.router;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.SwitchboardNode;
import dev.switchboard.bus.Addresses;
import dev.switchboard.testing.TestNodes;
import io.vertx.core.Future;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.eventbus.ReplyFailure;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * SPEC §5.1: a request to {@code switchboard.publish} is answered {@code {"ok":true}} or with a failure and
 * its reason, whatever the body: a body that is not a JSON object is refused with 400, not left to time out.
 */
class PublishAddressTest {

  static SwitchboardNode node;

  @BeforeAll
  static void start() {
    node = TestNodes.standalone();
  }

  @AfterAll
  static void stop() {
    node.close().await();
  }

  static Stream<Object> bodiesThatAreNotObjects() {
    return Stream.of("notjson", 42, new JsonArray().add(new JsonObject().put("channel", "room:x").put("message", 1)),
        true);
  }

  @ParameterizedTest
  @MethodSource("bodiesThatAreNotObjects")
  void aBodyThatIsNotAnObjectIsRefusedWithAReason(Object body) {
    Future<?> f = node.vertx().eventBus().request(Addresses.PUBLISH, body, new DeliveryOptions().setSendTimeout(5_000));
    Throwable t = f.transform(ar -> Future.succeededFuture(ar.cause())).await();
    ReplyException re = assertInstanceOf(ReplyException.class, t, "refused");
    assertEquals(ReplyFailure.RECIPIENT_FAILURE, re.failureType(), "answered, not timed out: " + re.getMessage());
    assertEquals(400, re.failureCode());
    assertTrue(re.getMessage().contains("JSON object"), re.getMessage());
  }
}
