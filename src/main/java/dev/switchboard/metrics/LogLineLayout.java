package dev.switchboard.metrics;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.IThrowableProxy;
import ch.qos.logback.classic.spi.StackTraceElementProxy;
import ch.qos.logback.core.CoreConstants;
import ch.qos.logback.core.LayoutBase;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import org.slf4j.event.KeyValuePair;

/**
 * One line per log event, whatever the event: {@code key=value} (the default) or a JSON object
 * ({@code <format>json</format>}, selected by {@code SWITCHBOARD_LOG_FORMAT=json} in logback.xml).
 *
 * <p>Switchboard's own messages are already {@code event=connect session=… user=…} pairs; in JSON each pair
 * becomes a field, so {@code {"ts":…,"level":"INFO","logger":"Session","event":"connect","session":…}}.
 * A message that is not made of pairs (a library's) is kept whole as {@code msg}. Values are strings, and
 * {@code null} for a literal {@code null}, so a field never changes type from one line to the next.
 * Line breaks in messages and stack traces are escaped: a log shipper never splits an event in two, and a
 * client-supplied string cannot forge a line.
 */
public final class LogLineLayout extends LayoutBase<ILoggingEvent> {

  private static final DateTimeFormatter TS =
      DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'").withZone(ZoneOffset.UTC);
  private static final Set<String> RESERVED = Set.of("ts", "level", "logger", "thread", "msg", "error", "stack");

  private boolean json;

  /** {@code kv} (default) or {@code json}; anything else falls back to {@code kv}. */
  public void setFormat(String format) {
    this.json = "json".equalsIgnoreCase(format == null ? "" : format.trim());
  }

  public String getFormat() {
    return json ? "json" : "kv";
  }

  @Override
  public String doLayout(ILoggingEvent event) {
    String ts = TS.format(Instant.ofEpochMilli(event.getTimeStamp()));
    String logger = shortName(event.getLoggerName());
    String message = event.getFormattedMessage();
    Map<String, String> pairs = message == null ? null : parsePairs(message);
    if (pairs != null && event.getKeyValuePairs() != null) {
      for (KeyValuePair kv : event.getKeyValuePairs()) {
        pairs.putIfAbsent(kv.key, kv.value == null ? null : String.valueOf(kv.value));
      }
    }
    IThrowableProxy t = event.getThrowableProxy();
    StringBuilder sb = new StringBuilder(256);
    if (json) {
      sb.append("{\"ts\":\"").append(ts).append("\",\"level\":\"").append(event.getLevel())
          .append("\",\"logger\":");
      jsonString(sb, logger);
      sb.append(",\"thread\":");
      jsonString(sb, event.getThreadName());
      if (pairs == null) {
        sb.append(",\"msg\":");
        jsonString(sb, message);
      } else {
        pairs.forEach((k, v) -> {
          sb.append(',');
          jsonString(sb, RESERVED.contains(k) ? "_" + k : k);
          sb.append(':');
          jsonString(sb, v);
        });
      }
      if (t != null) {
        sb.append(",\"error\":");
        jsonString(sb, t.getClassName() + ": " + t.getMessage());
        sb.append(",\"stack\":");
        jsonString(sb, stack(t));
      }
      sb.append('}');
    } else {
      sb.append("ts=").append(ts).append(" level=").append(event.getLevel()).append(" logger=").append(logger)
          .append(' ');
      if (pairs == null) {
        sb.append("msg=");
        quoted(sb, message);
      } else {
        oneLine(sb, message);
        if (event.getKeyValuePairs() != null) {
          for (KeyValuePair kv : event.getKeyValuePairs()) {
            sb.append(' ').append(kv.key).append('=');
            quoted(sb, String.valueOf(kv.value));
          }
        }
      }
      if (t != null) {
        sb.append(" error=");
        quoted(sb, t.getClassName() + ": " + t.getMessage());
        sb.append(" stack=");
        quoted(sb, stack(t));
      }
    }
    return sb.append(CoreConstants.LINE_SEPARATOR).toString();
  }

