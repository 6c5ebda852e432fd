package dev.switchboard.bench;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.HdrHistogram.Histogram;

/**
 * All runs of one scenario: medians per variant, the ratio of each variant to the bare baseline, the
 * issue's targets (met or missed, by how much), the table and the JSON.
 */
final class ScenarioReport {

  /**
   * A target from the performance issue, checked on the {@code switchboard} variant.
   *
   * @param kind "ratio_max" (≤ factor × bare), "ratio_min" (≥ factor × bare), "plus_max" (≤ bare + value),
   *     "abs_max" (≤ value)
   */
  record Target(String figure, String kind, double value, String text) {}

  final String name;
  final String description;
  final List<Variant> variants;
  final List<Target> targets = new ArrayList<>();
  final List<RunResult> runs = new ArrayList<>();
  /** Set when the invocation's load is not the one the targets are stated at: the actual load, for the report. */
  private String offTargetLoad;

  ScenarioReport(String name, String description, List<Variant> variants) {
    this.name = name;
    this.description = description;
    this.variants = variants;
  }

  ScenarioReport target(String figure, String kind, double value, String text) {
    targets.add(new Target(figure, kind, value, text));
    return this;
  }

  /**
   * The targets are stated at one load (subscribers × rate, node count); at another, comparing against them
   * would give a verdict on a figure nobody set a target for.
   */
  ScenarioReport offTargetLoad(String actualLoad) {
    this.offTargetLoad = actualLoad;
    return this;
  }

  /** Runs whose steady phase did not carry the load asked for (see {@link RunResult#shortOfLoad}). */
  long runsShortOfLoad() {
    return runs.stream().filter(r -> r.shortOfLoad).count();
  }

  boolean complete() {
    return runs.stream().allMatch(r -> r.complete);
  }

  List<RunResult> runsOf(String variant) {
    return runs.stream().filter(r -> r.variant.equals(variant)).toList();
  }

  /** The median of a figure over the runs of a variant (NaN when absent). */
  double median(String variant, String figure) {
    double[] v = runsOf(variant).stream().map(r -> r.figures.get(figure)).filter(x -> x != null && !x.isNaN())
        .mapToDouble(Double::doubleValue).sorted().toArray();
    if (v.length == 0) {
      return Double.NaN;
    }
    return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
  }

  private Variant baseline() {
    return variants.stream().filter(Variant::baseline).findFirst().orElse(null);
  }

  private Set<String> figureKeys() {
    Set<String> present = new LinkedHashSet<>();
    runs.forEach(r -> present.addAll(r.figures.keySet()));
    Set<String> ordered = new LinkedHashSet<>();
    Figures.ALL.keySet().stream().filter(present::contains).forEach(ordered::add);
    ordered.addAll(present);
    return ordered;
  }

  /** Latency of the steady phase, all runs of a variant merged (µs). */
  Histogram mergedLatency(String variant) {
    Histogram m = null;
    for (RunResult r : runsOf(variant)) {
      if (r.latency != null) {
        if (m == null) {
          m = r.latency.copy();
        } else {
          m.add(r.latency);
        }
      }
    }
    return m;
  }

  /** The memory curve of a variant, the median of each point over runs. */
  List<double[]> memoryCurve(String variant) {
    List<RunResult> rs = runsOf(variant).stream().filter(r -> !r.memoryCurve.isEmpty()).toList();
    List<double[]> out = new ArrayList<>();
    if (rs.isEmpty()) {
      return out;
    }
    int points = rs.stream().mapToInt(r -> r.memoryCurve.size()).min().orElse(0);
    for (int i = 0; i < points; i++) {
      int k = i;
      double[] n = rs.stream().mapToDouble(r -> r.memoryCurve.get(k)[0]).sorted().toArray();
      double[] heap = rs.stream().mapToDouble(r -> r.memoryCurve.get(k)[1]).sorted().toArray();
      double[] rss = rs.stream().mapToDouble(r -> r.memoryCurve.get(k)[2]).sorted().toArray();
      out.add(new double[] {n[n.length / 2], heap[heap.length / 2], rss[rss.length / 2]});
    }
    return out;
  }

