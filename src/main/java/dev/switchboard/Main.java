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
    return new CommandLine(new Main()).setParameterExceptionHandler(Main::badArguments).execute(effective);
  }

  /**
   * A value picocli cannot take ({@code --size abc}, an unknown option): the reason and where to look, not the
   * whole usage, which would scroll the one line that matters out of sight.
   */
  private static int badArguments(CommandLine.ParameterException e, String[] args) {
    CommandLine cmd = e.getCommandLine();
    cmd.getErr().println("switchboard: " + e.getMessage());
    cmd.getErr().println("see `" + cmd.getCommandSpec().qualifiedName() + " --help` for every option");
    return cmd.getCommandSpec().exitCodeOnInvalidInput();
  }

  private static boolean isHelpOrVersion(String a) {
    return a.equals("-h") || a.equals("--help") || a.equals("-V") || a.equals("--version");
  }
}
