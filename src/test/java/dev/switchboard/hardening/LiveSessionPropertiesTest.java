package dev.switchboard.hardening;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.SwitchboardNode;
import dev.switchboard.protocol.FrameDecoder;
import dev.switchboard.testing.TestNodes;
import dev.switchboard.testing.WsClient;
import io.micrometer.core.instrument.Counter;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.util.concurrent.atomic.AtomicInteger;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Assume;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.statistics.Statistics;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;

/**
 * Random frames against one live, authenticated session on a real node: every frame gets an answer within
 * the protocol (a known server frame type, a known error code), the answer carries the request id, and the
 * session is never closed — least of all with 1011. Rate limits are raised so the fuzzer measures the
 * protocol, not the token bucket; {@code rpc.timeout} is short so requests to silent addresses answer fast.
 */
class LiveSessionPropertiesTest {

  static Vertx vertx;
  static SwitchboardNode node;
  static WsClient fuzzer;
  /** A second session for undecodable text, so its id-less errors never mix with the fuzzer's answers. */
  static WsClient texter;
  static final AtomicInteger tag = new AtomicInteger();

  @BeforeContainer
  static void start() {
    vertx = Vertx.vertx();
    node = TestNodes.standalone(new JsonObject()
        .put("limits", new JsonObject().put("messages_per_second", 100_000).put("burst", 100_000))
        .put("rpc", new JsonObject().put("timeout", "300ms")));
    fuzzer = WsClient.authed(vertx, node.port(), TestNodes.token("fuzzer", "*")).await();
    texter = WsClient.authed(vertx, node.port(), TestNodes.token("texter", "*")).await();
  }

  @AfterContainer
  static void stop() {
    try {
      assertFalse(fuzzer.socket().isClosed(), () -> "the fuzzed session was closed with " + fuzzer.socket().closeStatusCode());
      assertFalse(texter.socket().isClosed(), () -> "the texted session was closed with " + texter.socket().closeStatusCode());
      Counter internal = node.context().registry().find("switchboard.disconnects").tag("code", "1011").counter();
      assertTrue(internal == null || internal.count() == 0, "a session was closed with 1011");
      for (JsonObject f : fuzzer.received()) {
        assertTrue(RandomFrames.SERVER_TYPES.contains(f.getString("type")), "unknown server frame " + f);
        if ("error".equals(f.getString("type"))) {
          assertTrue(RandomFrames.ERROR_CODES.contains(f.getString("code")), "unknown error code " + f);
        }
      }
    } finally {
      fuzzer.close().await();
      texter.close().await();
      node.close().await();
      vertx.close().await();
    }
  }

  @Property(tries = 200)
  void anyRequestIsAnsweredWithinTheProtocol(@ForAll("frames") JsonObject frame) {
    String id = "fz-" + tag.incrementAndGet();
    JsonObject answer = fuzzer.request(id, frame, 5_000).await();
    assertAnswerWithinProtocol(answer);
    Statistics.label("answer").collect(answer.getString("type") + ("error".equals(answer.getString("type"))
        ? ":" + answer.getString("code") : ""));
    assertFalse(fuzzer.socket().isClosed(), () -> "closed after " + frame.encode() + ": " + fuzzer.socket().closeStatusCode());
  }

  @Property(tries = 200)
  void anyUndecodableTextIsAnsweredWithBadRequest(@ForAll("texts") String text) {
    Assume.that(FrameDecoder.decode(text).error() != null);
    Future<JsonObject> err = texter.next(f -> "error".equals(f.getString("type")), 5_000);
    texter.sendText(text);
    JsonObject answer = err.await();
    assertEquals("bad_request", answer.getString("code"), answer.encode());
    // Still serving, in order.
    String id = "alive-" + tag.incrementAndGet();
    assertEquals("pong", texter.request(id, new JsonObject().put("type", "ping"), 5_000).await().getString("type"));
    assertFalse(texter.socket().isClosed());
  }

  private static void assertAnswerWithinProtocol(JsonObject answer) {
    assertNotNull(answer.getString("type"));
    assertTrue(RandomFrames.SERVER_TYPES.contains(answer.getString("type")), "unknown frame type: " + answer);
    if ("error".equals(answer.getString("type"))) {
      assertTrue(RandomFrames.ERROR_CODES.contains(answer.getString("code")), "unknown error code: " + answer);
      assertFalse(answer.getString("message", "").isBlank(), "the error says why: " + answer);
    }
  }

  @Provide
  Arbitrary<JsonObject> frames() {
    return RandomFrames.frames();
  }

  @Provide
  Arbitrary<String> texts() {
    return RandomFrames.texts();
  }
}
