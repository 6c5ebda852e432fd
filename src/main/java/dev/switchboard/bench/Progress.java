package dev.switchboard.bench;

import java.io.PrintStream;
import java.util.Locale;

/**
 * One status line per second on stderr while a run is going: what phase, how much was sent and
 * delivered, and where the CPU goes (node, the bench's busiest loop, the whole machine).
 */
final class Progress implements AutoCloseable {

  private final String prefix;
  private final LoadClient client;
  private final PrintStream out;
  private final Thread thread;
  private volatile NodeGroup nodes;
  private volatile String phase = "starting";
  private volatile long phaseStart = System.nanoTime();
  private volatile long phaseSeconds;
  private volatile long count;
  private volatile long countOf;
  private volatile boolean stop;

  Progress(String prefix, LoadClient client, PrintStream out, boolean enabled) {
    this.prefix = prefix;
    this.client = client;
    this.out = out;
    this.thread = new Thread(this::loop, "bench-progress");
    thread.setDaemon(true);
    if (enabled) {
      thread.start();
    }
  }

  void nodes(NodeGroup n) {
    this.nodes = n;
  }

  /** A new phase that lasts about {@code seconds} (0 = open-ended). */
  void phase(String name, long seconds) {
    phase = name;
    phaseSeconds = seconds;
    phaseStart = System.nanoTime();
    count = 0;
    countOf = 0;
  }

  /** For phases that count up to a target (connections). */
  void count(long done, long of) {
    count = done;
    countOf = of;
  }

  private void loop() {
    NodeGroup prevNodes = nodes;
    CpuSampler.Sample prev = CpuSampler.take(prevNodes);
    long prevDelivered = client.deliveredTotal.sum();
    while (!stop) {
      try {
        Thread.sleep(1000);
      } catch (InterruptedException e) {
        return;
      }
      if (stop) {
        return;
      }
      NodeGroup nowNodes = nodes;
      CpuSampler.Sample now = CpuSampler.take(nowNodes);
      CpuSampler.Usage u = CpuSampler.between(prev, now);
      long delivered = client.deliveredTotal.sum();
      long elapsed = (System.nanoTime() - phaseStart) / 1_000_000_000L;
      StringBuilder b = new StringBuilder(prefix).append(" | ").append(phase).append(' ').append(elapsed).append('s');
      if (phaseSeconds > 0) {
        b.append('/').append(phaseSeconds).append('s');
      }
      if (countOf > 0) {
        b.append(String.format(Locale.ROOT, " | %,d/%,d", count, countOf));
      }
      String node = nodeCores(u, nowNodes == prevNodes);
      b.append(String.format(Locale.ROOT, " | delivered %,.0f/s | in flight %,d | node %s cores | bench loop %.0f%%"
              + " | machine %.2f/%d cores | errors %d",
          (delivered - prevDelivered) / u.seconds(), client.outstanding(), node, u.benchBusiestLoop() * 100,
          u.machineCores(), CpuSampler.cores(), client.errors.sum() + client.unexpectedCloses.sum()));
      out.println(b);
      prev = now;
      prevNodes = nowNodes;
      prevDelivered = delivered;
    }
  }

  /**
   * The node CPU of one interval, or "-" when there is no honest figure. An interval whose first sample was taken
   * before the servers were known counted all of their start-up CPU (JIT, class loading, cluster join) as one
   * second of it ("node 22.02 cores" on 2 cores); and a node that exited between two samples (the group
   * stopping) reads as 0 CPU, which gives a negative one.
   */
  static String nodeCores(CpuSampler.Usage u, boolean sameNodes) {
    return !sameNodes || u.nodeCores() < 0 ? "-" : String.format(Locale.ROOT, "%.2f", u.nodeCores());
  }

  @Override
  public void close() {
    stop = true;
    thread.interrupt();
  }
}
