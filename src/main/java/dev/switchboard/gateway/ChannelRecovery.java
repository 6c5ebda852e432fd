package dev.switchboard.gateway;

import dev.switchboard.bus.Publication;
import dev.switchboard.history.HistoryStore;
import dev.switchboard.protocol.Frame;
import dev.switchboard.protocol.ServerFrames;
import io.vertx.core.json.JsonObject;
import java.util.Comparator;
import java.util.List;

/**
 * One subscribe with {@code since} on a channel that keeps history, from the moment its subscription is live
 * (the session holds the channel's live deliveries meanwhile) to its ack. Sends what the client missed after
 * {@code since}, then the live deliveries held meanwhile (skipping those already sent from history), then the
 * ack: no gap and no duplicate at the seam. When the position is in another epoch or already trimmed, nothing
 * is replayed and the ack says {@code recovered:false} so the client resyncs from its own source of truth.
 * The replay goes as fast as the client reads: once half the session's write-queue bound is written and not yet
 * on the socket, it waits for it ({@link Session#afterReplayWritten}), so it neither cuts a client that reads nor
 * fills the queue its other deliveries need. A gap that opens while it runs (messages trimmed or expired
 * between pages) ends it {@code recovered:false}.
 */
final class ChannelRecovery {

  private final Session session;
  private final SessionServices svc;
  private final Frame.Subscribe request;
  private final String channel;
  private final int pageSize;
  /** The epoch of the first page: every later page must be of the same history. */
  private String epoch;

  static final int PAGE = 100;

  ChannelRecovery(Session session, SessionServices svc, Frame.Subscribe request, String channel) {
    this.session = session;
    this.svc = svc;
    this.request = request;
    this.channel = channel;
    // A page is read whole into the heap: 100 messages of the largest size are 6.4 MiB per recovering session, where
    // a page of a 1,000-message history was 64 MiB and a few clients resuming at once could exhaust the heap.
    this.pageSize = Math.max(1, Math.min(PAGE, svc.rules().rules(request.channel()).historySize()));
  }

  void start() {
    Frame.Since since = request.since();
    svc.node().history().read(channel, since.offset(), pageSize).onComplete(session.guarded(request, first -> {
      if (first.failed()) {
        finish(false, since.offset(), null);
        return;
      }
      HistoryStore.Page page = first.result();
      if (!page.covers(since.offset(), since.epoch())) {
        finish(false, since.offset(), page);
        return;
      }
      epoch = page.epoch();
      replay(page, since.offset(), page.offset());
    }));
  }

  private void replay(HistoryStore.Page page, long last, long target) {
    if (session.isClosed()) {
      return;
    }
    long sent = last;
    for (Publication p : page.publications()) {
      if (p.offset() <= sent) {
        continue;
      }
      if (p.offset() != sent + 1 || !page.epoch().equals(epoch)) {
        // Trimmed or expired while the replay ran, or the history lost and begun again: the gap cannot be filled,
        // so the client must resync.
        finish(false, sent, page);
        return;
      }
      if (session.replayWindowFull()) {
        long upTo = sent;
        session.afterReplayWritten(request, () -> replay(page, upTo, target));
        return;
      }
      session.writeReplayed(p);
      sent = p.offset();
    }
    if (sent >= target || page.publications().isEmpty()) {
      finish(sent >= target, sent, page);
      return;
    }
    long from = sent;
    svc.node().history().read(channel, from, pageSize).onComplete(session.guarded(request, next -> {
      if (next.failed()) {
        finish(false, from, page);
      } else {
        // A memory store answers at once: without the hop, each page would run inside the one before it, and a
        // replay of a large history would recurse ten thousand pages deep.
        session.nextTurn(request, () -> replay(next.result(), from, target));
      }
    }));
  }

  private void finish(boolean recovered, long sent, HistoryStore.Page page) {
    if (session.isClosed()) {
      session.stopHolding(channel);
      return;
    }
    List<Publication> held = session.held(channel);
    if (held != null && !held.isEmpty()) {
      // Held while the replay ran, in arrival order: publishers on two nodes can overtake each other (46 before
      // 42). Everything sent before the ack goes out in offset order, as SPEC §4 promises for the missed ones,
      // and at the replay's pace: the channel stays held while they go, so nothing overtakes them.
      held.sort(Comparator.comparingLong(Publication::offset));
      // Up to sent the client has it all, from before or from the replay: a live copy of those is dropped. When the
      // replay did not start (another epoch, a position already trimmed, a failed read) nothing is known.
      boolean upToSent = epoch != null && (recovered || sent > request.since().offset());
      for (int i = 0; i < held.size(); i++) {
        if (session.replayWindowFull()) {
          held.subList(0, i).clear();
          session.afterReplayWritten(request, () -> finish(recovered, sent, page));
          return;
        }
        Publication p = held.get(i);
        if (!(upToSent && p.offset() <= sent && epoch.equals(p.epoch()))) {
          session.writeReplayed(p);
        }
      }
      held.clear();
    }
    session.stopHolding(channel);
    boolean replayed = recovered && sent > request.since().offset() && page != null;
    session.recovered(channel, replayed ? new Frame.Since(sent, page.epoch()) : null);
    JsonObject extra = new JsonObject().put("recovered", recovered);
    if (page != null) {
      extra.put("offset", page.offset()).put("epoch", page.epoch());
    }
    session.send(ServerFrames.ack(request.id(), extra));
  }
}