  /** Each target: whether it is met, by how much, and the figures it compares. */
  List<JsonObject> targetResults() {
    List<JsonObject> out = new ArrayList<>();
    Variant base = baseline();
    for (Target t : targets) {
      double sb = median("switchboard", t.figure());
      double bare = base == null ? Double.NaN : median(base.label(), t.figure());
      double limit = switch (t.kind()) {
        case "ratio_max", "ratio_min" -> t.value() * bare;
        case "plus_max" -> bare + t.value();
        default -> t.value();
      };
      JsonObject o = new JsonObject().put("target", t.text()).put("figure", t.figure());
      if (offTargetLoad != null) {
        out.add(o.put("met", (Object) null).put("detail", "no verdict: this run is not at the target's load ("
            + offTargetLoad + ")"));
        continue;
      }
      if (Double.isNaN(sb) || Double.isNaN(limit)) {
        out.add(o.put("met", (Object) null).put("detail", "not measured"));
        continue;
      }
      boolean min = t.kind().equals("ratio_min");
      boolean met = min ? sb >= limit : sb <= limit;
      double by = limit == 0 ? 0 : (sb - limit) / Math.abs(limit) * 100;
      String detail = String.format(Locale.ROOT, "switchboard %s vs limit %s%s: %s", fmt(t.figure(), sb),
          fmt(t.figure(), limit), Double.isNaN(bare) ? "" : " (bare " + fmt(t.figure(), bare) + ")",
          met ? "MET" : String.format(Locale.ROOT, "MISSED by %.1f%%", Math.abs(by)));
      out.add(o.put("met", met).put("switchboard", sb).put("limit", limit).put("bare", Double.isNaN(bare) ? null : bare)
          .put("detail", detail));
    }
    return out;
  }

  static String fmt(String figure, double v) {
    if (Double.isNaN(v)) {
      return "-";
    }
    return String.format(Locale.ROOT, Figures.of(figure).format(), v);
  }

  String table(int runsWanted) {
    StringBuilder b = new StringBuilder();
    b.append("\n== ").append(name).append(" — ").append(description).append('\n');
    int done = variants.isEmpty() ? 0 : runsOf(variants.get(0).label()).size();
    b.append("   median of ").append(done).append(done == runsWanted ? "" : " (of " + runsWanted + " wanted)")
        .append(done == 1 ? " run" : " runs").append("; ratio = variant / bare\n");
    Variant base = baseline();
    List<String> cols = new ArrayList<>();
    variants.forEach(v -> cols.add(v.label()));
    List<String> ratioCols = new ArrayList<>();
    if (base != null) {
      variants.stream().filter(v -> !v.baseline()).forEach(v -> ratioCols.add(v.label()));
    }
    int labelWidth = 46;
    int w = Math.max(12, cols.stream().mapToInt(String::length).max().orElse(10) + 2);
    b.append(String.format(Locale.ROOT, "   %-" + labelWidth + "s", "figure"));
    cols.forEach(c -> b.append(String.format(Locale.ROOT, "%" + w + "s", c)));
    ratioCols.forEach(c -> b.append(String.format(Locale.ROOT, "%" + Math.max(9, c.length() + 8) + "s",
        ratioCols.size() == 1 ? "ratio" : "ratio " + c)));
    b.append('\n');
    for (String key : figureKeys()) {
      Figures.Def d = Figures.of(key);
      b.append(String.format(Locale.ROOT, "   %-" + labelWidth + "s", d.label()));
      for (String c : cols) {
        b.append(String.format(Locale.ROOT, "%" + w + "s", fmt(key, median(c, key))));
      }
      for (String c : ratioCols) {
        double r = median(c, key) / median(base.label(), key);
        String rs = Double.isNaN(r) || Double.isInfinite(r) || d.lowerIsBetter() == null ? "" : String.format(Locale.ROOT, "%.2f", r);
        b.append(String.format(Locale.ROOT, "%" + Math.max(9, c.length() + 8) + "s", rs));
      }
      b.append('\n');
    }
    for (JsonObject t : targetResults()) {
      b.append("   target: ").append(t.getString("target")).append(" → ").append(t.getString("detail")).append('\n');
    }
    Set<String> notes = new LinkedHashSet<>();
    for (RunResult r : runs) {
      r.notes.forEach(n -> notes.add(r.variant + " run " + r.run + ": " + n));
    }
    notes.forEach(n -> b.append("   note: ").append(n).append('\n'));
    for (Variant v : variants) {
      Map<String, Double> classes = runsOf(v.label()).stream().filter(r -> !r.heapByClass.isEmpty())
          .map(r -> r.heapByClass).findFirst().orElse(Map.of());
      if (!classes.isEmpty()) {
        b.append("   ").append(v.label()).append(": live heap per connection by class (bytes): ");
        List<String> parts = new ArrayList<>();
        classes.entrySet().stream().limit(8)
            .forEach(e -> parts.add(String.format(Locale.ROOT, "%s %.0f", e.getKey(), e.getValue())));
        b.append(String.join(", ", parts)).append('\n');
      }
    }
    return b.toString();
  }

