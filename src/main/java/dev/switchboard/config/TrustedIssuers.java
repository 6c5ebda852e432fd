package dev.switchboard.config;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads {@code auth.issuers}: a list of {@code {"issuer": …, "jwks_url" | "jwks_file": …, "audience": …}} objects,
 * from the config file or decoded from {@code SWITCHBOARD_AUTH_ISSUERS}, by the same rules. An entry is named by
 * its place in what the user wrote ({@code auth.issuers[1]} or {@code SWITCHBOARD_AUTH_ISSUERS[1]}), so a message
 * points at the element to fix, in the file or the variable that holds it.
 */
final class TrustedIssuers {

  static final String KEY = "auth.issuers";

  /** The settings an entry may have. */
  private static final List<String> ENTRY_KEYS = List.of("issuer", "jwks_url", "jwks_file", "audience");

  private TrustedIssuers() {}

  static List<SwitchboardConfig.TrustedIssuer> read(ConfigReader r) {
    Object v = r.raw(KEY);
    String named = r.origin(KEY);
    if (v == null) {
      return List.of();
    }
    if (!(v instanceof JsonArray list)) {
      throw new ConfigException(named, "must be a list of {\"issuer\": …, \"jwks_url\": …} objects");
    }
    List<SwitchboardConfig.TrustedIssuer> out = new ArrayList<>();
    for (int i = 0; i < list.size(); i++) {
      String key = named + "[" + i + "]";
      if (!(list.getValue(i) instanceof JsonObject entry)) {
        throw new ConfigException(key, "must be an object like {\"issuer\": \"https://idp.example\", \"jwks_url\": …}");
      }
      for (String name : entry.fieldNames()) {
        // A misspelt key here would leave an issuer without its source, or with a setting silently dropped.
        if (!ENTRY_KEYS.contains(name)) {
          throw new ConfigException(key + "." + name, "is not a setting of a trusted issuer (" + String.join(", ", ENTRY_KEYS) + ")");
        }
      }
      out.add(new SwitchboardConfig.TrustedIssuer(text(entry, key, "issuer"), text(entry, key, "jwks_url"),
          text(entry, key, "jwks_file"), text(entry, key, "audience"), key));
    }
    return out;
  }

  private static String text(JsonObject entry, String key, String name) {
    Object v = entry.getValue(name);
    if (v == null || "".equals(v)) {
      return null;
    }
    if (!(v instanceof String s)) {
      throw new ConfigException(key + "." + name, "must be a string");
    }
    return s;
  }
}
