package dev.switchboard.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.SwitchboardNode;
import dev.switchboard.testing.Cli;
import dev.switchboard.testing.TestNodes;
import dev.switchboard.testing.WsClient;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** {@code switchboard publish}: POSTs /api/publish and reports the outcome in its exit code. */
@ExtendWith(VertxExtension.class)
class PublishCommandTest {

  static SwitchboardNode node;

  @BeforeAll
  static void start() {
    node = TestNodes.standalone();
  }

  @AfterAll
  static void stop() {
    node.close().await();
  }

  Cli.Result publish(String key, String channel, String message, String... extra) {
    String[] base = {"publish", "--url", "http://127.0.0.1:" + node.port(), "--api-key", key,
        "--channel", channel, "--message", message};
    String[] all = new String[base.length + extra.length];
    System.arraycopy(base, 0, all, 0, base.length);
    System.arraycopy(extra, 0, all, base.length, extra.length);
    return Cli.run(all);
  }

  @Test
  void aJsonMessageAndATextMessageReachTheSubscriber(Vertx vertx) {
    WsClient c = WsClient.authed(vertx, node.port(), TestNodes.token("sue", "lobby")).await();
    assertEquals("ack", c.request(1, new JsonObject().put("type", "subscribe").put("channel", "room:lobby"), 5_000)
        .await().getString("type"));

    Cli.Result r = publish(TestNodes.API_KEY, "room:lobby", "{\"text\":\"hi\"}", "--from-user", "ops-bot");
    assertEquals(0, r.code(), r.toString());
    assertTrue(r.out().contains("\"ok\":true"), r.toString());
    JsonObject m = c.next("message", 5_000).await();
    assertEquals(new JsonObject().put("text", "hi"), m.getJsonObject("message"));
    assertEquals("ops-bot", m.getString("from_user"));

    assertEquals(0, publish(TestNodes.API_KEY, "room:lobby", "plain words").code());
    assertEquals("plain words", c.next("message", 5_000).await().getString("message"));
    c.close().await();
  }

  @Test
  void refusalsExitWith1AndPrintTheReason() {
    Cli.Result badKey = publish("wrong-key", "room:lobby", "{}");
    assertEquals(1, badKey.code(), badKey.toString());
    assertTrue(badKey.err().contains("401"), badKey.toString());

    Cli.Result badChannel = publish(TestNodes.API_KEY, "no channel here", "{}");
    assertEquals(1, badChannel.code(), badChannel.toString());
    assertTrue(badChannel.err().contains("400") && badChannel.err().contains("channel"), badChannel.toString());

    Cli.Result nobody = Cli.run("publish", "--url", "http://127.0.0.1:" + TestNodes.freePort(), "--api-key", "k",
        "--channel", "room:lobby", "--message", "{}");
    assertEquals(1, nobody.code(), nobody.toString());
    assertTrue(nobody.err().contains("cannot reach") && nobody.err().contains("connection refused"), nobody.toString());
  }

  @Test
  void inputThatCannotBeMeantIsRefusedBeforeAnythingIsSent() {
    Cli.Result typo = publish(TestNodes.API_KEY, "room:lobby", "{\"text\":\"hi\"");
    assertEquals(2, typo.code(), typo.toString());
    assertTrue(typo.err().contains("starts like JSON but is not valid JSON"), typo.toString());

    Cli.Result badUrl = Cli.run("publish", "--url", "notaurl", "--api-key", "k", "--channel", "room:lobby", "--message", "{}");
    assertEquals(2, badUrl.code(), badUrl.toString());
    assertTrue(badUrl.err().contains("--url notaurl is not a node's URL"), badUrl.toString());
    assertTrue(!badUrl.err().contains("Exception"), "no stack trace: " + badUrl);
  }

  @Test
  void everyCommandAnswersHelpWithoutItsRequiredOptions() {
    for (String command : new String[] {"run", "token", "publish"}) {
      Cli.Result help = Cli.run(command, "--help");
      assertEquals(0, help.code(), command + ": " + help);
      assertTrue(help.out().contains("Usage: switchboard " + command), command + ": " + help);
    }
  }

  @Test
  void aValueTheParserCannotTakeIsOneLineAndAHintNotTheWholeUsage() {
    for (String[] args : new String[][] {{"bench", "--size", "abc"}, {"token", "--ttl"}, {"publish", "--no-such-option"}}) {
      Cli.Result r = Cli.run(args);
      assertEquals(2, r.code(), String.join(" ", args) + ": " + r);
      String[] lines = r.err().trim().split("\n");
      assertEquals(2, lines.length, String.join(" ", args) + ": " + r);
      assertTrue(lines[0].startsWith("switchboard: "), r.toString());
      assertTrue(lines[1].contains("switchboard " + args[0] + " --help"), r.toString());
    }
  }
}
