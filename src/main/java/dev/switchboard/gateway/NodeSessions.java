package dev.switchboard.gateway;

import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/**
 * Node-wide counts that several gateway instances write and the node directory, limiter and metrics read:
 * open connections, sessions per user, and who is subscribed to which channel (for presence).
 *
 * <p>Why concurrent maps here when a SessionHub keeps its own index lock-free: these are touched on
 * connect, authenticate, subscribe and close only, never per delivered message, and they are read from
 * other event loops (presence queries, admission). Delivery never reads them; it only bumps one
 * {@link LongAdder} per publication per consumer.
 */
public final class NodeSessions {

  private final AtomicInteger connections = new AtomicInteger();
  private final AtomicInteger closingSockets = new AtomicInteger();
  private final LongAdder fanoutReceived = new LongAdder();
  private final ConcurrentMap<String, AtomicInteger> perUser = new ConcurrentHashMap<>();
  /** user → connection slots the limiter has reserved for the user here: authenticated or still admitting. */
  private final ConcurrentMap<String, Integer> userSlots = new ConcurrentHashMap<>();
  /** channel → user → number of this node's sessions of that user subscribed. */
  private final ConcurrentMap<String, ConcurrentMap<String, Integer>> presence = new ConcurrentHashMap<>();

  public void connectionOpened() {
    connections.incrementAndGet();
  }

  public void connectionClosed() {
    connections.decrementAndGet();
  }

  /** Sessions not yet ended: open, or closed by their peer's close frame an instant ago. */
  public int connections() {
    return connections.get();
  }

  /**
   * WebSocket connections this node holds: its sessions, and the sockets whose session ended but whose TCP
   * connection has not closed yet (a peer that does not answer the close frame holds one until it is cut).
   * What the connections gauge and {@code /api/nodes} report, and what {@code server.max_connections} counts.
   */
  public int openSockets() {
    return connections.get() + closingSockets.get();
  }

  public void socketClosing() {
    closingSockets.incrementAndGet();
  }

  public void socketClosed() {
    closingSockets.decrementAndGet();
  }

  /**
   * Sockets whose session has ended (its close frame queued) but which have not closed yet: their cleanup,
   * the limiter release and the disconnect line among it, is still to run.
   */
  public int closingSockets() {
    return closingSockets.get();
  }

  /** A publication reached one of this node's channel consumers (one per consumer, probes excluded). */
  public void fanoutReceived() {
    fanoutReceived.increment();
  }

  /**
   * Publications this node's channel consumers have received: the proof of interest-based routing, since a
   * node with no subscriber for a channel has no consumer for it and this count does not move.
   */
  public long fanoutReceivedTotal() {
    return fanoutReceived.sum();
  }

  public void userAdded(String user) {
    perUser.computeIfAbsent(user, u -> new AtomicInteger()).incrementAndGet();
  }

  public void userRemoved(String user) {
    perUser.computeIfPresent(user, (u, n) -> n.decrementAndGet() <= 0 ? null : n);
  }

  /**
   * Reserves a slot for one more session of the user on this node and returns how many it now holds.
   * Only the limiter writes slots; other nodes read them, so a login still being admitted here is already
   * counted when another node asks (a count of authenticated sessions alone lets simultaneous logins on
   * two nodes both pass the cluster-wide cap).
   */
  public int reserveUserSlot(String user) {
    return userSlots.merge(user, 1, Integer::sum);
  }

  public void releaseUserSlot(String user) {
    userSlots.computeIfPresent(user, (u, n) -> n <= 1 ? null : n - 1);
  }

  public int userSlotsOf(String user) {
    return userSlots.getOrDefault(user, 0);
  }

  public int users() {
    return perUser.size();
  }

  public void joined(String channel, String user) {
    presence.computeIfAbsent(channel, c -> new ConcurrentHashMap<>()).merge(user, 1, Integer::sum);
  }

  public void left(String channel, String user) {
    presence.computeIfPresent(channel, (c, users) -> {
      users.computeIfPresent(user, (u, n) -> n <= 1 ? null : n - 1);
      return users.isEmpty() ? null : users;
    });
  }

  public List<String> usersIn(String channel) {
    ConcurrentMap<String, Integer> users = presence.get(channel);
    return users == null ? List.of() : List.copyOf(users.keySet());
  }
}
