package dev.switchboard.router;

import dev.switchboard.auth.Principal;
import dev.switchboard.config.SwitchboardConfig;
import dev.switchboard.config.SwitchboardConfig.NamespaceRules;
import dev.switchboard.metrics.AdminAccess;
import dev.switchboard.protocol.Channel;
import dev.switchboard.protocol.ErrorCode;
import dev.switchboard.protocol.ProtocolError;
import java.util.Map;

/**
 * Who may subscribe, publish and see presence where (SPEC §3). Each check returns null when allowed, or
 * the error the client should get. Backends are trusted: they may publish to any valid channel but the
 * system ones.
 */
public final class ChannelRules {

  /** Why a publish to {@code $sys:…} is refused, whoever sends it. */
  public static final String SYSTEM_IS_READ_ONLY =
      Channel.SYSTEM + ": channels are written by the nodes themselves; nobody may publish to them";

  private final SwitchboardConfig.Channels config;
  private final Map<String, NamespaceRules> namespaces;

  public ChannelRules(SwitchboardConfig.Channels config) {
    this.config = config;
    this.namespaces = config.namespaces();
  }

  public NamespaceRules rules(Channel ch) {
    return namespaces.get(ch.namespace());
  }

  /**
   * Whether a backend may publish here: any channel of a known namespace, broadcast and segments, but not
   * the system channels: what an admin page reads there must come from the nodes, not from anyone holding
   * an API key or Redis access.
   */
  public ProtocolError checkBackendPublish(Channel ch) {
    if (Channel.SYSTEM.equals(ch.namespace())) {
      return forbidden(SYSTEM_IS_READ_ONLY);
    }
    if (ch.isBroadcast() || Channel.SEGMENT.equals(ch.namespace())) {
      return ch.segmentClaim().isPresent() || ch.isBroadcast() ? null
          : new ProtocolError(ErrorCode.BAD_REQUEST, "segment channel must look like segment:<claim>=<value>", null);
    }
    if (!namespaces.containsKey(ch.namespace())) {
      return unknownNamespace(ch);
    }
    return null;
  }

  public ProtocolError checkSubscribe(Principal p, Channel ch) {
    if (ch.isBroadcast()) {
      return forbidden("broadcast is subscribed automatically");
    }
    if (Channel.SEGMENT.equals(ch.namespace())) {
      return forbidden("segment channels are subscribed automatically from token claims");
    }
    if (AdminAccess.isAdmin(p)) {
      return Channel.SYSTEM.equals(ch.namespace()) ? null : forbidden("admin sessions read system channels only");
    }
    if (Channel.SYSTEM.equals(ch.namespace())) {
      return forbidden("system channels are only for admin sessions (auth with an api_key)");
    }
    NamespaceRules r = namespaces.get(ch.namespace());
    if (r == null) {
      return unknownNamespace(ch);
    }
    boolean allowed = switch (r.subscribe()) {
      case OWNER -> ch.name().equals(p.userId());
      case CLAIM -> Channel.ROOM.equals(ch.namespace()) ? p.inRoom(ch.name()) : false;
      case AUTHENTICATED -> true;
      case NONE -> false;
    };
    if (!allowed && !Channel.USER.equals(ch.namespace()) && !p.channelPatterns().isEmpty()) {
      allowed = new Glob(p.channelPatterns()).matches(ch.toString());
    }
    if (!allowed) {
      return forbidden(switch (r.subscribe()) {
        case OWNER -> "you may only subscribe to your own " + ch.namespace() + ": channel";
        case CLAIM -> "your token's rooms claim does not list " + ch.name();
        default -> "clients may not subscribe to " + ch.namespace() + ": channels";
      });
    }
    return null;
  }

  public ProtocolError checkPublish(Principal p, Channel ch) {
    if (ch.isBroadcast()) {
      return forbidden("clients may not publish to broadcast");
    }
    if (Channel.SEGMENT.equals(ch.namespace()) || Channel.SYSTEM.equals(ch.namespace())) {
      return forbidden("clients may not publish to " + ch.namespace() + " channels");
    }
    NamespaceRules r = namespaces.get(ch.namespace());
    if (r == null) {
      return unknownNamespace(ch);
    }
    if (Channel.USER.equals(ch.namespace())) {
      return forbidden("use send to message a user");
    }
    return switch (r.publish()) {
      case MEMBERS -> checkSubscribe(p, ch) == null ? null
          : forbidden("only members of " + ch + " may publish to it");
      case AUTHENTICATED -> null;
      case NONE -> forbidden("clients may not publish to " + ch.namespace() + ": channels");
    };
  }

