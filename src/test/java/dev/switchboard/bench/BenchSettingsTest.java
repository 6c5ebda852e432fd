package dev.switchboard.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.switchboard.config.SwitchboardConfig;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** How the bench sizes the server JVMs it starts. */
class BenchSettingsTest {

  private static BenchSettings settings(int nodeCpus) {
    return new BenchSettings("secret", "key", List.of("-Xmx2g", "-XX:+UseG1GC"), 0, 1, 0, 1, Path.of("."),
        false, false, false, "auto", SwitchboardConfig.Transport.AUTO, true, nodeCpus, 0);
  }

  @Test
  void serversSharingTheMachineGetTheirShareOfItsCores() {
    BenchSettings auto = settings(BenchSettings.AUTO_CPUS);
    assertEquals(1, auto.cpusPerServer(3, 2), "3 servers on 2 cores");
    assertEquals(2, auto.cpusPerServer(3, 8), "3 servers on 8 cores");
    assertEquals(0, auto.cpusPerServer(1, 2), "one server keeps the JVM's own count");
    assertEquals(List.of("-XX:ActiveProcessorCount=1", "-Xmx2g", "-XX:+UseG1GC"), auto.jvmOptionsFor("n1", 3, 2));
    assertEquals(List.of("-Xmx2g", "-XX:+UseG1GC"), auto.jvmOptionsFor("n1", 1, 2));
  }

  @Test
  void anExplicitCountAppliesToEveryGroupAndZeroToNone() {
    assertEquals(List.of("-XX:ActiveProcessorCount=2", "-Xmx2g", "-XX:+UseG1GC"), settings(2).jvmOptionsFor("n1", 1, 2));
    assertEquals(List.of("-Xmx2g", "-XX:+UseG1GC"), settings(0).jvmOptionsFor("n1", 3, 2));
  }
}
