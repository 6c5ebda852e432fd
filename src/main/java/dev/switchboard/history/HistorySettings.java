package dev.switchboard.history;

import com.hazelcast.config.Config;
import com.hazelcast.config.MapConfig;
import com.hazelcast.config.RingbufferConfig;
import dev.switchboard.config.SwitchboardConfig;

/** Hazelcast structures for history, one ringbuffer config per namespace that keeps history. */
public final class HistorySettings {

  private HistorySettings() {}

  public static void apply(Config hz, SwitchboardConfig.Channels channels) {
    channels.namespaces().forEach((ns, rules) -> {
      if (rules.keepsHistory()) {
        hz.addRingBufferConfig(new RingbufferConfig(HazelcastHistoryStore.RING_PREFIX + ns + ":*")
            .setCapacity(rules.historySize())
            .setBackupCount(1)
            .setAsyncBackupCount(0)
            .setTimeToLiveSeconds((int) Math.min(Integer.MAX_VALUE, rules.historyTtl().toSeconds())));
      }
    });
    hz.addMapConfig(new MapConfig(HazelcastHistoryStore.EPOCHS).setBackupCount(1));
  }
}
