package dev.switchboard.hardening;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.protocol.ErrorCode;
import dev.switchboard.protocol.Frame;
import dev.switchboard.protocol.FrameDecoder;
import io.vertx.core.json.JsonObject;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.statistics.Statistics;

/**
 * Random frames against {@link FrameDecoder}: it never throws, and every input yields exactly one of a
 * {@link Frame} or a {@code bad_request} error with a reason. The decoder also catches its own bugs and
 * turns them into "could not decode frame"; these properties fail on that too, so a hidden exception is a
 * failure here rather than a silently degraded answer.
 *
 * <p>Runs on the jqwik engine (JUnit Platform, discovered by surefire alongside Jupiter); each property
 * prints a jqwik report (tries, checks, seed) into the test output.
 */
class FrameDecoderPropertiesTest {

  @Property(tries = 3000)
  void anyTextDecodesToAFrameOrABadRequest(@ForAll("texts") String text) {
    check(text);
  }

  @Property(tries = 5000)
  void anyJsonObjectDecodesToAFrameOrABadRequest(@ForAll("frames") JsonObject frame) {
    String text = frame.encode();
    FrameDecoder.Decoded d = check(text);
    Statistics.label("outcome").collect(d.frame() != null ? d.frame().getClass().getSimpleName() : "bad_request");
    // Compare with the id as it reads back from the wire (a long 0 comes back as an int 0).
    JsonObject sent = new JsonObject(text);
    // "id":null is kept apart from no id (Frame.NULL_ID), so that the answer can echo it.
    Object id = sent.getValue("id") == null && sent.containsKey("id") ? dev.switchboard.protocol.Frame.NULL_ID
        : sent.getValue("id");
    if (d.frame() != null) {
      // A decoded frame keeps the id it came with (strings, numbers and null are ids).
      assertEquals(id, d.frame().id());
    } else if (id instanceof String || id instanceof Number) {
      assertEquals(id, d.error().id(), "the error echoes a valid id");
    }
  }

  private static FrameDecoder.Decoded check(String text) {
    FrameDecoder.Decoded d = FrameDecoder.decode(text);
    assertNotNull(d);
    assertTrue((d.frame() == null) != (d.error() == null), "exactly one of frame and error");
    if (d.error() != null) {
      assertEquals(ErrorCode.BAD_REQUEST, d.error().code());
      assertNotNull(d.error().message());
      assertFalse(d.error().message().isBlank(), "the error says why");
      assertFalse(d.error().message().startsWith("could not decode frame"),
          "the decoder threw internally: " + d.error().message());
    }
    return d;
  }

  @Provide
  Arbitrary<String> texts() {
    return RandomFrames.texts();
  }

  @Provide
  Arbitrary<JsonObject> frames() {
    return RandomFrames.frames();
  }
}
