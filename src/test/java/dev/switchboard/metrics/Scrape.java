package dev.switchboard.metrics;

import dev.switchboard.cluster.Http;
import io.vertx.core.Vertx;
import java.util.LinkedHashMap;
import java.util.Map;

/** One parsed {@code GET /metrics}: series ({@code name{labels}} exactly as exposed) → value. */
record Scrape(String text, Map<String, Double> series) {

  static Scrape of(Vertx vertx, int port) {
    Http.Answer a = Http.get(vertx, port, "/metrics");
    if (a.status() != 200) {
      throw new AssertionError("/metrics answered " + a.status() + ": " + a.body());
    }
    return parse(a.body());
  }

  static Scrape parse(String text) {
    Map<String, Double> out = new LinkedHashMap<>();
    for (String line : text.split("\n")) {
      if (line.isBlank() || line.startsWith("#")) {
        continue;
      }
      int sp = line.lastIndexOf(' ');
      out.put(line.substring(0, sp), Double.parseDouble(line.substring(sp + 1)));
    }
    return new Scrape(text, out);
  }

  /** The value of a series; fails when the series is not exposed at all. */
  double value(String series) {
    Double v = this.series.get(series);
    if (v == null) {
      throw new AssertionError("series " + series + " is not in the scrape");
    }
    return v;
  }

  /** This scrape's value minus the earlier one's. */
  double delta(Scrape before, String series) {
    return value(series) - before.value(series);
  }

  long count(String prefix) {
    return series.keySet().stream().filter(k -> k.startsWith(prefix)).count();
  }
}
