package dev.switchboard.bench;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.lang.management.ThreadMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * Where the CPU went during a phase: the node processes (from /proc), the bench process and its
 * busiest event-loop thread (ThreadMXBean), and the whole machine (/proc/stat), so a figure can say
 * whether the load generator or other work on the machine bounded it.
 */
final class CpuSampler {

  /** The load generator is "the limit" when its busiest loop uses more than this share of its core. */
  static final double LG_BOUND = 0.85;

  /** A phase whose machine lost more than this many cores to the hypervisor says so beside its figures. */
  static final double STEAL_NOTED = 0.05;

  private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();
  private static final int CORES = Runtime.getRuntime().availableProcessors();

  record Sample(long wallNanos, long nodeCpuNanos, long nodeSysNanos, long[] nodeByKind, long benchCpuNanos, Map<Long, Long> loopCpu,
                long machineBusy, long machineTotal, long machineSteal) {}

  /**
   * @param nodeCores node CPU time / wall time (1.0 = one core busy)
   * @param benchCores the bench process's CPU time / wall time
   * @param benchBusiestLoop the busiest bench event loop's share of one core
   * @param machineCores all CPU on the machine (every process, and time the hypervisor took) / wall time
   * @param nodeSecondsByKind node CPU seconds in event loops, JIT compiler threads, GC threads, other threads
   * @param stealCores time the hypervisor gave this machine's CPUs to someone else / wall time
   */
  record Usage(double seconds, double nodeCpuSeconds, double nodeCores, double benchCores, double benchBusiestLoop,
               double machineCores, double[] nodeSecondsByKind, double nodeSysSeconds, double stealCores) {
    boolean loadGeneratorBound() {
      return benchBusiestLoop > LG_BOUND;
    }

    boolean lostCoresToHost() {
      return stealCores > STEAL_NOTED;
    }

    /** Cores used by everything that is neither the node, the bench nor the hypervisor (other processes here). */
    double otherCores() {
      return Math.max(0, machineCores - nodeCores - benchCores - stealCores);
    }
  }

  private CpuSampler() {}

  static int cores() {
    return CORES;
  }

  static Sample take(NodeGroup nodes) {
    long[] m = machine();
    Map<Long, Long> loops = new HashMap<>();
    for (ThreadInfo t : THREADS.dumpAllThreads(false, false)) {
      if (t.getThreadName().startsWith("vert.x-eventloop-thread")) {
        long cpu = THREADS.getThreadCpuTime(t.getThreadId());
        if (cpu >= 0) {
          loops.put(t.getThreadId(), cpu);
        }
      }
    }
    long bench = ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os
        ? os.getProcessCpuTime() : 0;
    return new Sample(System.nanoTime(), nodes == null ? 0 : nodes.cpuNanos(), nodes == null ? 0 : nodes.nodeSysNanos(),
        nodes == null ? new long[5] : nodes.cpuNanosByKind(), bench, loops, m[0], m[1], m[2]);
  }

  static Usage between(Sample a, Sample b) {
    double wall = Math.max(1, b.wallNanos() - a.wallNanos());
    double busiest = 0;
    for (Map.Entry<Long, Long> e : b.loopCpu().entrySet()) {
      Long before = a.loopCpu().get(e.getKey());
      if (before != null) {
        busiest = Math.max(busiest, (e.getValue() - before) / wall);
      }
    }
    double machineTotal = b.machineTotal() - a.machineTotal();
    double machine = machineTotal <= 0 ? 0 : (b.machineBusy() - a.machineBusy()) / machineTotal * CORES;
    double steal = machineTotal <= 0 ? 0 : (b.machineSteal() - a.machineSteal()) / machineTotal * CORES;
    double node = b.nodeCpuNanos() - a.nodeCpuNanos();
    double[] kinds = new double[5];
    for (int i = 0; i < kinds.length; i++) {
      kinds[i] = Math.max(0, b.nodeByKind()[i] - a.nodeByKind()[i]) / 1e9;
    }
    return new Usage(wall / 1e9, node / 1e9, node / wall, (b.benchCpuNanos() - a.benchCpuNanos()) / wall, busiest,
        machine, kinds, (b.nodeSysNanos() - a.nodeSysNanos()) / 1e9, steal);
  }

  /**
   * {busy, total, steal} jiffies from the first line of /proc/stat, or zeros. Busy includes steal: on a virtual
   * machine the hypervisor's neighbours take cores away, and a phase that lost them must say so.
   */
  private static long[] machine() {
    try {
      String first = Files.readAllLines(Path.of("/proc/stat")).get(0);
      String[] f = first.trim().split("\\s+");
      long total = 0;
      for (int i = 1; i < f.length && i <= 8; i++) {
        total += Long.parseLong(f[i]);
      }
      long idle = Long.parseLong(f[4]) + Long.parseLong(f[5]);
      long steal = f.length > 8 ? Long.parseLong(f[8]) : 0;
      return new long[] {total - idle, total, steal};
    } catch (IOException | RuntimeException e) {
      return new long[] {0, 0, 0};
    }
  }

  /** The 1-minute load average, or -1. */
  static double loadAverage() {
    return ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
  }
}
