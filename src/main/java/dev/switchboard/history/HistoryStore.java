package dev.switchboard.history;

import dev.switchboard.bus.Publication;
import io.netty.buffer.ByteBufUtil;
import io.vertx.core.Future;
import java.util.List;

/**
 * Bounded per-channel history with stream positions (SPEC §3, §4). Offsets start at 1 and rise by one per
 * message per channel, with no gaps and no duplicates, whichever node appends. The epoch names one
 * incarnation of a channel's history: it changes only when the history was lost (or reclaimed after its
 * TTL), so a client holding an offset of another epoch knows its position means nothing now.
 */
public interface HistoryStore {

  /** Bytes a message frame adds to a kept publication's JSON, at most: its type, offset and epoch. */
  int FRAME_FIELDS = 64;

  /** What one kept publication counts against {@link #readNewest}'s budget, from its JSON. */
  static long frameBytes(String json) {
    return ByteBufUtil.utf8Bytes(json) + FRAME_FIELDS;
  }

  /** Keeps the publication and returns it stamped with its offset and epoch. */
  Future<Publication> append(Publication pub);

  /**
   * Reads kept publications in offset order.
   *
   * @param afterOffset return those with offset &gt; afterOffset; -1 = the newest {@code limit}
   * @param limit at most this many
   */
  Future<Page> read(String channel, long afterOffset, int limit);

  /**
   * The newest kept publications, oldest first: at most {@code limit}, and only as many as fit in
   * {@code maxBytes}, each counted as its UTF-8 JSON and {@link #FRAME_FIELDS} for what a message frame adds. Reads back from the newest and stops at the
   * budget, so a channel of large messages costs the budget in memory, not its whole history: a {@code history}
   * answer is one frame, and it must fit a session's bounded write queue (SPEC §6).
   */
  Future<Page> readNewest(String channel, int limit, long maxBytes);

  /**
   * A slice of history and the channel's position.
   *
   * @param offset the newest offset kept (0 when empty)
   * @param oldestOffset the oldest offset still kept (offset + 1 when empty)
   */
  record Page(List<Publication> publications, long offset, String epoch, long oldestOffset) {

    /**
     * Whether the newest {@code limit} messages kept are not all here: {@link #readNewest} stopped at its byte
     * budget before the oldest of them.
     */
    public boolean leftOutOfNewest(int limit) {
      long wanted = Math.min(limit, offset - oldestOffset + 1);
      return publications.size() < wanted;
    }

    /** Whether a client at (sinceOffset, sinceEpoch) can be brought up to date from this store. */
    public boolean covers(long sinceOffset, String sinceEpoch) {
      // At offset 0 the client has seen nothing of any epoch, so all that is kept is what it missed.
      if (sinceOffset > 0 && sinceEpoch != null && !sinceEpoch.equals(epoch)) {
        return false;
      }
      return sinceOffset <= offset && sinceOffset + 1 >= oldestOffset;
    }
  }
}
