package dev.switchboard.metrics;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.ScheduledFuture;
import io.vertx.core.Vertx;
import io.vertx.core.internal.VertxInternal;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Measures event-loop lag the cheap way: every {@value #INTERVAL_MS} ms each Netty event loop of the node
 * runs a tiny task scheduled on itself, and how late it ran is how long the loop was busy with something
 * else. A handler that blocks the loop for {@value #INTERVAL_MS} ms or more shows up here within a second,
 * with the loop it blocked; a shorter stall shows when a probe falls due during it.
 *
 * <p>Why not every 100 ms: each probe wakes a loop that would otherwise sleep, and at ten per second on each of
 * the node's loops the probes were a third of an idle node's event-loop CPU (BENCHMARKS.md item 18).
 *
 * <p>Scheduled on the Netty executors directly rather than through verticle timers: Vert.x hands event
 * loops to contexts round-robin, so a set of verticles is not guaranteed to cover every loop.
 *
 * <p>Publishes {@code switchboard_event_loop_lag_seconds{loop}} (the worst lateness in the last window,
 * per loop) and feeds {@code switchboard_event_loop_delay_seconds} (every probe, all loops).
 */
final class EventLoopProbe {

  static final long INTERVAL_MS = 500;

  private final SwitchboardMetrics metrics;
  private final List<Loop> loops = new ArrayList<>();
  private volatile boolean running = true;

  private final class Loop {
    final EventExecutor executor;
    /** Worst lateness (ns) seen since the last window was closed. */
    final AtomicLong worst = new AtomicLong();
    /** Worst lateness (ns) of the last closed window: what the gauge shows. */
    volatile long lastWindow;
    volatile ScheduledFuture<?> next;

    Loop(EventExecutor executor) {
      this.executor = executor;
    }

    void arm() {
      if (!running) {
        return;
      }
      long due = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(INTERVAL_MS);
      next = executor.schedule(() -> {
        long late = System.nanoTime() - due;
        worst.accumulateAndGet(late, Math::max);
        metrics.eventLoopDelay(late);
        arm();
      }, INTERVAL_MS, TimeUnit.MILLISECONDS);
    }
  }

  EventLoopProbe(Vertx vertx, SwitchboardMetrics metrics) {
    this.metrics = metrics;
    MeterRegistry registry = metrics.registry();
    int i = 0;
    for (EventExecutor ex : ((VertxInternal) vertx).eventLoopGroup()) {
      Loop loop = new Loop(ex);
      loops.add(loop);
      Gauge.builder("switchboard.event.loop.lag", loop, l -> l.lastWindow / 1e9)
          .description("Worst lateness of the event loop's probe task in the last second")
          .tag("loop", Integer.toString(i++))
          .baseUnit("seconds")
          .register(registry);
    }
  }

  void start() {
    loops.forEach(Loop::arm);
  }

  /** Closes the current window; returns the worst lateness of any loop in it, in nanoseconds. */
  long closeWindow() {
    long worst = 0;
    for (Loop l : loops) {
      l.lastWindow = l.worst.getAndSet(0);
      worst = Math.max(worst, l.lastWindow);
    }
    return worst;
  }

  void stop() {
    running = false;
    for (Loop l : loops) {
      ScheduledFuture<?> f = l.next;
      if (f != null) {
        f.cancel(false);
      }
    }
  }
}
