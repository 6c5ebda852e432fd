package dev.switchboard.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.switchboard.config.SwitchboardConfig;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** How the bench sizes the server JVMs it starts. */
class BenchSettingsTest {

  private static BenchSettings settings(int nodeCpus) {
    return settings(nodeCpus, BenchSettings.AUTO_LOOPS, 0);
  }

  private static BenchSettings settings(int nodeCpus, int clientLoops, int nodeNice) {
    return new BenchSettings("secret", "key", List.of("-Xmx2g", "-XX:+UseG1GC"), 0, clientLoops, 0, 1, Path.of("."),
        false, false, false, "auto", SwitchboardConfig.Transport.AUTO, true, nodeCpus, nodeNice, 0, 0);
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

  @Test
  void theLoadGeneratorReadsAClusterWithOneLoopPerCoreAndASingleServerWithOne() {
    BenchSettings auto = settings(BenchSettings.AUTO_CPUS);
    assertEquals(2, auto.clientLoopsFor(3, 2), "3 servers on 2 cores");
    assertEquals(8, auto.clientLoopsFor(3, 8), "3 servers on 8 cores");
    assertEquals(1, auto.clientLoopsFor(1, 2), "one server");
    assertEquals(3, settings(BenchSettings.AUTO_CPUS, 3, 0).clientLoopsFor(1, 2), "--client-loops 3 applies to every group");
  }

  @Test
  void serversRunAsTheBenchRunsUnlessToldToBeNicer() {
    assertEquals(List.of(), settings(BenchSettings.AUTO_CPUS).launcher());
    assertEquals(List.of("nice", "-n", "10"), settings(BenchSettings.AUTO_CPUS, BenchSettings.AUTO_LOOPS, 10).launcher());
  }
}
