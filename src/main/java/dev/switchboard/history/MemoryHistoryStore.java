package dev.switchboard.history;

import dev.switchboard.bus.Publication;
import dev.switchboard.config.SwitchboardConfig.NamespaceRules;
import io.vertx.core.Future;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * History for a standalone node: in this JVM only, lost with it (a restart starts new epochs).
 * Thread-safe per channel; entries older than the namespace's TTL are dropped on access.
 */
public final class MemoryHistoryStore implements HistoryStore {

  private final Function<String, NamespaceRules> rulesOf;
  private final Map<String, Stream> streams = new ConcurrentHashMap<>();

  private static final class Stream {
    final String epoch = UUID.randomUUID().toString().substring(0, 8);
    final ArrayDeque<Entry> entries = new ArrayDeque<>();
    long nextOffset = 1;
  }

  private record Entry(Publication pub, long storedAtMillis) {}

  /** @param rulesOf the namespace rules of a channel (history_size, history_ttl) */
  public MemoryHistoryStore(Function<String, NamespaceRules> rulesOf) {
    this.rulesOf = rulesOf;
  }

  @Override
  public Future<Publication> append(Publication pub) {
    NamespaceRules rules = rulesOf.apply(pub.channel());
    Stream s = streams.computeIfAbsent(pub.channel(), c -> new Stream());
    synchronized (s) {
      expire(s, rules, System.currentTimeMillis());
      Publication stamped = pub.withPosition(s.nextOffset++, s.epoch);
      s.entries.addLast(new Entry(stamped, System.currentTimeMillis()));
      while (s.entries.size() > rules.historySize()) {
        s.entries.removeFirst();
      }
      return Future.succeededFuture(stamped);
    }
  }

  @Override
  public Future<Page> read(String channel, long afterOffset, int limit) {
    return page(channel, (entries, oldest, newest) -> {
      List<Publication> out = new ArrayList<>();
      long from = afterOffset < 0 ? Math.max(oldest, newest - limit + 1) : afterOffset + 1;
      for (Entry e : entries) {
        if (e.pub().offset() >= from && out.size() < limit) {
          out.add(e.pub());
        }
      }
      return out;
    });
  }

  @Override
  public Future<Page> readNewest(String channel, int limit, long maxBytes) {
    return page(channel, (entries, oldest, newest) -> {
      ArrayDeque<Publication> out = new ArrayDeque<>();
      long bytes = 0;
      for (Iterator<Entry> it = entries.descendingIterator(); it.hasNext() && out.size() < limit; ) {
        Publication p = it.next().pub();
        bytes += HistoryStore.frameBytes(p.toJson().encode());
        if (bytes > maxBytes) {
          break;
        }
        out.addFirst(p);
      }
      return new ArrayList<>(out);
    });
  }

  /** What a read takes from a stream's entries, given the oldest and newest offsets kept. */
  private interface Pick {
    List<Publication> from(ArrayDeque<Entry> entries, long oldest, long newest);
  }

  /** A page of the channel's stream, read under its lock once its expired entries are dropped. */
  private Future<Page> page(String channel, Pick pick) {
    NamespaceRules rules = rulesOf.apply(channel);
    Stream s = streams.computeIfAbsent(channel, c -> new Stream());
    synchronized (s) {
      expire(s, rules, System.currentTimeMillis());
      long newest = s.nextOffset - 1;
      long oldest = s.entries.isEmpty() ? newest + 1 : s.entries.peekFirst().pub().offset();
      return Future.succeededFuture(new Page(pick.from(s.entries, oldest, newest), newest, s.epoch, oldest));
    }
  }

  private static void expire(Stream s, NamespaceRules rules, long now) {
    long ttl = rules.historyTtl().toMillis();
    if (ttl <= 0) {
      return;
    }
    for (Iterator<Entry> it = s.entries.iterator(); it.hasNext(); ) {
      if (now - it.next().storedAtMillis() > ttl) {
        it.remove();
      } else {
        break;
      }
    }
  }
}
