package dev.switchboard.cli;

import java.time.Duration;
import java.util.Locale;

/** Parses 500ms, 30s, 15m, 1h, 7d, or a bare number of seconds. */
public final class Durations {

  private Durations() {}

  /** @return null when the text is not a duration */
  public static Duration parse(String s) {
    String t = s.trim().toLowerCase(Locale.ROOT);
    try {
      if (t.endsWith("ms")) {
        return Duration.ofMillis(Long.parseLong(t.substring(0, t.length() - 2)));
      }
      char unit = t.isEmpty() ? ' ' : t.charAt(t.length() - 1);
      long mult = switch (unit) {
        case 's' -> 1;
        case 'm' -> 60;
        case 'h' -> 3600;
        case 'd' -> 86400;
        default -> 0;
      };
      if (mult == 0) {
        return Duration.ofSeconds(Long.parseLong(t));
      }
      return Duration.ofSeconds(Long.parseLong(t.substring(0, t.length() - 1)) * mult);
    } catch (NumberFormatException e) {
      return null;
    }
  }
}
