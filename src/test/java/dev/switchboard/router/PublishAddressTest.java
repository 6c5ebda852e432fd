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
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.eventbus.ReplyFailure;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * SPEC §5.1: a request to {@code switchboard.publish} is answered {@code {"ok":true}} or with a failure and
 * its reason, whatever the body: a body that is not a JSON object is refused with 400, not left to time out.
 * And the admin feed ({@code $sys:stats}) is written by the nodes only: neither the router nor the Java helper
 * publishes there (HTTP and Redis: ApiValidationTest, RedisBridgeTest), so what the dashboard shows cannot be
 * forged by anyone holding an API key.
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

  /** The router's refusal of one request: a recipient failure, not a timeout. */
  static ReplyException refusal(Object body) {
    Future<?> f = node.vertx().eventBus().request(Addresses.PUBLISH, body, new DeliveryOptions().setSendTimeout(5_000));
    Throwable t = f.transform(ar -> Future.succeededFuture(ar.cause())).await();
    ReplyException re = assertInstanceOf(ReplyException.class, t, "refused");
    assertEquals(ReplyFailure.RECIPIENT_FAILURE, re.failureType(), "answered, not timed out: " + re.getMessage());
    return re;
  }

  static Stream<Object> bodiesThatAreNotObjects() {
    return Stream.of("notjson", 42, new JsonArray().add(new JsonObject().put("channel", "room:x").put("message", 1)),
        true);
  }

  @ParameterizedTest
  @MethodSource("bodiesThatAreNotObjects")
  void aBodyThatIsNotAnObjectIsRefusedWithAReason(Object body) {
    ReplyException re = refusal(body);
    assertEquals(400, re.failureCode());
    assertTrue(re.getMessage().contains("JSON object"), re.getMessage());
  }

  @Test
  void theRouterRefusesASystemChannelWith403() {
    ReplyException re = refusal(new JsonObject().put("channel", Channel.SYSTEM_STATS)
        .put("message", new JsonObject().put("node", "forged")));
    assertEquals(403, re.failureCode());
    assertTrue(re.getMessage().contains("written by the nodes"), re.getMessage());
  }

  @Test
  void theJavaHelperRefusesASystemChannel() {
    Future<Void> f = Switchboard.publisher(node.vertx()).publish(Channel.SYSTEM_STATS, new JsonObject().put("node", "forged"));
    assertTrue(f.failed(), "refused before anything is published");
    assertTrue(f.cause().getMessage().contains("written by the nodes"), f.cause().getMessage());
  }

  @Test
  void aBackendCannotPassItselfOffAsAClientNorSendAFromUserThatIsNotAString() {
    // "client" is no field of the backend's body: a big message with it is still over the limit.
    ReplyException big = refusal(new JsonObject().put("channel", "room:x").put("client", true)
        .put("message", "x".repeat(70_000)));
    assertEquals(413, big.failureCode(), big.getMessage());
    // Once it went unanswered (a ClassCastException in the router): now it is a field like any other unknown one.
    Object odd = node.vertx().eventBus().request(Addresses.PUBLISH, new JsonObject().put("channel", "room:x")
        .put("client", "yes").put("message", 1), new DeliveryOptions().setSendTimeout(5_000)).await().body();
    assertEquals(new JsonObject().put("ok", true), odd);
    ReplyException number = refusal(new JsonObject().put("channel", "room:x").put("message", 1).put("from_user", 7));
    assertEquals(400, number.failureCode());
    assertEquals("from_user must be a string or null", number.getMessage());
  }

  @Test
  void theJavaHelperFailsItsFutureForAMessageThatIsNotJson() {
    Future<Void> f = Switchboard.publisher(node.vertx()).toRoom("lobby", new Object());
    assertTrue(f.failed(), "a failed future, not a thrown exception");
    assertTrue(f.cause().getMessage().startsWith("message cannot be written as JSON"), f.cause().getMessage());
  }
}
