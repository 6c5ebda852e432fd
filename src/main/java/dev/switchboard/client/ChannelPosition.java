package dev.switchboard.client;

import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.TreeSet;
import java.util.function.Supplier;

/**
 * A channel's stream position, from its acks and its messages, for channels that keep history; used on the
 * client's context only.
 *
 * <p>The position ({@link #offset}) is the offset up to which every message was delivered or published before
 * the subscription; {@link #ahead} holds the offsets delivered above it. Several nodes may publish to one
 * channel, so 46 can arrive before 42: resuming from the highest offset seen would lose 42..45. A gap that
 * stays open longer than the reorder window is taken as lost, and an ack with a position closes what it
 * covers, so the position never sticks below the live stream.
 */
final class ChannelPosition {

  private final Vertx vertx;
  private final Supplier<Duration> reorderWindow;
  private Long offset;
  private String epoch;
  private TreeSet<Long> ahead = new TreeSet<>();
  /** The offsets delivered lately, so a replay of one of them is not delivered twice. */
  private LinkedHashSet<Long> delivered = new LinkedHashSet<>();
  private long gapTimer = -1;

  ChannelPosition(Vertx vertx, Supplier<Duration> reorderWindow) {
    this.vertx = vertx;
    this.reorderWindow = reorderWindow;
  }

  /** Records a delivery; false when it was already delivered (a replay after a reconnect). */
  boolean track(long o, String ep) {
    if (!ep.equals(epoch)) {
      // The channel's history was lost and began again: the old position means nothing in the new epoch.
      reset(ep, null);
    }
    if (!delivered.add(o)) {
      return false;
    }
    if (delivered.size() > 2048) {
      delivered.remove(delivered.iterator().next());
    }
    // At or below the position yet never delivered: published just before the ack's position was read, and
    // late. Deliver it; the position already covers it.
    if (offset == null || o > offset) {
      ahead.add(o);
      settle();
    }
    return true;
  }

  /** Takes the position an ack carries (plain subscribe, recovered true or false); never backwards in an epoch. */
  void fromAck(JsonObject ack) {
    Long o = ack.getValue("offset") instanceof Number n ? n.longValue() : null;
    String ep = ack.getString("epoch");
    if (o != null && ep != null) {
      if (!ep.equals(epoch)) {
        reset(ep, o);
      } else if (offset == null || o > offset) {
        offset = o; // what is below was replayed, or published before the subscription
      }
      settle();
    } else if (Boolean.FALSE.equals(ack.getBoolean("recovered"))) {
      // The server cannot send what is missing: do not wait for it.
      closeGap();
    }
  }

  /** The position a resubscribe resumes from, as {@code {"offset","epoch"}}, or null when none is known yet. */
  JsonObject current() {
    if (epoch == null) {
      return null;
    }
    Long o = offset;
    if (o == null) {
      // No ack with a position yet: the run of messages seen so far, from the lowest.
      if (ahead.isEmpty()) {
        return null;
      }
      o = ahead.first();
      while (ahead.contains(o + 1)) {
        o++;
      }
    }
    return new JsonObject().put("offset", o).put("epoch", epoch);
  }

  /** Stops waiting for an open gap: the session ended (the resubscribe's since replays it) or the channel was left. */
  void cancelGap() {
    if (gapTimer >= 0) {
      vertx.cancelTimer(gapTimer);
    }
    gapTimer = -1;
  }

  private void reset(String ep, Long o) {
    epoch = ep;
    offset = o;
    ahead = new TreeSet<>();
    delivered = new LinkedHashSet<>();
    cancelGap();
  }

  private void settle() {
    if (offset != null) {
      ahead.headSet(offset, true).clear();
      while (ahead.remove(offset + 1)) {
        offset++;
      }
    }
    if (ahead.isEmpty()) {
      cancelGap();
    } else if (ahead.size() > 1000) {
      closeGap();
    } else if (gapTimer < 0) {
      gapTimer = vertx.setTimer(Math.max(1, reorderWindow.get().toMillis()), t -> {
        gapTimer = -1;
        closeGap();
      });
    }
  }

  /** Moves the position past a gap whose messages are not coming: the highest offset delivered. */
  private void closeGap() {
    cancelGap();
    if (!ahead.isEmpty()) {
      offset = offset == null ? ahead.last() : Math.max(offset, ahead.last());
      ahead.clear();
    }
  }
}
