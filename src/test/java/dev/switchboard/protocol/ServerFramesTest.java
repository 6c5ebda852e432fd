package dev.switchboard.protocol;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.bus.Publication;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The server → client shapes of SPEC §4, field for field: a client written for them relies on each one. */
class ServerFramesTest {

  @Test
  void messageCarriesTheClassicFieldsAndPositionOnlyWhenKept() {
    Publication p = Publication.now("room:lobby", new JsonObject().put("text", "hi"), "alice");
    JsonObject m = new JsonObject(ServerFrames.message(p));
    assertEquals(Set.of("type", "channel", "message", "from_user", "timestamp"), m.fieldNames());
    assertEquals("message", m.getString("type"));
    assertEquals("alice", m.getString("from_user"));
    assertTrue(m.getString("timestamp").endsWith("Z"));
    Instant.parse(m.getString("timestamp"));

    JsonObject kept = new JsonObject(ServerFrames.message(p.withPosition(7, "e1")));
    assertEquals(7, kept.getLong("offset"));
    assertEquals("e1", kept.getString("epoch"));

    JsonObject fromBackend = new JsonObject(ServerFrames.message(Publication.now("broadcast", 1, null)));
    assertTrue(fromBackend.containsKey("from_user"));
    assertNull(fromBackend.getValue("from_user"));
  }

  @Test
  void authSuccessListsChannelsSortedAndExpiresInOnlyWithExp() {
    JsonObject withExp = new JsonObject(ServerFrames.authSuccess("a", "alice", "s1", "n1",
        List.of("user:alice", "broadcast"), 25, 3600L));
    assertEquals(new JsonObject().put("type", "auth_success").put("id", "a").put("user_id", "alice")
        .put("session_id", "s1").put("node", "n1").put("channels", new JsonArray().add("broadcast").add("user:alice"))
        .put("heartbeat", 25).put("expires_in", 3600L), withExp);
    assertFalse(new JsonObject(ServerFrames.authSuccess(null, "alice", "s1", "n1", List.of(), 25, null))
        .containsKey("expires_in"));
  }

  @Test
  void answersEchoTheIdOnlyWhenThereIsOne() {
    assertEquals(new JsonObject().put("type", "ack").put("id", 3), new JsonObject(ServerFrames.ack(3)));
    assertEquals(new JsonObject().put("type", "ack"), new JsonObject(ServerFrames.ack(null)));
    assertEquals(new JsonObject().put("type", "pong").put("id", "p"), new JsonObject(ServerFrames.pong("p")));
    assertEquals(new JsonObject().put("type", "error").put("id", "x").put("code", "forbidden").put("message", "no"),
        new JsonObject(ServerFrames.error("x", ErrorCode.FORBIDDEN, "no")));
    assertEquals(new JsonObject().put("type", "reply").put("id", 1).put("message", new JsonObject().put("ok", 1)),
        new JsonObject(ServerFrames.reply(1, new JsonObject().put("ok", 1))));
    assertEquals(new JsonObject().put("type", "reply").put("message", "m"), new JsonObject(ServerFrames.reply(null, "m")),
        "a request sent without an id gets a reply without one, not \"id\":null");
    assertEquals(new JsonObject().put("type", "presence").put("id", 2).put("channel", "room:a")
            .put("users", new JsonArray().add("u")).put("count", 1),
        new JsonObject(ServerFrames.presence(2, "room:a", new JsonArray().add("u"))));
  }

  @ParameterizedTest(name = "{0} = {1}")
  @CsvSource({
      "BAD_REQUEST, bad_request", "UNAUTHORIZED, unauthorized", "FORBIDDEN, forbidden",
      "RATE_LIMITED, rate_limited", "TOO_LARGE, too_large", "TIMEOUT, timeout", "INTERNAL, internal",
  })
  void errorCodesAreTheSpecsCatalog(ErrorCode code, String wire) {
    assertEquals(wire, code.wire());
    assertEquals(7, ErrorCode.values().length, "SPEC §4 lists seven codes");
  }

  @ParameterizedTest(name = "{0} = {1}")
  @CsvSource({
      "NORMAL, 1000", "GOING_AWAY, 1001", "POLICY_VIOLATION, 1008", "MESSAGE_TOO_BIG, 1009",
      "INTERNAL_ERROR, 1011", "RATE_LIMIT_EXCEEDED, 4008", "SLOW_CONSUMER, 4009", "TOKEN_EXPIRED, 4010",
      "TOO_MANY_CONNECTIONS, 4029",
  })
  void closeCodesAreTheSpecsCodes(CloseCode code, int wire) {
    assertEquals(wire, code.code());
    assertEquals(9, CloseCode.values().length, "SPEC §4 lists nine close codes");
  }
}