  public ProtocolError checkSend(Principal p, String toUser) {
    return config.directMessages() ? null : forbidden("direct messages are turned off");
  }

  public ProtocolError checkPresence(Principal p, Channel ch) {
    ProtocolError sub = checkSubscribe(p, ch);
    if (sub != null && !(Channel.USER.equals(ch.namespace()) && ch.name().equals(p.userId()))) {
      return sub;
    }
    return checkBackendPresence(ch);
  }

  /**
   * Whether presence may be read here by a backend (the HTTP API): a known namespace whose rules keep
   * presence. The client's request adds its subscribe check in front of this one.
   */
  public ProtocolError checkBackendPresence(Channel ch) {
    NamespaceRules r = namespaces.get(ch.namespace());
    if (r == null && !builtIn(ch)) {
      return unknownNamespace(ch);
    }
    if (r == null || !r.presence()) {
      return forbidden("presence is not enabled for " + ch.namespace() + ": channels"
          + (r == null ? "" : " (channels.namespaces." + ch.namespace() + ".presence is false)"));
    }
    return null;
  }

  public ProtocolError checkHistory(Principal p, Channel ch) {
    ProtocolError sub = checkSubscribe(p, ch);
    return sub != null ? sub : checkBackendHistory(ch);
  }

  /**
   * Whether the channel keeps a history to read, for the HTTP API and, after the right to subscribe, for a
   * client: the same reason on both paths, {@code forbidden} to a client (the config does not allow it, as
   * for presence) and 400 over HTTP.
   */
  public ProtocolError checkBackendHistory(Channel ch) {
    NamespaceRules r = namespaces.get(ch.namespace());
    if (r == null && !builtIn(ch)) {
      return unknownNamespace(ch);
    }
    if (r == null || !r.keepsHistory()) {
      return forbidden(ch + " keeps no history"
          + (r == null ? "" : " (channels.namespaces." + ch.namespace() + ".history_size is 0)"));
    }
    return null;
  }

  /**
   * Whether a message fits its namespace's own {@code max_message_size}: null when it does or the namespace
   * has none, else {@code too_large} (HTTP 413) naming the key and its limit. Measured as
   * {@link MessageSize} measures {@code session.max_message_size}, which every path checks besides this.
   */
  public ProtocolError checkMessageSize(Channel ch, Object message) {
    return checkMessageSize(ch, message, 0);
  }

  /**
   * A backend's message against the one limit that applies to it: its namespace's {@code max_message_size} where
   * it has one (never above {@code sessionMax}, the config sees to that), else {@code sessionMax}. One
   * measurement, so a message up to 64 KiB is encoded once, not once per limit.
   */
  public ProtocolError checkMessageSize(Channel ch, Object message, int sessionMax) {
    NamespaceRules r = namespaces.get(ch.namespace());
    boolean own = r != null && r.maxMessageSize() > 0;
    int limit = own ? r.maxMessageSize() : sessionMax;
    if (limit == 0 || !MessageSize.over(message, limit)) {
      return null;
    }
    return new ProtocolError(ErrorCode.TOO_LARGE, !own ? MessageSize.refusal(sessionMax)
        : "message is larger than channels.namespaces." + ch.namespace() + ".max_message_size ("
            + r.maxMessageSize() + " bytes) for " + ch.namespace() + ": channels", null);
  }

  public boolean keepsHistory(Channel ch) {
    NamespaceRules r = namespaces.get(ch.namespace());
    return r != null && r.keepsHistory();
  }

  /** Channels of the gateway's own, which need no namespace in the config. */
  private static boolean builtIn(Channel ch) {
    return ch.isBroadcast() || Channel.SEGMENT.equals(ch.namespace()) || Channel.SYSTEM.equals(ch.namespace());
  }

  private static ProtocolError forbidden(String why) {
    return new ProtocolError(ErrorCode.FORBIDDEN, why, null);
  }

  private static ProtocolError unknownNamespace(Channel ch) {
    return new ProtocolError(ErrorCode.BAD_REQUEST, "unknown channel namespace: " + ch.namespace(), null);
  }
}
