package dev.switchboard.protocol;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

/** The reasons a refused request gives say what is wrong with it, not a neighbouring rule. */
class FrameDecoderMessagesTest {

  static FrameDecoder.Decoded decode(JsonObject frame) {
    return FrameDecoder.decode(frame.encode());
  }

  @Test
  void aRecipientIdTooLongSaysSoNotThatItsCharactersAreWrong() {
    JsonObject send = new JsonObject().put("type", "send").put("id", 1).put("message", "hi");
    assertEquals("to is longer than 250 characters (user:<id> is at most 255)",
        decode(send.copy().put("to", "b".repeat(251))).error().message());
    assertEquals("to has a character outside A-Z a-z 0-9 _ . : = @ - at position 3",
        decode(send.copy().put("to", "bob smith")).error().message());
    assertEquals("to must be a user id (a string)", decode(send.copy().put("to", 42)).error().message());
    assertNull(decode(send.copy().put("to", "b".repeat(250))).error());
  }

  @Test
  void aHistoryLimitPastTheIntegerRangeMeansAllThatIsKept() {
    JsonObject history = new JsonObject().put("type", "history").put("id", 2).put("channel", "room:lobby");
    for (Object huge : new Object[] {2_147_483_648L, 1_000_000_000_000L, 1e300}) {
      FrameDecoder.Decoded d = decode(history.copy().put("limit", huge));
      assertNull(d.error(), () -> huge + ": " + d.error());
      assertEquals(Integer.MAX_VALUE, ((Frame.History) d.frame()).limit());
    }
    assertEquals("limit must be a non-negative integer", decode(history.copy().put("limit", -1)).error().message());
  }

  @Test
  void jsonPastJacksonsLimitsSaysWhichLimitAndAnIdThatOverflowsIsRefusedNotEchoedAsInfinity() {
    String deep = "{\"type\":\"ping\",\"x\":" + "[".repeat(2000) + "]".repeat(2000) + "}";
    String reason = FrameDecoder.decode(deep).error().message();
    assertTrue(reason.startsWith("frame exceeds a JSON limit: ") && reason.contains("nesting depth"), reason);
    assertEquals("frame is not valid JSON", FrameDecoder.decode("{\"type\":").error().message());

    FrameDecoder.Decoded infinite = FrameDecoder.decode("{\"type\":\"ping\",\"id\":1e999999999}");
    assertEquals("id must be a finite number", infinite.error().message());
    assertNull(FrameDecoder.decode("{\"type\":\"ping\",\"id\":1e300}").error());
  }

  @Test
  void anIdOfAnotherTypeIsToldThatNullIsAnIdToo() {
    for (String id : new String[] {"{\"a\":1}", "[1]", "true"}) {
      assertEquals("id must be a string, a number or null",
          FrameDecoder.decode("{\"type\":\"ping\",\"id\":" + id + "}").error().message(), id);
    }
    assertNull(FrameDecoder.decode("{\"type\":\"ping\",\"id\":null}").error());
  }
}
