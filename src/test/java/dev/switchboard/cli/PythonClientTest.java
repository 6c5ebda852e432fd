package dev.switchboard.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.SwitchboardNode;
import dev.switchboard.testing.Cli;
import dev.switchboard.testing.TestNodes;
import io.vertx.core.json.JsonObject;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * End to end with a client this project did not write: a Python script on the plain {@code websockets}
 * library connects with a token minted by {@code switchboard token}, subscribes, and prints the message that
 * {@code switchboard publish} sends.
 */
class PythonClientTest {

  static final String PYTHON = "/usr/bin/python3";

  @Test
  void aPythonWebsocketsClientReceivesWhatTheCliPublishes(@TempDir Path dir) throws Exception {
    SwitchboardNode node = TestNodes.standalone();
    Process py = null;
    try {
      String token = TokenCommandTest.jwtIn(Cli.run("token", "--sub", "pyuser", "--rooms", "lobby", "--ttl", "10m",
          "--secret", TestNodes.SECRET));
      Path script = dir.resolve("subscribe_once.py");
      try (var in = getClass().getResourceAsStream("/python/subscribe_once.py")) {
        Files.write(script, in.readAllBytes());
      }
      Path stderr = dir.resolve("python-stderr.txt");
      py = new ProcessBuilder(PYTHON, script.toString(), "ws://127.0.0.1:" + node.port() + "/ws", token, "room:lobby")
          .redirectError(stderr.toFile())
          .start();
      BlockingQueue<String> lines = new LinkedBlockingQueue<>();
      Process proc = py;
      Thread reader = new Thread(() -> {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(proc.getInputStream(), StandardCharsets.UTF_8))) {
          for (String l = r.readLine(); l != null; l = r.readLine()) {
            lines.add(l);
          }
        } catch (java.io.IOException ignored) {
          // the process went away; the assertions below report what was missing
        }
      }, "python-stdout");
      reader.setDaemon(true);
      reader.start();

      String ready = lines.poll(20, TimeUnit.SECONDS);
      assertEquals("READY", ready, "python said: " + ready + "; stderr: " + Files.readString(stderr));

      Cli.Result pub = Cli.run("publish", "--url", "http://127.0.0.1:" + node.port(), "--api-key", TestNodes.API_KEY,
          "--channel", "room:lobby", "--message", "{\"text\":\"hello from the CLI\"}");
      assertEquals(0, pub.code(), pub.toString());

      String printed = lines.poll(10, TimeUnit.SECONDS);
      assertTrue(printed != null, "python printed nothing; stderr: " + Files.readString(stderr));
      JsonObject m = new JsonObject(printed);
      assertEquals("message", m.getString("type"));
      assertEquals("room:lobby", m.getString("channel"));
      assertEquals("hello from the CLI", m.getJsonObject("message").getString("text"));
      Instant.parse(m.getString("timestamp"));
      assertTrue(py.waitFor(10, TimeUnit.SECONDS), "python did not exit after its message");
      assertEquals(0, py.exitValue(), Files.readString(stderr));
    } finally {
      if (py != null) {
        py.destroyForcibly();
      }
      node.close().await();
    }
  }
}
