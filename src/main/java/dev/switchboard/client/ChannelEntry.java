package dev.switchboard.client;

import dev.switchboard.client.SwitchboardClient.Delivery;
import dev.switchboard.client.SwitchboardClient.Subscribed;
import io.vertx.core.Handler;
import io.vertx.core.Promise;
import java.util.ArrayList;
import java.util.List;

/**
 * A channel the app listens to: its handlers, where its subscribe stands on the current session, and its
 * position. Used on the client's context only.
 */
final class ChannelEntry {

  final String channel;
  final List<Handler<Delivery>> handlers = new ArrayList<>();
  /** The subscribe() calls waiting for the first ack. */
  final List<Promise<Subscribed>> waiters = new ArrayList<>();
  final ChannelPosition position;
  Subscribed acked;
  /** Whether the next subscribe frame follows a reconnect (its ack then reports {@code recovered}). */
  boolean resubscribe;
  int retries;
  long retryTimer = -1;
  /** The session its last subscribe frame was sent on: an entry still queued has nothing to leave. */
  long sentOn = -1;
  /** The server refused the subscribe of this automatic channel: the session is on it anyway, without a position. */
  boolean automaticRefused;

  ChannelEntry(String channel, ChannelPosition position) {
    this.channel = channel;
    this.position = position;
  }

  void completeWaiters(Subscribed info) {
    for (Promise<Subscribed> w : List.copyOf(waiters)) {
      w.tryComplete(info);
    }
    waiters.clear();
  }

  void failWaiters(Throwable cause) {
    for (Promise<Subscribed> w : List.copyOf(waiters)) {
      w.tryFail(cause);
    }
    waiters.clear();
  }
}
