package dev.switchboard.bench;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** The load generator (SPEC §9). */
@Command(name = "bench", description = "Load generator: connect, fanout, direct and cluster scenarios.")
public final class BenchCommand implements Callable<Integer> {
  @Override
  public Integer call() {
    System.err.println("switchboard bench: not built yet");
    return 2;
  }
}
