package dev.switchboard.config;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Reads typed values from the merged config tree. Values may come from JSON (typed) or from env vars and
 * flags (strings), so every getter accepts both; a value of the wrong shape fails with the dotted key.
 */
final class ConfigReader {

  private final JsonObject root;
  /** The env var that set a key, where messages about the key's elements name it; see {@link #origin}. */
  private final Map<String, String> origins;
  /** Every key looked up, so keys nobody reads (typos, keys of another version) can be named. */
  private final Set<String> read = new HashSet<>();

  ConfigReader(JsonObject root) {
    this(root, Map.of());
  }

  ConfigReader(JsonObject root, Map<String, String> origins) {
    this.root = root;
    this.origins = Map.copyOf(origins);
  }

  /**
   * The name a message about the value of {@code key} gives it: the env var that set it when it holds JSON
   * ({@code SWITCHBOARD_AUTH_ISSUERS}), else the key itself.
   */
  String origin(String key) {
    return origins.getOrDefault(key, key);
  }

  Object raw(String key) {
    read.add(key);
    String[] parts = key.split("\\.");
    Object cur = root;
    for (String p : parts) {
      if (!(cur instanceof JsonObject o)) {
        return null;
      }
      cur = o.getValue(p);
    }
    return cur;
  }

  String string(String key, String dflt) {
    Object v = raw(key);
    if (v == null) {
      return dflt;
    }
    if (v instanceof String s) {
      return s.isEmpty() ? dflt : s;
    }
    if (v instanceof Number || v instanceof Boolean) {
      return v.toString();
    }
    throw new ConfigException(key, "must be a string");
  }

  long number(String key, long dflt, long min, long max) {
    Object v = raw(key);
    long n;
    if (v == null) {
      return dflt;
    } else if (v instanceof Number num) {
      if (num.doubleValue() != Math.rint(num.doubleValue())) {
        throw new ConfigException(key, "must be a whole number, was " + num);
      }
      n = num.longValue();
    } else if (v instanceof String s) {
      try {
        n = Long.parseLong(s.trim());
      } catch (NumberFormatException e) {
        throw new ConfigException(key, "must be a whole number, was '" + s + "'");
      }
    } else {
      throw new ConfigException(key, "must be a number");
    }
    if (n < min || n > max) {
      throw new ConfigException(key, "must be between " + min + " and " + max + ", was " + n);
    }
    return n;
  }

  int integer(String key, int dflt, int min, int max) {
    return (int) number(key, dflt, min, max);
  }

  double decimal(String key, double dflt, double min, double max) {
    Object v = raw(key);
    double d;
    if (v == null) {
      return dflt;
    } else if (v instanceof Number num) {
      d = num.doubleValue();
    } else if (v instanceof String s) {
      try {
        d = Double.parseDouble(s.trim());
      } catch (NumberFormatException e) {
        throw new ConfigException(key, "must be a number, was '" + s + "'");
      }
    } else {
      throw new ConfigException(key, "must be a number");
    }
    // Written so that NaN fails too: Double.parseDouble takes "NaN", which is neither below min nor above max.
    if (!(d >= min && d <= max)) {
      throw new ConfigException(key, "must be between " + min + " and " + max + ", was " + d);
    }
    return d;
  }

  boolean bool(String key, boolean dflt) {
    Object v = raw(key);
    if (v == null) {
      return dflt;
    }
    if (v instanceof Boolean b) {
      return b;
    }
    if (v instanceof String s) {
      switch (s.trim().toLowerCase(Locale.ROOT)) {
        case "true", "yes", "1", "on":
          return true;
        case "false", "no", "0", "off":
          return false;
        default:
          break;
      }
    }
    throw new ConfigException(key, "must be true or false, was '" + v + "'");
  }

  /** One of an enum's constants, written in lower case ({@code io_uring}, {@code epoll}). */
  <E extends Enum<E>> E choice(String key, E dflt, Class<E> type) {
    String s = string(key, null);
    return s == null ? dflt : oneOf(type, key, s.trim());
  }

