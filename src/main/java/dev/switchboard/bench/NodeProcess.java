package dev.switchboard.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * One server under test, running as its own JVM started from the same jar (or classpath) as the bench,
 * so its CPU time, RSS and heap are measured from outside and never mix with the load generator's.
 * Output goes to a log file in the run's work directory; the process is ready when it prints its ready
 * line there.
 */
final class NodeProcess implements AutoCloseable {

  private final String label;
  private final Process process;
  private final Path log;
  private final int port;

  private NodeProcess(String label, Process process, Path log, int port) {
    this.label = label;
    this.process = process;
    this.log = log;
    this.port = port;
  }

  /**
   * @param launcher what the command starts with before {@code java} ({@code nice -n N}, or nothing); it must
   *     exec java in its own process, so the PID measured is the JVM's
   * @param mainClass {@code dev.switchboard.Main} or {@link BareServer}
   * @param readyMarker a line prefix the process prints once it accepts connections
   */
  static NodeProcess start(String label, List<String> launcher, List<String> jvmOptions, String mainClass, List<String> args,
                           Map<String, String> env, Path workDir, int port, String readyMarker, Duration timeout)
      throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>(launcher);
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.addAll(jvmOptions);
    cmd.add(BenchParent.jvmOption());
    cmd.add("-cp");
    cmd.add(absoluteClassPath());
    cmd.add(mainClass);
    cmd.addAll(args);
    Path log = workDir.resolve(label + ".log");
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(workDir.toFile())
        .redirectErrorStream(true).redirectOutput(log.toFile());
    // The node must see only what the bench sets, never the caller's SWITCHBOARD_* settings.
    pb.environment().keySet().removeIf(k -> k.startsWith("SWITCHBOARD_"));
    pb.environment().putAll(env);
    NodeProcess n = new NodeProcess(label, pb.start(), log, port);
    Children.add(n.process);
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      if (!n.process.isAlive()) {
        throw new IOException(label + " exited with " + n.process.exitValue() + " before it was ready; log "
            + log + ":\n" + n.tail(30));
      }
      if (n.logText().contains(readyMarker)) {
        return n;
      }
      Thread.sleep(50);
    }
    n.close();
    throw new IOException(label + " was not ready within " + timeout.toSeconds() + " s; log " + log + ":\n" + n.tail(30));
  }

  /** The bench's own class path with absolute entries: the node runs in the work directory. */
  static String absoluteClassPath() {
    List<String> parts = new ArrayList<>();
    for (String e : System.getProperty("java.class.path").split(java.io.File.pathSeparator)) {
      if (!e.isEmpty()) {
        parts.add(Path.of(e).toAbsolutePath().toString());
      }
    }
    return String.join(java.io.File.pathSeparator, parts);
  }

  String label() {
    return label;
  }

  int port() {
    return port;
  }

  long pid() {
    return process.pid();
  }

  boolean alive() {
    return process.isAlive();
  }

  /**
   * The fields of a {@code /proc/.../stat} line after the command name, which may itself hold spaces and
   * parentheses: index 0 is field 3 (state), 11 and 12 are utime and stime, 16 is the niceness.
   */
  static String[] statFields(String stat) {
    return stat.substring(stat.lastIndexOf(')') + 2).split(" ");
  }

  /** User + system CPU time of the whole process (all threads: event loops, JIT, GC), in nanoseconds. */
  long cpuNanos() {
    try {
      String stat = Files.readString(Path.of("/proc", Long.toString(pid()), "stat"));
      String[] f = statFields(stat);
      // fields 14 and 15 of /proc/<pid>/stat (utime, stime), counted after the command name
      long ticks = Long.parseLong(f[11]) + Long.parseLong(f[12]);
      return ticks * (1_000_000_000L / ClockTicks.PER_SECOND);
    } catch (IOException | RuntimeException e) {
      return process.info().totalCpuDuration().map(Duration::toNanos).orElse(0L);
    }
  }

  /** CPU time by kind of thread: event loops, JIT compilers, GC (+ VM thread), everything else, Hazelcast. */
  static final int LOOPS = 0;
  static final int JIT = 1;
  static final int GC = 2;
  static final int OTHER = 3;
  static final int HAZELCAST = 4;

  /**
   * Nanoseconds of CPU per thread kind, from /proc/<pid>/task/&#42;/stat, for the threads alive now (a
   * compiler thread that exited takes its time with it: the remainder shows in {@link #cpuNanos()}).
   */
  long[] cpuNanosByKind() {
    long[] out = new long[5];
    Path tasks = Path.of("/proc", Long.toString(pid()), "task");
    try (var dirs = Files.list(tasks)) {
      for (Path t : (Iterable<Path>) dirs::iterator) {
        try {
          String stat = Files.readString(t.resolve("stat"));
          String comm = stat.substring(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
          String[] f = statFields(stat);
          long ns = (Long.parseLong(f[11]) + Long.parseLong(f[12])) * (1_000_000_000L / ClockTicks.PER_SECOND);
          out[kind(comm)] += ns;
        } catch (IOException | RuntimeException e) {
          // the thread ended while we read
        }
      }
    } catch (IOException | RuntimeException e) {
      return out;
    }
    return out;
  }

  private static int kind(String comm) {
    if (comm.startsWith("vert.x-eventloo")) {
      return LOOPS;
    }
    if (comm.contains("CompilerThre")) {
      return JIT;
    }
    if (comm.startsWith("GC Thread") || comm.startsWith("G1 ") || comm.equals("VM Thread")) {
      return GC;
    }
    if (comm.startsWith("hz.")) {
      return HAZELCAST;
    }
    return OTHER;
  }

  /** {user, system} CPU nanoseconds of the whole process (system = kernel work: syscalls, loopback TCP). */
  long[] cpuUserSysNanos() {
    try {
      String stat = Files.readString(Path.of("/proc", Long.toString(pid()), "stat"));
      String[] f = statFields(stat);
      long tick = 1_000_000_000L / ClockTicks.PER_SECOND;
      return new long[] {Long.parseLong(f[11]) * tick, Long.parseLong(f[12]) * tick};
    } catch (IOException | RuntimeException e) {
      return new long[2];
    }
  }

  /** Resident set size in bytes (VmRSS), or -1 when /proc is not readable. */
  long rssBytes() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid()), "status"))) {
        if (line.startsWith("VmRSS:")) {
          return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
        }
      }
    } catch (IOException | RuntimeException e) {
      // not Linux: no RSS figure
    }
    return -1;
  }

  /**
   * Forces a full GC and returns the live heap by class ({@code jcmd GC.class_histogram}), with the
   * total under the key {@code "*total"}; empty when jcmd is not available.
   */
  Map<String, Long> liveHeapByClass() {
    Map<String, Long> out = new LinkedHashMap<>();
    Path jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd");
    try {
      Process p = new ProcessBuilder(Files.isExecutable(jcmd) ? jcmd.toString() : "jcmd", Long.toString(pid()),
          "GC.class_histogram").redirectErrorStream(true).start();
      String text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!p.waitFor(60, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        return out;
      }
      for (String line : text.split("\n")) {
        String[] f = line.trim().split("\\s+");
        if (f.length >= 4 && f[0].endsWith(":")) {
          out.put(f[3], Long.parseLong(f[2]));
        } else if (f.length == 3 && f[0].equals("Total")) {
          out.put("*total", Long.parseLong(f[2]));
        }
      }
    } catch (IOException | RuntimeException e) {
      return out;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return out;
  }

  String logText() {
    try {
      return Files.readString(log, StandardCharsets.UTF_8);
    } catch (IOException | RuntimeException e) {
      return "";
    }
  }

  String tail(int lines) {
    String[] all = logText().split("\n");
    StringBuilder b = new StringBuilder();
    for (int i = Math.max(0, all.length - lines); i < all.length; i++) {
      b.append("  | ").append(all[i]).append('\n');
    }
    return b.toString();
  }

  /** SIGTERM (a Switchboard node drains, with the bench's 1 s drain period), then SIGKILL after 15 s. */
  @Override
  public void close() {
    if (process.isAlive()) {
      process.destroy();
      try {
        if (!process.waitFor(15, TimeUnit.SECONDS)) {
          process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
        }
      } catch (InterruptedException e) {
        process.destroyForcibly();
        Thread.currentThread().interrupt();
      }
    }
    Children.remove(process);
  }

  /** Kills every node still running if the bench itself is stopped (Ctrl-C) or fails. */
  static final class Children {
    private static final List<Process> LIVE = new ArrayList<>();
    private static volatile boolean finished;

    static {
      Runtime.getRuntime().addShutdownHook(new Thread(() -> {
        int stopped;
        synchronized (LIVE) {
          stopped = LIVE.size();
          LIVE.forEach(Process::destroyForcibly);
        }
        // SIGINT/SIGTERM: without a word the bench would just be gone, exit code 130 or 143
        if (!finished) {
          System.err.println("bench: interrupted before it finished; stopped the " + stopped + " server process"
              + (stopped == 1 ? "" : "es") + " it had started");
        }
      }, "bench-children"));
    }

    /** Installs the hook now, so an interruption before the first server starts is reported too. */
    static void watch() {
      // loading the class registers the hook
    }

    /** The bench is returning normally: a shutdown from here on is no interruption. */
    static void finished() {
      finished = true;
    }

    static void add(Process p) {
      synchronized (LIVE) {
        LIVE.add(p);
      }
    }

    static void remove(Process p) {
      synchronized (LIVE) {
        LIVE.remove(p);
      }
    }
  }

  /** USER_HZ: 100 on every Linux the bench targets; read once from getconf when available. */
  static final class ClockTicks {
    static final long PER_SECOND = read();

    private static long read() {
      try {
        Process p = new ProcessBuilder("getconf", "CLK_TCK").redirectErrorStream(true).start();
        String s = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        p.waitFor(5, TimeUnit.SECONDS);
        long v = Long.parseLong(s);
        return v > 0 ? v : 100;
      } catch (IOException | RuntimeException e) {
        return 100;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return 100;
      }
    }
  }
}
