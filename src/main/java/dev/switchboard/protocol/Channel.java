package dev.switchboard.protocol;

import java.util.Optional;

/**
 * A validated channel name: {@code <namespace>:<name>} or the bare {@code broadcast} (SPEC §3).
 * Name characters are {@code [A-Za-z0-9_.:=@-]}; the whole channel is at most 255 characters.
 */
public record Channel(String namespace, String name) {

  public static final int MAX_LENGTH = 255;
  public static final String BROADCAST = "broadcast";
  public static final String USER = "user";
  public static final String ROOM = "room";
  public static final String TOPIC = "topic";
  public static final String SEGMENT = "segment";
  /** Internal channels (for example the admin feed); never subscribable by ordinary sessions. */
  public static final String SYSTEM = "$sys";
  /** The admin dashboard's feed: every node's stats once a second; only admin sessions may subscribe. */
  public static final String SYSTEM_STATS = SYSTEM + ":stats";

  public static final Channel BROADCAST_CHANNEL = new Channel(BROADCAST, "");

  /** Parses and validates; the error text says what is wrong with the name. */
  public static Result parse(String raw) {
    if (raw == null || raw.isEmpty()) {
      return Result.error("channel is missing");
    }
    if (raw.length() > MAX_LENGTH) {
      return Result.error("channel is longer than " + MAX_LENGTH + " characters");
    }
    if (raw.equals(BROADCAST)) {
      return Result.ok(BROADCAST_CHANNEL);
    }
    int colon = raw.indexOf(':');
    if (colon <= 0) {
      return Result.error("channel must look like <namespace>:<name>");
    }
    String ns = raw.substring(0, colon);
    String name = raw.substring(colon + 1);
    if (ns.equals(BROADCAST)) {
      // Not a sub-channel of broadcast: a publisher who took it for one would reach every session.
      return Result.error("broadcast takes no name: the channel is just \"broadcast\"");
    }
    if (name.isEmpty()) {
      return Result.error("channel name is empty");
    }
    for (int i = 0; i < ns.length(); i++) {
      char c = ns.charAt(i);
      if (!(isAlnum(c) || c == '_' || c == '-' || (i == 0 && c == '$'))) {
        return Result.error("channel namespace has an invalid character at position " + i);
      }
    }
    for (int i = 0; i < name.length(); i++) {
      if (!isNameChar(name.charAt(i))) {
        return Result.error("channel name has an invalid character at position " + (colon + 1 + i)
            + " (allowed: A-Z a-z 0-9 _ . : = @ -)");
      }
    }
    return Result.ok(new Channel(ns, name));
  }

  /** For trusted, already validated input. */
  public static Channel of(String raw) {
    Result r = parse(raw);
    if (r.error() != null) {
      throw new IllegalArgumentException("invalid channel '" + raw + "': " + r.error());
    }
    return r.channel();
  }

  public static Channel user(String userId) {
    return new Channel(USER, userId);
  }

  public static Channel segment(String claim, String value) {
    return new Channel(SEGMENT, claim + "=" + value);
  }

  /** True if the user id can be used as a channel name (user:&lt;id&gt;). */
  public static boolean isValidName(String s) {
    return userIdProblem(s) == null;
  }

  /** Why the user id cannot name its {@code user:} channel ("is empty", …), or null when it can. */
  public static String userIdProblem(String s) {
    if (s == null || s.isEmpty()) {
      return "is empty";
    }
    if (s.length() > MAX_LENGTH - 5) {
      return "is longer than " + (MAX_LENGTH - 5) + " characters (user:<id> is at most " + MAX_LENGTH + ")";
    }
    for (int i = 0; i < s.length(); i++) {
      if (!isNameChar(s.charAt(i))) {
        return "has a character outside A-Z a-z 0-9 _ . : = @ - at position " + i;
      }
    }
    return null;
  }

  private static boolean isAlnum(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  }

  private static boolean isNameChar(char c) {
    return isAlnum(c) || c == '_' || c == '.' || c == ':' || c == '=' || c == '@' || c == '-';
  }

  public boolean isBroadcast() {
    return BROADCAST.equals(namespace);
  }

  /** For segment channels, the claim name ({@code dept} of {@code segment:dept=sales}). */
  public Optional<String> segmentClaim() {
    if (!SEGMENT.equals(namespace)) {
      return Optional.empty();
    }
    int eq = name.indexOf('=');
    return eq > 0 ? Optional.of(name.substring(0, eq)) : Optional.empty();
  }

  @Override
  public String toString() {
    return isBroadcast() ? BROADCAST : namespace + ":" + name;
  }

  /** Either a channel or the reason the raw text is not one. */
  public record Result(Channel channel, String error) {
    static Result ok(Channel c) {
      return new Result(c, null);
    }

    static Result error(String e) {
      return new Result(null, e);
    }

    public boolean ok() {
      return channel != null;
    }
  }
}
