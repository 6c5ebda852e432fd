package dev.switchboard.history;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.bus.Publication;
import dev.switchboard.config.SwitchboardConfig.NamespaceRules;
import dev.switchboard.config.SwitchboardConfig.PublishPolicy;
import dev.switchboard.config.SwitchboardConfig.SubscribePolicy;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class MemoryHistoryStoreTest {

  private final NamespaceRules rules = new NamespaceRules(SubscribePolicy.CLAIM, PublishPolicy.MEMBERS, true, 3,
      Duration.ofMinutes(1), 0, 0);
  private final MemoryHistoryStore store = new MemoryHistoryStore(ch -> rules);

  @Test
  void offsetsRiseByOneAndTheOldestAreTrimmed() {
    for (int i = 1; i <= 5; i++) {
      Publication p = store.append(Publication.now("room:a", i, null)).result();
      assertEquals(i, p.offset());
    }
    HistoryStore.Page page = store.read("room:a", -1, 10).result();
    assertEquals(List.of(3L, 4L, 5L), page.publications().stream().map(Publication::offset).toList());
    assertEquals(5, page.offset());
    assertEquals(3, page.oldestOffset());
  }

  @Test
  void coversOnlyPositionsStillKeptInTheSameEpoch() {
    for (int i = 1; i <= 5; i++) {
      store.append(Publication.now("room:b", i, null));
    }
    HistoryStore.Page page = store.read("room:b", 2, 10).result();
    assertEquals(List.of(3L, 4L, 5L), page.publications().stream().map(Publication::offset).toList());
    assertTrue(page.covers(2, page.epoch()));
    assertTrue(page.covers(5, page.epoch()));
    assertFalse(page.covers(1, page.epoch()), "offset 2 was trimmed");
    assertFalse(page.covers(4, "another-epoch"));
    assertFalse(page.covers(9, page.epoch()), "a position from the future is not ours");
  }

  @Test
  void offsetZeroOfAnyEpochIsCoveredWhileNothingWasTrimmed() {
    for (int i = 1; i <= 3; i++) {
      store.append(Publication.now("room:e", i, null));
    }
    HistoryStore.Page page = store.read("room:e", 0, 10).result();
    assertTrue(page.covers(0, "an-epoch-reclaimed-since"), "a client that saw nothing missed all that is kept");
    store.append(Publication.now("room:e", 4, null));
    store.append(Publication.now("room:e", 5, null));
    store.append(Publication.now("room:e", 6, null));
    HistoryStore.Page trimmed = store.read("room:e", 0, 10).result();
    assertFalse(trimmed.covers(0, trimmed.epoch()), "offset 1 is gone: " + trimmed.oldestOffset());
  }

  /**
   * The newest read of a history answer stops at its byte budget: the newest that fit, oldest first, and the page
   * says older ones were left out.
   */
  @Test
  void theNewestReadStopsAtItsByteBudget() {
    NamespaceRules roomy = new NamespaceRules(SubscribePolicy.CLAIM, PublishPolicy.MEMBERS, true, 100,
        Duration.ofMinutes(1), 0, 0);
    MemoryHistoryStore big = new MemoryHistoryStore(ch -> roomy);
    String kb = "x".repeat(1000);
    for (int i = 1; i <= 20; i++) {
      big.append(Publication.now("room:big", kb, null));
    }
    long one = Publication.now("room:big", kb, null).toJson().encode().length();
    HistoryStore.Page fits = big.readNewest("room:big", 20, (one + 128) * 5 + one / 2).result();
    assertEquals(List.of(16L, 17L, 18L, 19L, 20L), fits.publications().stream().map(Publication::offset).toList());
    assertTrue(fits.leftOutOfNewest(20));
    HistoryStore.Page three = big.readNewest("room:big", 3, (one + 128) * 5 + one / 2).result();
    assertEquals(List.of(18L, 19L, 20L), three.publications().stream().map(Publication::offset).toList());
    assertFalse(three.leftOutOfNewest(3), "the three asked for are all there");
    assertEquals(20, big.readNewest("room:big", 20, Long.MAX_VALUE).result().publications().size());
  }

  @Test
  void channelsHaveIndependentStreams() {
    store.append(Publication.now("room:c", 1, null));
    assertEquals(1, store.append(Publication.now("room:d", 1, null)).result().offset());
    assertEquals(2, store.append(Publication.now("room:c", 2, null)).result().offset());
  }
}
