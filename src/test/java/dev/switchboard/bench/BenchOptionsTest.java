package dev.switchboard.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import picocli.CommandLine;
import picocli.CommandLine.ParameterException;

/** Every option is judged before anything starts; none of these tests starts a server. */
class BenchOptionsTest {

  /** A refused run still moved logging to stderr (the bench does so first); the tests after this class need stdout. */
  @AfterAll
  static void loggingBackOnStdout() {
    BenchLogging.consoleTo("System.out");
  }

  private static final long NO_LIMIT = -1;

  @TempDir
  Path tmp;

  private static BenchCommand parsed(String... args) {
    BenchCommand b = new BenchCommand();
    new CommandLine(b).parseArgs(args);
    return b;
  }

  private static String refused(long fdLimit, String... args) {
    BenchCommand b = parsed(args);
    return assertThrows(ParameterException.class, () -> b.validate(fdLimit)).getMessage();
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "--cluster-nodes 0|--cluster-nodes",
      "--cluster-nodes 9|--cluster-nodes",
      "-s cluster --cluster-modes fanuot|--cluster-modes",
      "-s connect,fanout --bare-variants foo|--bare-variants",
      "--json-file /nonexistent/dir/out.json|--json-file",
      "--work-dir /etc/hostname|--work-dir",
      "--plots /etc/hostname|--plots",
      "--size -50|--size",
      "--size 0|--size",
      "--duration 0|--duration",
      "--duration 0s|--duration",
      "--warmup -1s|--warmup",
      "--steps 0|--steps",
      "--window -1|--window",
      "--cluster-rate 0|--cluster-rate",
      "--cluster-direct-rate -5|--cluster-direct-rate",
      "--deflate-connections 0|--deflate-connections",
      "--source-ips 300|--source-ips",
      "--concurrency 0|--concurrency",
      "--client-loops 0|--client-loops",
      "--node-cpus -2|--node-cpus",
      "-s fanuot|--scenario",
      "--target all|--target",
      "--port-base 80|--port-base",
      "--port-base 65530|--port-base",
      "--publisher eventbus|--publisher",
  })
  void aBadOptionIsRefusedBeforeAnythingRunsNamingTheOption(String args, String option) {
    String message = refused(NO_LIMIT, args.split(" "));
    assertTrue(message.startsWith(option + ":") || message.contains(option), message);
  }

  @Test
  void theDefaultsPass() {
    assertNull(parsed().validate(NO_LIMIT));
    assertNull(parsed("-s", "all").validate(NO_LIMIT));
  }

  @Test
  void everyPublisherIsAccepted() {
    for (String publisher : new String[] {"ws", "http", "bus"}) {
      assertNull(parsed("-s", "fanout,cluster", "--publisher", publisher).validate(NO_LIMIT), publisher);
    }
    assertTrue(refused(NO_LIMIT, "--publisher", "eventbus").contains("ws, http or bus"));
  }

  @Test
  void writableOutputPathsPass() {
    BenchCommand b = parsed("--json-file", tmp.resolve("out.json").toString(), "--plots", tmp.resolve("a/b").toString(),
        "--work-dir", tmp.resolve("w").toString());
    assertNull(b.validate(NO_LIMIT));
  }

  @Test
  void aRefusalPrintsOneReasonAndAHintNotTheWholeUsage() {
    StringWriter err = new StringWriter();
    CommandLine cl = new CommandLine(new BenchCommand());
    cl.setErr(new PrintWriter(err));
    int code = cl.execute("--cluster-nodes", "0");
    assertEquals(2, code);
    String[] lines = err.toString().trim().split("\n");
    assertEquals(2, lines.length, err.toString());
    assertTrue(lines[0].startsWith("bench: --cluster-nodes: 1 to 8, not 0"), lines[0]);
    assertTrue(lines[1].contains("switchboard bench --help"), lines[1]);
  }

  @Test
  void connectIsCappedToWhatTheLimitLeavesWhenEnoughRemain() {
    BenchCommand b = parsed("-s", "connect", "-n", "19600");
    String line = b.validate(20_000);
    assertEquals(19_500, b.connections);
    assertTrue(line.contains("using 19,500"), line);
    BenchCommand fits = parsed("-s", "connect", "-n", "19400");
    assertNull(fits.validate(20_000));
    assertEquals(19_400, fits.connections);
  }

  @ParameterizedTest
  @CsvSource({"1024", "1000", "900", "400"})
  void connectIsRefusedWhenTheCapWouldLeaveTooFewToMeasure(long limit) {
    String message = refused(limit, "-s", "connect");
    assertTrue(message.contains("ulimit -n"), message);
    assertTrue(message.startsWith("--connections 15,000"), message);
  }

  @Test
  void aSmallConnectRunFitsUnderASmallLimit() {
    BenchCommand b = parsed("-s", "connect", "-n", "200");
    assertNull(b.validate(1024));
    assertEquals(200, b.connections);
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "-s fanout|--subscribers 1,000",
      "-s direct|--sessions 1,000",
      "-s cluster|--subscribers 1,000",
      "-s cluster --cluster-modes direct --sessions 1200|--sessions 1,200",
      "-s deflate|--deflate-connections 2,000",
  })
  void deliveryScenariosThatCannotFitAreRefusedNotCut(String args, String start) {
    String message = refused(1024, args.split(" "));
    assertTrue(message.startsWith(start), message);
    assertTrue(message.contains("ulimit -n 1024"), message);
  }

  @Test
  void theSameRuleForEveryScenario() {
    // 1,000 subscribers + the publisher + the reserve
    assertNull(parsed("-s", "fanout").validate(1_501));
    assertFalse(refused(1_500, "-s", "fanout").isEmpty());
    assertTrue(Files.isDirectory(tmp));
  }
}