  /**
   * {@code k=v k2="quoted \" value"} → ordered map, or null when the text is not entirely such pairs.
   * Keys are {@code [A-Za-z0-9_.-]+}; a bare value runs to the next space; {@code null} maps to null.
   */
  static Map<String, String> parsePairs(String text) {
    Map<String, String> out = new LinkedHashMap<>();
    int i = 0;
    int n = text.length();
    while (i < n) {
      while (i < n && text.charAt(i) == ' ') {
        i++;
      }
      if (i == n) {
        break;
      }
      int keyStart = i;
      while (i < n && isKeyChar(text.charAt(i))) {
        i++;
      }
      if (i == keyStart || i == n || text.charAt(i) != '=') {
        return null;
      }
      String key = text.substring(keyStart, i++);
      String value;
      if (i < n && text.charAt(i) == '"') {
        StringBuilder v = new StringBuilder();
        i++;
        boolean closed = false;
        while (i < n) {
          char c = text.charAt(i++);
          if (c == '\\' && i < n) {
            v.append(text.charAt(i++));
          } else if (c == '"') {
            closed = true;
            break;
          } else {
            v.append(c);
          }
        }
        if (!closed || (i < n && text.charAt(i) != ' ')) {
          return null;
        }
        value = v.toString();
      } else {
        int start = i;
        while (i < n && text.charAt(i) != ' ') {
          i++;
        }
        value = text.substring(start, i);
        if (value.equals("null")) {
          value = null;
        }
      }
      out.put(key, value);
    }
    return out.isEmpty() ? null : out;
  }

  private static boolean isKeyChar(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.'
        || c == '-';
  }

  private static String shortName(String logger) {
    int dot = logger == null ? -1 : logger.lastIndexOf('.');
    return dot < 0 ? String.valueOf(logger) : logger.substring(dot + 1);
  }

  private static String stack(IThrowableProxy t) {
    StringBuilder sb = new StringBuilder();
    for (IThrowableProxy cur = t; cur != null; cur = cur.getCause()) {
      if (cur != t) {
        sb.append("Caused by: ");
      }
      sb.append(cur.getClassName()).append(": ").append(cur.getMessage());
      StackTraceElementProxy[] frames = cur.getStackTraceElementProxyArray();
      int shown = Math.min(frames.length, 30);
      for (int k = 0; k < shown; k++) {
        sb.append("\n\tat ").append(frames[k].getStackTraceElement());
      }
      if (frames.length > shown) {
        sb.append("\n\t… ").append(frames.length - shown).append(" more");
      }
      sb.append('\n');
    }
    return sb.toString().stripTrailing();
  }

  /** The text with CR and LF escaped, so a message stays on its line. */
  private static void oneLine(StringBuilder sb, String s) {
    for (int k = 0; k < s.length(); k++) {
      char c = s.charAt(k);
      if (c == '\n') {
        sb.append("\\n");
      } else if (c == '\r') {
        sb.append("\\r");
      } else {
        sb.append(c);
      }
    }
  }

  /**
   * A value for a {@code key=…} pair of a message, in quotes with {@code "} and {@code \} escaped, for text a
   * client chose (an Origin header, a message body, a path): it stays one value, and cannot end its field and
   * add pairs of its own ({@code event=…}) to the line or to the JSON object made from it.
   */
  public static String quote(String value) {
    StringBuilder sb = new StringBuilder(value == null ? 2 : value.length() + 8);
    quoted(sb, value);
    return sb.toString();
  }

  private static void quoted(StringBuilder sb, String s) {
    sb.append('"');
    if (s != null) {
      for (int k = 0; k < s.length(); k++) {
        char c = s.charAt(k);
        switch (c) {
          case '"' -> sb.append("\\\"");
          case '\\' -> sb.append("\\\\");
          case '\n' -> sb.append("\\n");
          case '\r' -> sb.append("\\r");
          case '\t' -> sb.append("\\t");
          default -> sb.append(c);
        }
      }
    }
    sb.append('"');
  }

  static void jsonString(StringBuilder sb, String s) {
    if (s == null) {
      sb.append("null");
      return;
    }
    sb.append('"');
    for (int k = 0; k < s.length(); k++) {
      char c = s.charAt(k);
      switch (c) {
        case '"' -> sb.append("\\\"");
        case '\\' -> sb.append("\\\\");
        case '\n' -> sb.append("\\n");
        case '\r' -> sb.append("\\r");
        case '\t' -> sb.append("\\t");
        default -> {
          if (c < 0x20 || c == '\u2028' || c == '\u2029') {
            sb.append(String.format("\\u%04x", (int) c));
          } else {
            sb.append(c);
          }
        }
      }
    }
    sb.append('"');
  }
}
