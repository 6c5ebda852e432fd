package dev.switchboard.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.HdrHistogram.Histogram;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The arithmetic behind the bench's report: medians, ratios, targets, frames and plots. */
class ScenarioReportTest {

  @TempDir
  Path tmp;

  private static ScenarioReport report() {
    return new ScenarioReport("fanout", "test", List.of(
        new Variant("switchboard", new NodeGroup.Spec(Target.SWITCHBOARD, 1, false, "on"), LoadClient.Compression.OFF),
        new Variant("bare", new NodeGroup.Spec(Target.BARE, 1, false, "default"), LoadClient.Compression.OFF)));
  }

  private static RunResult run(String variant, int run, double cpu, double p99) {
    RunResult r = new RunResult(variant, run);
    r.put("node_cpu_s_per_m", cpu);
    r.put("p99_ms", p99);
    return r;
  }

  @Test
  void medianOfThreeRunsAndRatioToBare() {
    ScenarioReport r = report();
    r.runs.add(run("switchboard", 1, 9, 3));
    r.runs.add(run("bare", 1, 12, 2));
    r.runs.add(run("switchboard", 2, 30, 4));
    r.runs.add(run("bare", 2, 13, 5));
    r.runs.add(run("switchboard", 3, 8, 5));
    r.runs.add(run("bare", 3, 11, 4));
    assertEquals(9, r.median("switchboard", "node_cpu_s_per_m"), "an outlier run does not move the median");
    assertEquals(12, r.median("bare", "node_cpu_s_per_m"));
    JsonObject json = r.json();
    assertEquals(0.75, json.getJsonObject("ratio_to_bare").getJsonObject("switchboard").getDouble("node_cpu_s_per_m"), 1e-9);
    assertTrue(r.complete());
  }

  @Test
  void targetsSayMetOrMissedAndByHowMuch() {
    ScenarioReport r = report()
        .target("node_cpu_s_per_m", "ratio_max", 0.75, "cpu")
        .target("p99_ms", "ratio_max", 1.0, "p99")
        .target("p99_ms", "abs_max", 10, "p99 abs");
    r.runs.add(run("switchboard", 1, 10, 3));
    r.runs.add(run("bare", 1, 12, 4));
    List<JsonObject> t = r.targetResults();
    assertFalse(t.get(0).getBoolean("met"), "10 > 0.75 × 12 = 9");
    assertTrue(t.get(0).getString("detail").contains("MISSED by 11.1%"), t.get(0).getString("detail"));
    assertTrue(t.get(1).getBoolean("met"));
    assertTrue(t.get(2).getBoolean("met"));
  }

  @Test
  void aFigureThatWasNotMeasuredGetsNoVerdict() {
    ScenarioReport r = report().target("p99_ms", "abs_max", 10, "p99 abs");
    RunResult empty = new RunResult("switchboard", 1);
    empty.put("deliveries_per_s", 0);
    r.runs.add(empty);
    JsonObject t = r.targetResults().get(0);
    assertNull(t.getValue("met"));
    assertEquals("not measured", t.getString("detail"));
    assertFalse(r.table(1).contains("MET"), r.table(1));
  }

  @Test
  void aRunAtAnotherLoadThanTheTargetsGetsNoVerdictAndShowsItsLoad() {
    ScenarioReport r = report().target("p99_ms", "abs_max", 10, "p99 ≤ 10 ms at 1,000 subscribers × 20 msg/s")
        .offTargetLoad("30 subscribers × 10 msg/s on 3 nodes; the target is at 1,000 × 20 on 3");
    r.runs.add(run("switchboard", 1, 10, 30));
    r.runs.add(run("bare", 1, 12, 4));
    JsonObject t = r.targetResults().get(0);
    assertNull(t.getValue("met"));
    String table = r.table(1);
    assertFalse(table.contains("MISSED") || table.contains("MET"), table);
    assertTrue(table.contains("not at the target's load (30 subscribers × 10 msg/s on 3 nodes"), table);
    assertTrue(r.json().containsKey("not_at_target_load"));
  }

  @Test
  void anOverloadedSteadyPhaseIsSaidToFallShort() {
    // the audit's run: 5 subscribers, 200,000 msg/s asked, 104,900 offered, 112,825 deliveries/s
    List<String> notes = DeliveryScenario.shortfall(200_000, 104_900, 112_825, 5);
    assertEquals(2, notes.size(), notes.toString());
    assertTrue(notes.get(0).contains("offered 104,900 msg/s of the 200,000 asked"), notes.get(0));
    assertTrue(notes.get(1).contains("of the 524,500/s"), notes.get(1));
    assertEquals(List.of(), DeliveryScenario.shortfall(20, 19.9, 19_700, 1_000), "a drain's tail is not a shortfall");
    assertEquals(List.of(), DeliveryScenario.shortfall(1_000, 998, 990, 1), "direct: one receiver per send");
    ScenarioReport r = report();
    RunResult over = run("switchboard", 1, 1, 1);
    notes.forEach(over::shortOfLoad);
    r.runs.add(over);
    assertTrue(r.complete(), "every message still arrived");
    assertEquals(1, r.runsShortOfLoad());
    assertFalse(r.json().getBoolean("steady_load_reached"));
    assertTrue(r.table(1).contains("not the steady load asked for"));
  }

  @Test
  void anIncompleteRunMakesTheScenarioIncomplete() {
    ScenarioReport r = report();
    RunResult bad = run("switchboard", 1, 1, 1);
    bad.incomplete("3 deliveries missing");
    r.runs.add(bad);
    assertFalse(r.complete());
    assertTrue(r.table(1).contains("3 deliveries missing"));
  }

  @Test
  void rawFramesCarryTheRightLengthHeader() {
    ByteBuf small = BareServer.Instance.rawTextFrame(new byte[125]);
    assertEquals(0x81, small.getUnsignedByte(0));
    assertEquals(125, small.getUnsignedByte(1));
    assertEquals(127, small.readableBytes());
    ByteBuf medium = BareServer.Instance.rawTextFrame(new byte[126]);
    assertEquals(126, medium.getUnsignedByte(1));
    assertEquals(126, medium.getUnsignedShort(2));
    ByteBuf large = BareServer.Instance.rawTextFrame(new byte[70_000]);
    assertEquals(127, large.getUnsignedByte(1));
    assertEquals(70_000, large.getLong(2));
  }

  @Test
  void plotsArePngs() throws Exception {
    Histogram a = new Histogram(3);
    Histogram b = new Histogram(3);
    for (int i = 1; i <= 10_000; i++) {
      a.recordValue(i);
      b.recordValue(i * 2L);
    }
    Path lat = tmp.resolve("lat.png");
    Plotter.latency(lat, "latency", List.of("a", "b"), List.of(a, b));
    Path mem = tmp.resolve("mem.png");
    Plotter.lines(mem, "memory", "connections", "KiB", List.of(
        new Plotter.Series("heap", new double[] {1000, 2000}, new double[] {15, 14}, 0, false),
        new Plotter.Series("rss", new double[] {1000, 2000}, new double[] {40, Double.NaN}, 0, true)));
    assertEquals(900, ImageIO.read(lat.toFile()).getWidth());
    assertTrue(Files.size(mem) > 1000);
  }

  @Test
  void niceTicksCoverTheMaximum() {
    double[] t = Plotter.niceTicks(17.3);
    assertEquals(0, t[0]);
    assertTrue(t[t.length - 1] >= 17.3);
    assertTrue(t.length <= 9);
  }
}
