package dev.switchboard.cluster;

/**
 * Whether this node sees enough of the cluster to serve ({@code cluster.min_nodes}, Hazelcast's split-brain
 * protection applied to the whole node). A node cut off from the others goes on as a cluster of its own: what
 * it accepted would reach only its own sessions, its history writes would be dropped when Hazelcast merges it
 * back, and its clients would miss what the other side publishes. Below the quorum it therefore serves
 * nothing: not ready, upgrades refused with 503, sessions sent to reconnect elsewhere, publishes refused with
 * this reason (see {@link QuorumWatch}, which keeps the count).
 *
 * <p>Only Switchboard nodes count (Hazelcast data members); backend JVMs join as lite members and do not, so
 * a backend on the small side of a split cannot make it look whole. With {@code min_nodes} 1 (the default)
 * the quorum is always held and nothing watches the count. Read from any thread.
 */
public final class Quorum {

  private final int minNodes;
  private volatile int visibleNodes;
  private volatile boolean held;

  public Quorum(int minNodes) {
    this.minNodes = minNodes;
    // Held from the start only when off; otherwise not until the watch has counted the nodes it sees.
    this.held = minNodes <= 1;
  }

  /** Whether a quorum is asked for at all ({@code min_nodes} above 1). */
  public boolean enabled() {
    return minNodes > 1;
  }

  public int minNodes() {
    return minNodes;
  }

  /** Switchboard nodes this node saw at the last count, itself included (0 before the first count). */
  public int visibleNodes() {
    return visibleNodes;
  }

  public boolean held() {
    return held;
  }

  /** What is short, as readiness and the logs say it: "2 of min 3 nodes visible". */
  public String shortfall() {
    return visibleNodes + " of min " + minNodes + " nodes visible";
  }

  /** Why this node refuses a publish, or null while it holds the quorum. */
  public String refusal() {
    return held ? null : "cut off from the cluster (" + shortfall() + "): publish through another node";
  }

  /**
   * Records a new count.
   *
   * @return whether this changed {@link #held()}
   */
  boolean update(int nodes) {
    visibleNodes = nodes;
    boolean now = nodes >= minNodes;
    if (now == held) {
      return false;
    }
    held = now;
    return true;
  }
}