  /** The enum constant a config value names, in any case; the error lists the allowed values. */
  static <E extends Enum<E>> E oneOf(Class<E> type, String key, String value) {
    try {
      return Enum.valueOf(type, value.toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      StringBuilder allowed = new StringBuilder();
      for (E c : type.getEnumConstants()) {
        allowed.append(allowed.length() == 0 ? "" : ", ").append(c.name().toLowerCase(Locale.ROOT));
      }
      throw new ConfigException(key, "must be one of " + allowed + ", was '" + value + "'");
    }
  }

  Duration duration(String key, Duration dflt) {
    Object v = raw(key);
    if (v == null) {
      return dflt;
    }
    Duration d;
    if (v instanceof Number n) {
      d = Duration.ofMillis(Math.round(n.doubleValue() * 1000));
    } else if (v instanceof String s) {
      d = parseDuration(s);
      if (d == null) {
        throw new ConfigException(key, "must be a duration like 500ms, 10s, 5m or 1h, was '" + s + "'");
      }
    } else {
      throw new ConfigException(key, "must be a duration like 10s");
    }
    if (d.isNegative()) {
      throw new ConfigException(key, "must not be negative, was '" + v + "'");
    }
    return d;
  }

  /** Parses 500ms, 10s, 5m, 1h, 2d or a bare number of seconds; null if it is not one. */
  static Duration parseDuration(String s) {
    String t = s.trim().toLowerCase(Locale.ROOT);
    try {
      if (t.endsWith("ms")) {
        return Duration.ofMillis(Long.parseLong(t.substring(0, t.length() - 2).trim()));
      }
      long mult;
      char unit = t.isEmpty() ? ' ' : t.charAt(t.length() - 1);
      switch (unit) {
        case 's' -> mult = 1;
        case 'm' -> mult = 60;
        case 'h' -> mult = 3600;
        case 'd' -> mult = 86400;
        default -> {
          return Duration.ofMillis(Math.round(Double.parseDouble(t) * 1000));
        }
      }
      double n = Double.parseDouble(t.substring(0, t.length() - 1).trim());
      if (n < 0) {
        return null;
      }
      return Duration.ofMillis(Math.round(n * mult * 1000));
    } catch (NumberFormatException e) {
      return null;
    }
  }

  List<String> strings(String key, List<String> dflt) {
    Object v = raw(key);
    if (v == null) {
      return dflt;
    }
    List<String> out = new ArrayList<>();
    if (v instanceof String s) {
      for (String part : s.split(",")) {
        if (!part.isBlank()) {
          out.add(part.trim());
        }
      }
      return List.copyOf(out);
    }
    if (v instanceof JsonArray arr) {
      for (Object o : arr) {
        if (!(o instanceof String s)) {
          throw new ConfigException(key, "must be a list of strings");
        }
        out.add(s);
      }
      return List.copyOf(out);
    }
    throw new ConfigException(key, "must be a list of strings or a comma-separated string");
  }

  JsonObject object(String key) {
    Object v = raw(key);
    if (v == null) {
      return new JsonObject();
    }
    if (v instanceof JsonObject o) {
      return o;
    }
    throw new ConfigException(key, "must be an object");
  }

  /**
   * Keys present in the tree that no getter read, each with the read key it most likely meant (or null).
   * Call after every value has been read.
   */
  List<Unread> unread() {
    List<Unread> out = new ArrayList<>();
    collectUnread(root, "", out);
    return out;
  }

  record Unread(String key, String didYouMean) {
    /** " (did you mean …?)" when a read key is a plausible typo of this one, else empty. */
    String hint() {
      return didYouMean == null ? "" : " (did you mean " + didYouMean + "?)";
    }
  }

  private void collectUnread(JsonObject node, String prefix, List<Unread> out) {
    for (String name : node.fieldNames()) {
      String key = prefix + name;
      boolean parentOfRead = read.stream().anyMatch(k -> k.startsWith(key + "."));
      if (parentOfRead && node.getValue(name) instanceof JsonObject child) {
        collectUnread(child, key + ".", out);
      } else if (!parentOfRead && !read.contains(key)) {
        out.add(new Unread(key, nearest(key)));
      }
    }
  }

  /** The read key with the same parent closest in spelling, if it is a plausible typo of it. */
  private String nearest(String key) {
    int dot = key.lastIndexOf('.');
    String parent = key.substring(0, dot + 1);
    String leaf = key.substring(dot + 1);
    String best = null;
    int bestDistance = Math.max(2, leaf.length() / 3) + 1;
    for (String k : read) {
      if (k.startsWith(parent) && k.indexOf('.', parent.length()) < 0) {
        int d = editDistance(leaf, k.substring(parent.length()));
        if (d < bestDistance) {
          best = k;
          bestDistance = d;
        }
      }
    }
    return best;
  }

  private static int editDistance(String a, String b) {
    int[] prev = new int[b.length() + 1];
    int[] cur = new int[b.length() + 1];
    for (int j = 0; j <= b.length(); j++) {
      prev[j] = j;
    }
    for (int i = 1; i <= a.length(); i++) {
      cur[0] = i;
      for (int j = 1; j <= b.length(); j++) {
        int sub = prev[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
        cur[j] = Math.min(sub, Math.min(prev[j], cur[j - 1]) + 1);
      }
      int[] t = prev;
      prev = cur;
      cur = t;
    }
    return prev[b.length()];
  }
}
