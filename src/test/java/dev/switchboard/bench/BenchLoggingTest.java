package dev.switchboard.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.json.JsonObject;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/** With --json the bench's stdout holds the JSON and nothing else, whatever a library logs meanwhile. */
class BenchLoggingTest {

  @Test
  void aLogLineDuringTheBenchGoesToStderrAndStdoutStillParses() {
    PrintStream out = System.out;
    PrintStream err = System.err;
    ByteArrayOutputStream capturedOut = new ByteArrayOutputStream();
    ByteArrayOutputStream capturedErr = new ByteArrayOutputStream();
    try {
      System.setOut(new PrintStream(capturedOut, true, StandardCharsets.UTF_8));
      System.setErr(new PrintStream(capturedErr, true, StandardCharsets.UTF_8));
      BenchLogging.consoleToStderr();
      LoggerFactory.getLogger("io.netty.util.internal.MacAddressUtil").warn("Failed to find a usable hardware address");
      System.out.println(new JsonObject().put("complete", true).encodePrettily());
    } finally {
      System.setOut(out);
      System.setErr(err);
      BenchLogging.consoleTo("System.out");
    }
    String stdout = capturedOut.toString(StandardCharsets.UTF_8);
    assertEquals(true, new JsonObject(stdout).getBoolean("complete"), stdout);
    assertTrue(capturedErr.toString(StandardCharsets.UTF_8).contains("usable hardware address"),
        "the log line still shows, on stderr");
  }
}
