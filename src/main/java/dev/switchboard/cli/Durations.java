package dev.switchboard.cli;

import dev.switchboard.config.ConfigLoader;
import java.time.Duration;

/** Command-line durations, read exactly like durations in the config file: 500ms, 30s, 1.5h, 7d, or seconds. */
public final class Durations {

  private Durations() {}

  /** @return null when the text is not a duration, or is negative */
  public static Duration parse(String s) {
    Duration d = s == null ? null : ConfigLoader.parseDuration(s);
    return d == null || d.isNegative() ? null : d;
  }
}
