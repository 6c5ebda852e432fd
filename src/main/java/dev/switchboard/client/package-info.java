/**
 * JVM code talking to Switchboard: {@link dev.switchboard.client.Switchboard} publishes from a backend that joins
 * the cluster; {@link dev.switchboard.client.SwitchboardClient} is a WebSocket client with the semantics of
 * {@code /switchboard.js}.
 *
 * <p>Where the client's behaviour lives (all of it on the client's one Vert.x context):
 * <pre>
 *   SwitchboardClient   the public API and the connection: connect, close codes → reconnect/stay closed/wait for a
 *                       token, one StateChange per transition, ping, inbound dispatch; its Options
 *     ├─ Backoff           full jitter for reconnects, equal jitter for subscribe retries
 *     ├─ Tokens            the token attempts use; renewals of the live session, one at a time
 *     ├─ PendingRequests   requests by id: timeouts, queued while offline, failed when the socket is lost
 *     └─ Subscriptions     the channels the app listens to, kept subscribed across sessions; deliveries
 *          ├─ SubscribePacer   (re)subscribes within a token bucket under the server's inbound limit
 *          └─ ChannelEntry     one channel: handlers, its subscribe's progress, and its
 *               └─ ChannelPosition   offset/epoch from acks and messages, the reorder window, dedup of replays
 * </pre>
 * The parts reach the connection through {@link dev.switchboard.client.Connection} and hop threads through
 * {@link dev.switchboard.client.ClientContext}.
 */
package dev.switchboard.client;
