package dev.switchboard.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import dev.switchboard.testing.WsClient;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.BooleanSupplier;

/**
 * Exactly-once by counting: every message of a run carries {@code {"run":…, "seq":n}}; a run ends with a
 * marker ({@code seq == -1}) sent the same way after the others, so once every subscriber has the marker,
 * everything published before it through the same path has had its chance to arrive (order holds per
 * publisher and channel) and duplicates or gaps show in the counts.
 */
public final class Tally {

  private Tally() {}

  public static JsonObject msg(String run, int seq) {
    return new JsonObject().put("run", run).put("seq", seq);
  }

  /** seq → times received, for the run's messages on the channel (marker excluded). */
  public static Map<Integer, Integer> counts(WsClient c, String channel, String run) {
    Map<Integer, Integer> counts = new TreeMap<>();
    for (JsonObject f : c.received()) {
      if ("message".equals(f.getString("type")) && channel.equals(f.getString("channel"))
          && f.getValue("message") instanceof JsonObject m && run.equals(m.getString("run"))) {
        int seq = m.getInteger("seq");
        if (seq >= 0) {
          counts.merge(seq, 1, Integer::sum);
        }
      }
    }
    return counts;
  }

  public static boolean hasMarker(WsClient c, String channel, String run) {
    for (JsonObject f : c.received()) {
      if ("message".equals(f.getString("type")) && channel.equals(f.getString("channel"))
          && f.getValue("message") instanceof JsonObject m && run.equals(m.getString("run"))
          && m.getInteger("seq") == -1) {
        return true;
      }
    }
    return false;
  }

  /** Waits for every subscriber's marker, then asserts each received seq 0..n-1 exactly once. */
  public static void assertExactlyOnce(List<WsClient> subscribers, String channel, String run, int n) {
    waitFor(() -> subscribers.stream().allMatch(c -> hasMarker(c, channel, run)), 15_000,
        () -> "marker of run " + run + " missing on " + channel);
    List<String> problems = new ArrayList<>();
    for (int i = 0; i < subscribers.size(); i++) {
      Map<Integer, Integer> counts = counts(subscribers.get(i), channel, run);
      int missing = 0;
      int dupes = 0;
      for (int seq = 0; seq < n; seq++) {
        int k = counts.getOrDefault(seq, 0);
        if (k == 0) {
          missing++;
        } else if (k > 1) {
          dupes += k - 1;
        }
      }
      if (missing > 0 || dupes > 0) {
        problems.add("subscriber " + i + ": " + missing + " missing, " + dupes + " duplicates");
      }
    }
    assertEquals(List.of(), problems, "every subscriber must receive each of " + n + " messages exactly once");
  }

  /** Polls an observable condition every 20 ms until it holds, failing after the deadline. */
  public static void waitFor(BooleanSupplier condition, long timeoutMs, java.util.function.Supplier<String> what) {
    long deadline = System.currentTimeMillis() + timeoutMs;
    while (!condition.getAsBoolean()) {
      if (System.currentTimeMillis() > deadline) {
        fail("not within " + timeoutMs + " ms: " + what.get());
      }
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        fail("interrupted");
      }
    }
  }
}
