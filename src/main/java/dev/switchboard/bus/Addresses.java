package dev.switchboard.bus;

import dev.switchboard.protocol.Channel;

/**
 * Every event-bus address Switchboard uses, built in one place.
 *
 * <p>Delivery on {@code switchboard.ch.<channel>} is the clustered event bus publish: at most once per
 * consumer, one copy per node that has a consumer, in the order one publisher sent them. A node registers
 * one consumer per channel per gateway instance only while it has local subscribers (interest-based), so
 * a node with no subscriber for a channel receives nothing for it.
 */
public final class Addresses {

  private Addresses() {}

  /** The router: backends {@code request} it with {"channel","message","from_user"}; cluster-wide. */
  public static final String PUBLISH = "switchboard.publish";
  /**
   * The router for this node's own sessions: their publishes on channels that keep history, copied to
   * {@link #INBOUND} once accepted. Local to each node, so no backend can pass off a publish as a client's.
   */
  public static final String CLIENT_PUBLISH = "switchboard.publish.client";
  /** What clients publish, for backends to consume. */
  public static final String INBOUND = "switchboard.inbound";
  /** Messages that reached no session, or were dropped for a slow consumer. */
  public static final String UNDELIVERED = "switchboard.undelivered";
  /** Token verification; local to each node. */
  public static final String AUTH_VERIFY = "switchboard.auth.verify";
  /** Connection admission (per IP, per node); local to each node. */
  public static final String LIMITER_ADMIT = "switchboard.limiter.admit";
  /** Per-user admission after authentication; local to each node. */
  public static final String LIMITER_ADMIT_USER = "switchboard.limiter.admit-user";
  /** A connection ended: release what admission counted for it; local to each node. */
  public static final String LIMITER_RELEASE = "switchboard.limiter.release";
  /** Close every session of a user; published cluster-wide, each gateway instance consumes it. */
  public static final String DISCONNECT_USER = "switchboard.control.disconnect";
  /**
   * Gateway instances close their sessions with 1001 over {@code period_ms}, with {@code reason}: on a drain, and
   * after the node rejoined the cluster from a split. Local.
   */
  public static final String DRAIN = "switchboard.control.drain";

  private static final String CHANNEL_PREFIX = "switchboard.ch.";

  /**
   * The fan-out address of the admin stats feed ({@link Channel#SYSTEM_STATS}): every node publishes on it
   * once a second, and usually no node has a subscriber.
   */
  public static final String STATS = channel(Channel.SYSTEM_STATS);

  /** The fan-out address of a channel. */
  public static String channel(Channel ch) {
    return CHANNEL_PREFIX + ch;
  }

  public static String channel(String ch) {
    return CHANNEL_PREFIX + ch;
  }

  /** Directed control to one node: presence, info, user-count. */
  public static String node(String nodeId, String op) {
    return "switchboard.node." + nodeId + "." + op;
  }
}
