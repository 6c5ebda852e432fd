package dev.switchboard.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.testing.Cli;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code switchboard run} with a value it cannot use exits with code 2 and prints the key, before starting
 * anything: as a flag (in this JVM), and as SWITCHBOARD_* env vars (a child JVM, the only way to set them).
 */
class StartupConfigErrorTest {

  @TempDir
  Path dir;

  @Test
  void aBadPortFlagExitsWith2NamingTheOption() {
    Cli.Result r = Cli.run("run", "--port", "notaport");
    assertEquals(2, r.code(), r.toString());
    assertTrue(r.err().contains("--port") && r.err().contains("notaport"), r.toString());
  }

  @Test
  void aBadValueInTheConfFileExitsWith2NamingTheKey() throws IOException {
    Path f = dir.resolve("bad.json");
    Files.writeString(f, "{\"session\":{\"heartbeat\":\"soon\"}}");
    Cli.Result r = Cli.run("run", "--conf", f.toString());
    assertEquals(2, r.code(), r.toString());
    assertTrue(r.err().contains("session.heartbeat"), r.toString());
  }

  @Test
  void settingsOnlyStartUpCanJudgeExitWith2NamingTheKeyToo() throws IOException {
    Path missingXml = dir.resolve("cluster.json");
    Files.writeString(missingXml, "{\"cluster\":{\"config\":\"" + dir.resolve("nope.xml") + "\"}}");
    for (var c : List.of(
        Map.entry(new String[] {"run", "--standalone", "--redis-url", "notaurl"}, "redis.url"),
        Map.entry(new String[] {"run", "--standalone", "--redis-url", "http://x"}, "redis.url"),
        Map.entry(new String[] {"run", "--cluster-members", "127.0.0.1:abc"}, "cluster.members"),
        Map.entry(new String[] {"run", "--cluster-members", "127.0.0.1:99999"}, "cluster.members"),
        Map.entry(new String[] {"run", "--cluster-host", "192.0.2.77"}, "cluster.host"),
        Map.entry(new String[] {"run", "--conf", missingXml.toString()}, "cluster.config"))) {
      Cli.Result r = Cli.run(c.getKey());
      assertEquals(2, r.code(), String.join(" ", c.getKey()) + ": " + r);
      assertTrue(r.err().contains("switchboard: config error: " + c.getValue()), String.join(" ", c.getKey()) + ": " + r);
      assertTrue(!r.err().contains("\tat "), "no stack trace: " + r);
    }
  }

  @Test
  void badEnvVarsExitWith2NamingTheKey() throws Exception {
    Path bad = dir.resolve("bad.json");
    Files.writeString(bad, "{\"server\":{\"port\":0},\"limits\":{\"burst\":-1}}");
    for (var c : List.of(Map.entry(Map.of("SWITCHBOARD_CONF", bad.toString()), "limits.burst"),
        Map.entry(Map.of("SWITCHBOARD_PORT", "notaport"), "server.port"))) {
      Path err = dir.resolve("stderr.txt");
      Process p = runInChildJvm(c.getKey(), err);
      try {
        boolean exited = p.waitFor(30, TimeUnit.SECONDS);
        String printed = Files.readString(err);
        assertTrue(exited, "the child JVM did not exit; it printed: " + printed);
        assertEquals(2, p.exitValue(), printed);
        assertTrue(printed.contains(c.getValue()), c.getValue() + " missing from: " + printed);
      } finally {
        p.destroyForcibly();
      }
    }
  }

  /**
   * {@code java -cp <test classpath> dev.switchboard.Main run --standalone}: nothing clusters if it started
   * after all. No --port flag, since a flag would mask SWITCHBOARD_PORT.
   */
  private Process runInChildJvm(Map<String, String> env, Path stderr) throws IOException {
    String java = Paths.get(System.getProperty("java.home"), "bin", "java").toString();
    ProcessBuilder pb = new ProcessBuilder(java, "-Xmx128m", "-XX:TieredStopAtLevel=1", "-cp",
        System.getProperty("java.class.path"), "dev.switchboard.Main", "run", "--standalone");
    pb.environment().keySet().removeIf(k -> k.startsWith("SWITCHBOARD_"));
    pb.environment().putAll(env);
    pb.redirectOutput(stderr.resolveSibling("stdout.txt").toFile());
    pb.redirectError(stderr.toFile());
    return pb.start();
  }
}
