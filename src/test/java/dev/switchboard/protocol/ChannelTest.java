package dev.switchboard.protocol;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** SPEC §3 names: {@code <namespace>:<name>}, name chars {@code [A-Za-z0-9_.:=@-]}, at most 255 chars. */
class ChannelTest {

  @ParameterizedTest
  @ValueSource(strings = {"room:lobby", "user:alice@example.com", "segment:dept=sales", "topic:a.b-c_d:e",
      "broadcast", "room:X9"})
  void validNamesRoundTrip(String raw) {
    Channel.Result r = Channel.parse(raw);
    assertTrue(r.ok(), raw + ": " + r.error());
    assertEquals(raw, r.channel().toString());
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "lobby", ":lobby", "room:", "room:lob by", "room:lobby/1", "room:é", "room:<x>", "broadcast:x", "broadcast:"})
  void invalidNamesSayWhy(String raw) {
    Channel.Result r = Channel.parse(raw);
    assertNull(r.channel(), raw);
    assertTrue(r.error() != null && !r.error().isEmpty());
  }

  @Test
  void atMost255Characters() {
    String ok = "room:" + "a".repeat(250);
    assertTrue(Channel.parse(ok).ok());
    assertTrue(Channel.parse(ok + "a").error().contains("255"));
  }

  @Test
  void segmentClaimIsTheNameBeforeTheEqualsSign() {
    assertEquals(Optional.of("dept"), Channel.of("segment:dept=sales").segmentClaim());
    assertEquals(Optional.empty(), Channel.of("room:dept=sales").segmentClaim());
    assertEquals("segment:tenant=acme", Channel.segment("tenant", "acme").toString());
    assertEquals("user:bob", Channel.user("bob").toString());
  }
}
