package dev.switchboard.bench;

import java.util.concurrent.CompletableFuture;

/**
 * A server the bench starts must not outlive it. The bench's shutdown hook stops its servers on a normal exit,
 * Ctrl-C or SIGTERM, but a bench killed with SIGKILL runs no hook, and its servers, re-parented to PID 1,
 * would run (and hold their ports and cores) forever. So the bench names itself to each server in a system
 * property only it sets, and the server watches that process and exits when it is gone.
 */
public final class BenchParent {

  /** The bench's PID, set on each server's command line; absent when a node is started any other way. */
  public static final String PROPERTY = "switchboard.bench.pid";

  private BenchParent() {}

  /** The JVM option that ties a server to this bench process. */
  static String jvmOption() {
    return "-D" + PROPERTY + "=" + ProcessHandle.current().pid();
  }

  /**
   * When started by the bench, exits this JVM (running its shutdown hooks, so a node still drains) once the
   * bench has gone; otherwise does nothing.
   */
  public static void exitWhenGone() {
    String pid = System.getProperty(PROPERTY);
    if (pid == null) {
      return;
    }
    long parent;
    try {
      parent = Long.parseLong(pid.trim());
    } catch (NumberFormatException e) {
      System.err.println("switchboard: ignoring -D" + PROPERTY + "=" + pid + ": not a process id");
      return;
    }
    // a bench that died before this line leaves no handle: exit at once
    ProcessHandle.of(parent).map(ProcessHandle::onExit).orElse(CompletableFuture.completedFuture(null))
        .thenRun(() -> {
          System.err.println("switchboard: the bench (pid " + parent + ") that started this server has exited; stopping");
          System.exit(0);
        });
  }
}
