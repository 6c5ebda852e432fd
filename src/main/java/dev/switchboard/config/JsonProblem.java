package dev.switchboard.config;

import com.fasterxml.jackson.core.JsonProcessingException;
import io.vertx.core.json.DecodeException;

/**
 * What is wrong with a JSON text and where, in Jackson's own words without its boilerplate (the "Failed to
 * decode" prefix, the excerpt of the source it quotes): for a config file, an env var holding JSON, and an API
 * body alike. The text may be a stranger's, so it is cut to a line's length.
 */
public final class JsonProblem {

  private static final int MAX_LENGTH = 160;

  private JsonProblem() {}

  /** E.g. {@code Unexpected character ('x' (code 120)): was expecting double-quote … (line 1, column 2)}. */
  public static String of(DecodeException e) {
    if (e.getCause() instanceof JsonProcessingException j) {
      String what = firstLine(j.getOriginalMessage());
      return j.getLocation() == null ? what
          : what + " (line " + j.getLocation().getLineNr() + ", column " + j.getLocation().getColumnNr() + ")";
    }
    return firstLine(e.getMessage() == null ? null : e.getMessage().replaceFirst("^Failed to decode:", ""));
  }

  private static String firstLine(String message) {
    String first = message == null ? "" : message.lines().findFirst().orElse("").trim();
    if (first.isEmpty()) {
      return "cannot be parsed";
    }
    return first.length() > MAX_LENGTH ? first.substring(0, MAX_LENGTH) + "…" : first;
  }
}
