package dev.switchboard.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.config.SwitchboardConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --node-nice} runs the servers below the load generator, and the PID the bench measures is still the
 * server's JVM: {@code nice} must exec java, not wait for it as a parent.
 */
class NodeGroupNiceTest {

  private static final int NICER = 10;

  @TempDir
  Path dir;

  private BenchSettings settings(int nodeNice) {
    return new BenchSettings("secret", "key", List.of("-Xmx128m"), 1, 1, 0, 1, dir, false, false, false, "auto",
        SwitchboardConfig.Transport.AUTO, true, BenchSettings.AUTO_CPUS, nodeNice, 0, 0);
  }

  @Test
  void serversToldToBeNicerRunThatFarBelowTheBench() throws Exception {
    try (NodeGroup g = NodeGroup.start(new NodeGroup.Spec(Target.BARE, 2, false, "default"), settings(NICER), dir)) {
      assertEquals(2, g.nodes().size());
      for (NodeProcess n : g.nodes()) {
        // nice(1) adds to the caller's niceness: the servers run that far below the bench, whatever it runs at
        assertEquals(Math.min(19, nice(ProcessHandle.current().pid()) + NICER), nice(n.pid()),
            n.label());
        assertEquals("java", Files.readString(Path.of("/proc", Long.toString(n.pid()), "comm")).trim(), n.label());
        assertTrue(n.cpuNanos() > 0, n.label() + " CPU is read from the JVM's own PID");
      }
    }
  }

  @Test
  void byDefaultTheServersRunAtTheLoadGeneratorsPriority() throws Exception {
    try (NodeGroup g = NodeGroup.start(new NodeGroup.Spec(Target.BARE, 2, false, "default"), settings(0), dir)) {
      for (NodeProcess n : g.nodes()) {
        assertEquals(nice(ProcessHandle.current().pid()), nice(n.pid()), n.label());
      }
    }
  }

  /** Field 19 of /proc/PID/stat. */
  private static int nice(long pid) throws Exception {
    return Integer.parseInt(NodeProcess.statFields(Files.readString(Path.of("/proc", Long.toString(pid), "stat")))[16]);
  }
}
