package dev.switchboard.bench;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.HdrHistogram.Histogram;

/** The figures of one run of one variant. Figure keys are listed in {@link Figures}. */
final class RunResult {

  final String variant;
  final int run;
  final Map<String, Double> figures = new LinkedHashMap<>();
  final List<String> notes = new ArrayList<>();
  /** Publish→receive latency of the steady-rate phase (µs), for plots. */
  Histogram latency;
  /** {connections, heap bytes per connection, RSS bytes per connection} as N grows. */
  final List<double[]> memoryCurve = new ArrayList<>();
  /** Live heap bytes per connection by class, largest first (connect scenario). */
  final Map<String, Double> heapByClass = new LinkedHashMap<>();
  boolean complete = true;
  /**
   * The steady phase offered less than the rate asked, or delivered well under receivers × offered: the
   * server (or the load generator) fell behind, so its latency and CPU figures are of an overload, not of
   * the steady load the run was meant to measure. Every message may still have arrived, so it is not
   * {@link #complete} that it clears.
   */
  boolean shortOfLoad;

  RunResult(String variant, int run) {
    this.variant = variant;
    this.run = run;
  }

  void put(String key, double value) {
    figures.put(key, value);
  }

  void shortOfLoad(String why) {
    shortOfLoad = true;
    notes.add(why);
  }

  void incomplete(String why) {
    complete = false;
    notes.add(why);
  }
}
