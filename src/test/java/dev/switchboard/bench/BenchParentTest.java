package dev.switchboard.bench;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A server started by the bench exits when the bench is gone, even when the bench ran no shutdown hook. */
class BenchParentTest {

  @TempDir
  Path tmp;

  @Test
  void aServerExitsWhenTheProcessThatStartedItIsKilled() throws Exception {
    // `sleep` stands in for the bench: SIGKILL gives it no chance to stop anything itself
    Process bench = new ProcessBuilder("sleep", "120").start();
    Path log = tmp.resolve("bare.log");
    Process server = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx64m", "-D" + BenchParent.PROPERTY + "=" + bench.pid(), "-cp", NodeProcess.absoluteClassPath(),
        BareServer.class.getName(), "--port", Integer.toString(NodeGroup.freePort()), "--instances", "1")
        .redirectErrorStream(true).redirectOutput(log.toFile()).start();
    try {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (!read(log).contains("bare ready") && server.isAlive() && System.nanoTime() < deadline) {
        Thread.sleep(100);
      }
      assertTrue(server.isAlive() && read(log).contains("bare ready"), "bare server did not start:\n" + read(log));
      bench.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
      assertTrue(server.waitFor(20, TimeUnit.SECONDS), "the server outlived the bench:\n" + read(log));
      assertTrue(read(log).contains("has exited; stopping"), read(log));
    } finally {
      bench.destroyForcibly();
      server.destroyForcibly();
    }
  }

  private static String read(Path log) throws IOException {
    return Files.exists(log) ? Files.readString(log, StandardCharsets.UTF_8) : "";
  }
}
