/**
 * How Switchboard nodes form one cluster and answer questions about all of it.
 *
 * <p>Why it is shaped this way:
 * <ul>
 *   <li><b>No shared state for views.</b> Presence, {@code /api/nodes} and the per-user connection count are
 *       gathered on demand from each live member's {@link dev.switchboard.cluster.NodeDirectory}
 *       ({@link dev.switchboard.cluster.ClusterView}). The member list comes from Hazelcast, so a node killed
 *       with -9 stops being counted as soon as Hazelcast drops it (cluster.xml: 10 s without heartbeat, and
 *       much sooner on loopback, where the dead node's connections are refused at once). There is nothing
 *       to clean up after it and no ghost users.</li>
 *   <li><b>Interest-based routing is the event bus's own registration table.</b> A node registers a
 *       consumer on {@code switchboard.ch.<channel>} only while it has subscribers, so a clustered publish
 *       goes only to those nodes. The catch is that each member routes from a cache of that table, updated
 *       asynchronously; a subscribe is therefore acked only after every member has proven, with a probe
 *       published through its own routing ({@link dev.switchboard.cluster.ProbeResponder}), that it routes
 *       the channel to the new consumer.</li>
 *   <li><b>A quorum is a count, not a vote.</b> With {@code cluster.min_nodes} each node decides alone from
 *       the member list Hazelcast shows it ({@link dev.switchboard.cluster.QuorumWatch}): below the quorum it
 *       serves nothing, so at most one side of a split (the one holding a majority) takes publishes and keeps
 *       sessions. Nodes only: backend JVMs are lite members and cannot make a small side look whole.</li>
 *   <li><b>The network identity comes from Switchboard's config, not from cluster.xml</b>
 *       ({@link dev.switchboard.cluster.ClusterSetup}), so one env var moves a node between laptop, hosts and
 *       Kubernetes, and a node can never fall back to multicast or phone home.</li>
 * </ul>
 */
package dev.switchboard.cluster;
