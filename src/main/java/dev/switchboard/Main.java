package dev.switchboard;

import dev.switchboard.bench.BenchCommand;
import dev.switchboard.cli.PublishCommand;
import dev.switchboard.cli.RunCommand;
import dev.switchboard.cli.TokenCommand;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code switchboard [run|token|publish|bench] …}; {@code run} is the default. */
@Command(name = "switchboard", mixinStandardHelpOptions = true, version = "switchboard 0.1.0",
    description = "Clustered WebSocket push gateway.",
    subcommands = {RunCommand.class, TokenCommand.class, PublishCommand.class, BenchCommand.class})
public final class Main {

  public static void main(String[] args) {
    System.exit(execute(args));
  }

  /** Runs a command line; {@code run} blocks until the node stops. */
  public static int execute(String... args) {
    String[] effective = args;
    if (args.length == 0 || (args[0].startsWith("-") && !isHelpOrVersion(args[0]))) {
      effective = new String[args.length + 1];
      effective[0] = "run";
      System.arraycopy(args, 0, effective, 1, args.length);
    }
    return new CommandLine(new Main()).execute(effective);
  }

  private static boolean isHelpOrVersion(String a) {
    return a.equals("-h") || a.equals("--help") || a.equals("-V") || a.equals("--version");
  }
}
