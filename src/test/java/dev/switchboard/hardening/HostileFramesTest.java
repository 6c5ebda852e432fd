package dev.switchboard.hardening;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.SwitchboardNode;
import dev.switchboard.cluster.Tally;
import dev.switchboard.testing.RawWsClient;
import dev.switchboard.testing.TestNodes;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Frames a hostile client can send before or after authenticating that once cost a node more than the
 * connection: a corrupt permessage-deflate frame left its session counted forever, and pings that were
 * answered whatever the socket's backlog filled the heap with pongs.
 */
class HostileFramesTest {

  static final long WAIT = 10_000;
  static SwitchboardNode node;

  @BeforeAll
  static void start() {
    node = TestNodes.standalone(new JsonObject()
        .put("limits", new JsonObject().put("connections_per_user", 2)));
  }

  @AfterAll
  static void stop() {
    node.close().await();
  }

  static double connections() {
    return node.context().registry().get("switchboard.connections").gauge().value();
  }

  @Test
  void aCorruptDeflateFrameClosesWith1007AndReleasesTheSessionAndItsUserSlot() throws IOException {
    Map<String, String> deflate = Map.of("Sec-WebSocket-Extensions",
        "permessage-deflate; client_no_context_takeover; server_no_context_takeover");
    for (int i = 0; i < 3; i++) {
      try (RawWsClient c = RawWsClient.connect(node.port(), "/ws?token=" + TestNodes.token("corrupt"), "127.0.0.61",
          deflate)) {
        assertEquals(101, c.status());
        assertTrue(String.valueOf(c.header("sec-websocket-extensions")).contains("permessage-deflate"));
        c.next("auth_success", WAIT);
        // RSV1 says compressed; 0xff… is a deflate block of the reserved type 11, which no inflater accepts.
        c.sendFrameWithRsv(RawWsClient.TEXT, 4, new byte[] {(byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, 0,
            'g', 'a', 'r', 'b', 'a', 'g', 'e'});
        RawWsClient.Frame close = c.awaitClose(WAIT);
        assertEquals(1007, close.closeCode(), close.toString());
      }
    }
    Tally.waitFor(() -> connections() == 0.0, WAIT, () -> "connections after three corrupt frames: " + connections());
    // A cap of 2 per user: three leaked sessions would refuse this user for good.
    try (RawWsClient a = RawWsClient.connect(node.port(), "/ws?token=" + TestNodes.token("corrupt"));
        RawWsClient b = RawWsClient.connect(node.port(), "/ws?token=" + TestNodes.token("corrupt"))) {
      a.next("auth_success", WAIT);
      b.next("auth_success", WAIT);
    }
  }

  @Test
  void pingsFromAClientThatReadsNothingDoNotPileUpPongs() throws IOException {
    int pings = 100_000;
    byte[] payload = new byte[125];
    try (RawWsClient c = RawWsClient.connect(node.port(), "/ws?token=" + TestNodes.token("pinger"), "127.0.0.62",
        Map.of(), 4096)) {
      c.next("auth_success", WAIT);
      byte[] frame = RawWsClient.frameBytes(RawWsClient.PING, payload);
      byte[] batch = new byte[frame.length * 1000];
      for (int i = 0; i < 1000; i++) {
        System.arraycopy(frame, 0, batch, i * frame.length, frame.length);
      }
      for (int i = 0; i < pings / 1000; i++) {
        c.sendRaw(batch);
      }
      c.sendFrame(RawWsClient.TEXT, true, "{\"type\":\"ping\",\"id\":\"last\"}".getBytes(StandardCharsets.UTF_8));
      int pongs = 0;
      while (true) {
        RawWsClient.Frame f = c.read(WAIT);
        if (f.opcode() == RawWsClient.PONG) {
          pongs++;
        } else if (f.opcode() == RawWsClient.TEXT && f.text().contains("\"last\"")) {
          break;
        }
      }
      // Answered while the socket could take them; once it could not, later pings waited for no pong of their own
      // (RFC 6455 §5.5.3 allows answering only the latest), so the node held a bounded backlog, not 12 MB of pongs.
      assertTrue(pongs < pings / 2, pongs + " pongs for " + pings + " pings sent to a client that read nothing");
      assertTrue(pongs > 0, "pings are still answered");
    }
  }
}
