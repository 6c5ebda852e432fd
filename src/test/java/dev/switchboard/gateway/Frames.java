package dev.switchboard.gateway;

import dev.switchboard.cluster.Http;
import dev.switchboard.testing.WsClient;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.List;
import java.util.stream.Collectors;

/** Client frames and small checks shared by the protocol tests. */
final class Frames {

  static final long WAIT = 5_000;

  private Frames() {}

  static JsonObject auth(String token, String... channels) {
    return new JsonObject().put("type", "auth").put("token", token).put("channels", new JsonArray(List.of(channels)));
  }

  static JsonObject subscribe(String channel) {
    return new JsonObject().put("type", "subscribe").put("channel", channel);
  }

  static JsonObject unsubscribe(String channel) {
    return new JsonObject().put("type", "unsubscribe").put("channel", channel);
  }

  static JsonObject publish(String type, String channel, Object message) {
    return new JsonObject().put("type", type).put("channel", channel).put("message", message);
  }

  static JsonObject send(String to, Object message) {
    return new JsonObject().put("type", "send").put("to", to).put("message", message);
  }

  static JsonObject presence(String channel) {
    return new JsonObject().put("type", "presence").put("channel", channel);
  }

  static JsonObject request(String address, Object message) {
    return new JsonObject().put("type", "request").put("address", address).put("message", message);
  }

  static JsonObject history(String channel) {
    return new JsonObject().put("type", "history").put("channel", channel);
  }

  static JsonObject ping() {
    return new JsonObject().put("type", "ping");
  }

  /** Publishes over HTTP with the test API key and checks the API accepted it. */
  static void httpPublish(Vertx vertx, int port, String channel, Object message) {
    Http.Answer a = Http.post(vertx, port, "/api/publish", new JsonObject().put("channel", channel).put("message", message));
    if (a.status() != 200) {
      throw new AssertionError("POST /api/publish " + channel + " → " + a.status() + " " + a.body());
    }
  }

  /**
   * Asserts the client got no message on the channel: two ping round trips first, so anything already on
   * its way to this session (queued on its event loop before the pings) has been written ahead of the pongs.
   */
  static void assertNothingOn(WsClient c, String channel) {
    for (int i = 0; i < 2; i++) {
      String id = "quiet-" + i + "-" + System.nanoTime();
      c.request(id, ping(), WAIT).await();
    }
    List<JsonObject> got = c.received().stream()
        .filter(f -> "message".equals(f.getString("type")) && channel.equals(f.getString("channel")))
        .collect(Collectors.toList());
    if (!got.isEmpty()) {
      throw new AssertionError("expected no message on " + channel + " but got " + got);
    }
  }

  static JsonObject ack(WsClient c, Object id, JsonObject frame) {
    JsonObject answer = c.request(id, frame, WAIT).await();
    if (!"ack".equals(answer.getString("type"))) {
      throw new AssertionError("expected an ack for " + frame + " but got " + answer);
    }
    return answer;
  }

  static JsonObject error(WsClient c, Object id, JsonObject frame, String code) {
    JsonObject answer = c.request(id, frame, WAIT).await();
    if (!"error".equals(answer.getString("type")) || !code.equals(answer.getString("code"))) {
      throw new AssertionError("expected error " + code + " for " + frame + " but got " + answer);
    }
    return answer;
  }
}
