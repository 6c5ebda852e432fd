package dev.switchboard.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Runs the unit tests of /switchboard.js (src/test/js/*.test.mjs) with Node's built-in test runner, so
 * {@code mvn verify} covers the browser client too. Needs {@code node} (18+) on the PATH.
 */
class JsClientTest {

  @Test
  void nodeTestRunnerPasses() throws IOException, InterruptedException {
    Path dir = Path.of(System.getProperty("basedir", ".")).resolve("src/test/js");
    List<String> cmd = new ArrayList<>(List.of("node", "--test"));
    try (Stream<Path> files = Files.list(dir)) {
      files.filter(p -> p.getFileName().toString().endsWith(".test.mjs")).sorted().forEach(p -> cmd.add(p.toString()));
    }
    assertTrue(cmd.size() > 2, "no *.test.mjs files in " + dir);
    Path log = Files.createTempFile("switchboard-node-test", ".txt");
    Process p;
    try {
      p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    } catch (IOException e) {
      throw new AssertionError("cannot run node (install Node.js 18 or newer): " + e.getMessage(), e);
    }
    try {
      boolean done = p.waitFor(120, TimeUnit.SECONDS);
      String out = Files.readString(log, StandardCharsets.UTF_8);
      System.out.println(out);
      assertTrue(done, "node --test did not finish within 120 s:\n" + out);
      assertEquals(0, p.exitValue(), "node --test failed:\n" + out);
      assertFalse(out.contains("not ok"), out);
    } finally {
      p.destroyForcibly();
      Files.deleteIfExists(log);
    }
  }
}
