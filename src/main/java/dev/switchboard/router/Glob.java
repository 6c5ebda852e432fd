package dev.switchboard.router;

import java.util.List;
import java.util.regex.Pattern;

/** Patterns where {@code *} matches any run of characters (channel claims, rpc.allowed). */
public final class Glob {

  private final List<Pattern> patterns;

  public Glob(List<String> globs) {
    this.patterns = globs.stream().map(Glob::compile).toList();
  }

  public boolean matches(String s) {
    for (Pattern p : patterns) {
      if (p.matcher(s).matches()) {
        return true;
      }
    }
    return false;
  }

  private static Pattern compile(String glob) {
    StringBuilder re = new StringBuilder();
    String[] parts = glob.split("\\*", -1);
    for (int i = 0; i < parts.length; i++) {
      if (i > 0) {
        re.append(".*");
      }
      re.append(Pattern.quote(parts[i]));
    }
    return Pattern.compile(re.toString());
  }
}