  JsonObject json() {
    JsonObject o = new JsonObject().put("name", name).put("description", description).put("complete", complete())
        .put("steady_load_reached", runsShortOfLoad() == 0);
    if (offTargetLoad != null) {
      o.put("not_at_target_load", offTargetLoad);
    }
    JsonArray vs = new JsonArray();
    variants.forEach(v -> vs.add(new JsonObject().put("label", v.label()).put("target", v.spec().target().label())
        .put("nodes", v.spec().count()).put("clustered", v.spec().clustered() || v.spec().count() > 1)
        .put("server_compression", v.spec().compression()).put("client_compression", v.clientCompression().name().toLowerCase(Locale.ROOT))));
    o.put("variants", vs);
    JsonObject med = new JsonObject();
    JsonObject ratio = new JsonObject();
    Variant base = baseline();
    for (Variant v : variants) {
      JsonObject m = new JsonObject();
      JsonObject r = new JsonObject();
      for (String k : figureKeys()) {
        double x = median(v.label(), k);
        if (!Double.isNaN(x)) {
          m.put(k, x);
          if (base != null && !v.baseline()) {
            double q = x / median(base.label(), k);
            if (!Double.isNaN(q) && !Double.isInfinite(q)) {
              r.put(k, q);
            }
          }
        }
      }
      med.put(v.label(), m);
      if (base != null && !v.baseline()) {
        ratio.put(v.label(), r);
      }
      Histogram h = mergedLatency(v.label());
      if (h != null) {
        JsonObject pct = new JsonObject();
        for (double p : new double[] {50, 90, 99, 99.9, 99.99, 100}) {
          pct.put(String.valueOf(p), h.getValueAtPercentile(p) / 1000.0);
        }
        m.put("latency_ms_by_percentile_all_runs", pct);
      }
      List<double[]> curve = memoryCurve(v.label());
      if (!curve.isEmpty()) {
        JsonArray c = new JsonArray();
        curve.forEach(pt -> c.add(new JsonObject().put("connections", pt[0]).put("heap_bytes_per_conn", nan(pt[1]))
            .put("rss_bytes_per_conn", nan(pt[2]))));
        m.put("memory_curve", c);
      }
      runsOf(v.label()).stream().filter(x -> !x.heapByClass.isEmpty()).findFirst()
          .ifPresent(x -> m.put("heap_bytes_per_conn_by_class", new JsonObject(new LinkedHashMap<>(x.heapByClass))));
    }
    o.put("median", med).put("ratio_to_bare", ratio);
    JsonArray ts = new JsonArray();
    targetResults().forEach(ts::add);
    o.put("targets", ts);
    JsonArray rs = new JsonArray();
    for (RunResult r : runs) {
      JsonObject f = new JsonObject();
      r.figures.forEach((k, v) -> f.put(k, nan(v)));
      rs.add(new JsonObject().put("variant", r.variant).put("run", r.run).put("complete", r.complete)
          .put("steady_load_reached", !r.shortOfLoad).put("figures", f).put("notes", new JsonArray(r.notes)));
    }
    o.put("runs", rs);
    return o;
  }

  private static Double nan(double v) {
    return Double.isNaN(v) || Double.isInfinite(v) ? null : v;
  }

}
