package dev.switchboard.bench;

import dev.switchboard.cli.Durations;
import dev.switchboard.config.SwitchboardConfig;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.Callable;
import org.HdrHistogram.Histogram;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;

/**
 * The load generator (SPEC §9): starts the server(s) under test as separate JVMs from this jar, drives
 * them with real WebSocket connections from this JVM, and prints one table per scenario with the bare
 * Vert.x baseline beside every figure. Progress goes to stderr once a second; the table to stdout (or
 * stderr with {@code --json}, which puts the JSON on stdout).
 */
@Command(name = "bench", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Load generator: connect, fanout, direct, cluster and deflate scenarios, each against "
        + "Switchboard and a bare Vert.x WebSocket server started from this jar.",
        "Exit code: 0 when every run completed with every message delivered, 1 otherwise, 2 for bad options."})
public final class BenchCommand implements Callable<Integer> {

  @Spec
  CommandSpec spec;

  @Option(names = {"-s", "--scenario", "--scenarios"}, split = ",", defaultValue = "fanout",
      description = "connect, fanout, direct, cluster, deflate, or all (comma-separated; default: ${DEFAULT-VALUE}).")
  List<String> scenarios;

  @Option(names = "--target", defaultValue = "both", description = "switchboard, bare or both (default: ${DEFAULT-VALUE}).")
  String target;

  @Option(names = "--runs", defaultValue = "1", description = "Runs per variant; figures are medians (default: ${DEFAULT-VALUE}).")
  int runs;

  @Option(names = {"-n", "--connections"}, defaultValue = "15000",
      description = "connect: connections to ramp (default: ${DEFAULT-VALUE}; ulimit -n caps it).")
  int connections;

  @Option(names = "--steps", defaultValue = "5", description = "connect: memory measurements along the ramp (default: ${DEFAULT-VALUE}).")
  int steps;

  @Option(names = "--connect-clustered", description = "connect: also run a clustered (cluster of one) Switchboard node.")
  boolean connectClustered;

  @Option(names = "--subscribers", defaultValue = "1000", description = "fanout/cluster/deflate: subscribers (default: ${DEFAULT-VALUE}).")
  int subscribers;

  @Option(names = "--rate", defaultValue = "20", description = "fanout: messages/s in the steady phase (default: ${DEFAULT-VALUE}).")
  double rate;

  @Option(names = "--sessions", defaultValue = "1000", description = "direct: sessions (default: ${DEFAULT-VALUE}).")
  int sessions;

  @Option(names = "--direct-rate", defaultValue = "1000", description = "direct: sends/s in the steady phase (default: ${DEFAULT-VALUE}).")
  double directRate;

  @Option(names = "--cluster-nodes", defaultValue = "3", description = "cluster: nodes (default: ${DEFAULT-VALUE}).")
  int clusterNodes;

  @Option(names = "--cluster-modes", split = ",", defaultValue = "fanout,direct",
      description = "cluster: fanout and/or direct (default: ${DEFAULT-VALUE}).")
  List<String> clusterModes;

  @Option(names = "--cluster-rate", defaultValue = "20", description = "cluster fanout: messages/s (default: ${DEFAULT-VALUE}).")
  double clusterRate;

  @Option(names = "--cluster-direct-rate", defaultValue = "1000", description = "cluster direct: sends/s (default: ${DEFAULT-VALUE}).")
  double clusterDirectRate;

  @Option(names = "--deflate-connections", defaultValue = "2000", description = "deflate: subscribers (default: ${DEFAULT-VALUE}).")
  int deflateConnections;

  @Option(names = "--duration", defaultValue = "10s", description = "Steady phase length (default: ${DEFAULT-VALUE}).")
  String duration;

  @Option(names = "--warmup", defaultValue = "3s", description = "Closed-loop warm-up, not counted (default: ${DEFAULT-VALUE}).")
  String warmup;

  @Option(names = "--saturation", defaultValue = "5s", description = "Closed-loop saturation phase, 0 to skip (default: ${DEFAULT-VALUE}).")
  String saturation;

  @Option(names = "--window", defaultValue = "0",
      description = "Messages in flight in closed-loop phases (default: 8 for fanout, 128 for direct).")
  int window;

  @Option(names = "--size", defaultValue = "100", description = "Approximate message payload bytes (default: ${DEFAULT-VALUE}).")
  int size;

  @Option(names = "--publisher", defaultValue = "ws", description = "fanout publisher: ws (client broadcast), http "
      + "(POST /api/publish) or bus (the bench joins the servers' cluster and publishes on the event bus; the servers, "
      + "bare ones too, then run clustered) (default: ${DEFAULT-VALUE}).")
  String publisher;

  @Option(names = "--bare-variants", split = ",",
      description = "Extra bare columns measuring hot-path techniques: frame (UTF-8 encoded once per message), "
          + "raw (whole WebSocket frame built once, written below the encoder), epoll (native transport), "
          + "raw-epoll, coalesce-epoll (raw frames, one flush per socket per loop pass), "
          + "io_uring (plain writes on the io_uring transport). Default: none.")
  List<String> bareVariants = new ArrayList<>();

  @Option(names = "--client-loops", defaultValue = "-1",
      description = "Receiver event loops of the load generator. -1: one per core against a cluster (several servers "
          + "started together), one against a single server (default: ${DEFAULT-VALUE}).")
  int clientLoops;

  @Option(names = "--source-ips", defaultValue = "16",
      description = "Spread client sockets over 127.0.0.2 … 127.0.0.(1+n); 0 = default address (default: ${DEFAULT-VALUE}).")
  int sourceIps;

  @Option(names = "--concurrency", defaultValue = "200", description = "Handshakes in flight while connecting (default: ${DEFAULT-VALUE}).")
  int concurrency;

  @Option(names = "--instances", defaultValue = "0",
      description = "Gateway instances of each Switchboard node (server.instances; 0 = one per core) and verticle "
          + "instances of the bare server (0 = Vert.x's default, 2 × cores) (default: ${DEFAULT-VALUE}).")
  int instances;

  @Option(names = "--event-loops", defaultValue = "0",
      description = "Event-loop pool of each Switchboard node (server.event_loops; 0 = the node's default); bare keeps "
          + "Vert.x's default (default: ${DEFAULT-VALUE}).")
  int eventLoops;

  @Option(names = "--node-jvm-opts", defaultValue = "-Xmx2g -XX:+UseG1GC",
      description = "JVM options of every server process (default: ${DEFAULT-VALUE}).")
  String nodeJvmOpts;

  @Option(names = "--node-cpus", defaultValue = "-1",
      description = "CPUs each server JVM is told it has (-XX:ActiveProcessorCount). -1: several servers started "
          + "together (cluster, bare's servers beside it) get cores / servers each, at least 1, as a container CPU "
          + "limit would size them; one server keeps the JVM's own count. 0: always the JVM's own count "
          + "(default: ${DEFAULT-VALUE}).")
  int nodeCpus;

  @Option(names = "--node-nice", defaultValue = "0",
      description = "Run every server process that much nicer than the bench (nice -n, 0-19), so the load generator, "
          + "which stands for clients on other machines, gets the cores first (default: ${DEFAULT-VALUE}).")
  int nodeNice;

  @Option(names = "--port-base", defaultValue = "0",
      description = "Take every server, cluster and bare port from this one up (at most 16 per run: N to N+15), "
          + "so the bench can run beside other services; 0 = ports the OS hands out (default: ${DEFAULT-VALUE}).")
  int portBase;

  @Option(names = "--no-memory", description = "Skip heap/RSS measurements (they force full GCs in the node).")
  boolean noMemory;

  @Option(names = "--transport", defaultValue = "auto",
      description = "server.transport of the Switchboard nodes: auto, io_uring, epoll or nio (default: ${DEFAULT-VALUE}).")
  String transport;

  // epoll by default: on loopback the sending node pays for waking its receivers, and with io_uring receivers
  // the node's kernel time per delivery measured higher than with epoll ones (BENCHMARKS.md, item 12)
  @Option(names = "--client-transport", defaultValue = "epoll",
      description = "Transport of the load generator's own event loops, chosen like server.transport: auto, "
          + "io_uring, epoll or nio (default: ${DEFAULT-VALUE}).")
  String clientTransport;

  @Option(names = "--client-uring", defaultValue = "tuned",
      description = "With --client-transport io_uring: tuned (multishot receives on provided buffers, deferred task "
          + "work: a receipt costs the load generator less) or plain (Vert.x's own io_uring set-up) "
          + "(default: ${DEFAULT-VALUE}).")
  String clientUring;

  @Option(names = "--profile", description = "Record every server process with JFR into the work dir (for `jfr print`).")
  boolean profile;

  @Option(names = "--json", description = "Print the results as JSON on stdout (the table goes to stderr).")
  boolean json;

  @Option(names = "--json-file", description = "Also write the JSON results to this file.")
  Path jsonFile;

  @Option(names = "--plots", description = "Write PNG plots (latency percentiles, memory per connection) into this directory.")
  Path plots;

  @Option(names = "--work-dir", description = "Where node configs and logs go (default: a new temp directory).")
  Path workDir;

  @Option(names = {"-q", "--quiet"}, description = "No progress lines.")
  boolean quiet;

  /** Scenario names, in the order {@code all} runs them. */
  static final List<String> SCENARIOS = List.of("connect", "fanout", "direct", "cluster", "deflate");

  /** {@code --bare-variants}: each name and the arguments it gives the bare server. */
  static final Map<String, List<String>> BARE_VARIANTS = new LinkedHashMap<>();

  static {
    BARE_VARIANTS.put("frame", List.of("--write", "frame"));
    BARE_VARIANTS.put("raw", List.of("--write", "raw"));
    BARE_VARIANTS.put("epoll", List.of("--native"));
    BARE_VARIANTS.put("raw-epoll", List.of("--write", "raw", "--native"));
    BARE_VARIANTS.put("coalesce-epoll", List.of("--write", "coalesce", "--native"));
    BARE_VARIANTS.put("io_uring", List.of("--io-uring"));
  }

  /**
   * Descriptors each process needs besides its connections: the JVM's jars and libraries, every event loop's
   * epoll and wake-up descriptors, log files, Hazelcast's sockets. Each connection takes one descriptor in the
   * bench and one in the node it reaches, and the nodes inherit the bench's limit, so one rule covers both.
   */
  static final int FD_RESERVE = 500;

  /** Below this many connections a capped connect run's per-connection figures are mostly start-up noise. */
  static final int MIN_CAPPED_CONNECTIONS = 1_000;

  // The issue states its targets at the default load; a verdict at another load would compare nothing.
  static final int TARGET_CONNECTIONS = 15_000;
  static final int TARGET_SUBSCRIBERS = 1_000;
  static final double TARGET_RATE = 20;
  static final int TARGET_CLUSTER_NODES = 3;

  // set by validate(): the scenarios in run order and the phases
  List<String> wanted = List.of();
  Duration dur;
  Duration warm;
  Duration sat;

  @Override
  public Integer call() throws Exception {
    NodeProcess.Children.watch();
    try {
      return bench();
    } finally {
      NodeProcess.Children.finished();
    }
  }

  private int bench() throws Exception {
    BenchLogging.consoleToStderr();
    PrintStream err = System.err;
    PrintStream tableOut = json ? System.err : System.out;
    long fdLimit = Machine.openFilesLimit();
    String capped;
    Path dir;
    try {
      capped = validate(fdLimit);
      dir = workDir != null ? Files.createDirectories(workDir) : Files.createTempDirectory("switchboard-bench-");
    } catch (ParameterException e) {
      return refuse(e.getMessage());
    } catch (IOException e) {
      return refuse("--work-dir: cannot create " + workDir + ": " + e);
    }
    if (capped != null) {
      err.println(capped);
    }
    BenchSettings s = new BenchSettings("bench-secret-" + UUID.randomUUID(), "bench-key-" + UUID.randomUUID(),
        Arrays.stream(nodeJvmOpts.trim().split("\\s+")).filter(x -> !x.isEmpty()).toList(), instances,
        clientLoops < 1 ? BenchSettings.AUTO_LOOPS : clientLoops, sourceIps, concurrency, dir, !quiet, !noMemory,
        profile, transport, SwitchboardConfig.Transport.valueOf(clientTransport.toUpperCase(Locale.ROOT)),
        clientUring.equals("tuned"), nodeCpus, nodeNice, eventLoops, portBase);

    String clientUringApplied = LoadTransport.uringSetup(LoadTransport.choose(s.clientTransport(), s.clientUringTuned()));
    JsonObject machineStart = Machine.describe();
    err.println("bench: work dir " + dir + "; machine " + machineStart.getInteger("cores") + " cores, load average "
        + machineStart.getValue("load_average_1m") + "; switchboard transport " + transport
        + ", load generator transport " + clientTransport
        + (clientUringApplied != null ? " (" + clientUringApplied + ")" : ""));
    List<ScenarioReport> reports = new ArrayList<>();
    Instant started = Instant.now();
    for (String name : wanted) {
      if (name.equals("connect")) {
        ConnectScenario c = new ConnectScenario(s, connections, steps);
        List<Variant> vs = new ArrayList<>();
        if (!target.equals("bare")) {
          vs.add(new Variant("switchboard", new NodeGroup.Spec(Target.SWITCHBOARD, 1, false, "on"), LoadClient.Compression.OFF));
          if (connectClustered) {
            vs.add(new Variant("switchboard-clustered", new NodeGroup.Spec(Target.SWITCHBOARD, 1, true, "on"),
                LoadClient.Compression.OFF));
          }
        }
        if (!target.equals("switchboard")) {
          vs.add(new Variant(Variant.BASELINE, new NodeGroup.Spec(Target.BARE, 1, false, "default"), LoadClient.Compression.OFF));
        }
        ScenarioReport r = new ScenarioReport("connect", c.describe() + "; open-file limit " + fdLimit
            + " caps N at " + String.format(Locale.ROOT, "%,d", Math.max(0, fdLimit - FD_RESERVE)) + " here", vs)
            .target("heap_kib_per_conn", "plus_max", 2, "heap per idle authenticated connection ≤ bare + 2 KiB")
            .target("node_cpu_ms_per_connect", "ratio_max", 1.5, "node CPU per authenticated connect ≤ 1.5 × bare");
        if (connections != TARGET_CONNECTIONS) {
          r.offTargetLoad(String.format(Locale.ROOT, "%,d connections; the targets are at %,d", connections,
              TARGET_CONNECTIONS));
        }
        runAll(r, (v, run, prefix) -> c.run(v, run, prefix, err), err);
        reports.add(r);
      } else if (name.equals("fanout") || name.equals("direct")) {
        boolean fan = name.equals("fanout");
        DeliveryScenario d = new DeliveryScenario(s, new DeliveryScenario.Params(name,
            fan ? DeliveryScenario.Mode.FANOUT : DeliveryScenario.Mode.DIRECT, fan ? subscribers : sessions,
            fan ? rate : directRate, warm.toMillis(), sat.toMillis(), dur.toMillis(), window > 0 ? window : fan ? 8 : 128,
            size, DeliveryScenario.Publish.of(publisher), false, false));
        ScenarioReport r = new ScenarioReport(name, d.describe(1), plainVariants(1, d.params().busPublisher()));
        if (fan) {
          r.target("node_cpu_s_per_m", "ratio_max", 0.75, "node CPU per delivery ≤ 0.75 × bare (steady phase)")
              .target("p99_ms", "ratio_max", 1.0, "p99 publish→receive ≤ bare's p99 (steady phase)")
              .target("sat_deliveries_per_s", "ratio_min", 1.0, "deliveries/s at saturation ≥ bare's");
          if (subscribers != TARGET_SUBSCRIBERS || rate != TARGET_RATE) {
            r.offTargetLoad(String.format(Locale.ROOT, "%,d subscribers × %s msg/s; the targets are at %,d × %s",
                subscribers, num(rate), TARGET_SUBSCRIBERS, num(TARGET_RATE)));
          }
        }
        runAll(r, (v, run, prefix) -> d.run(v, run, prefix, err), err);
        reports.add(r);
      } else if (name.equals("cluster")) {
        for (String mode : clusterModes) {
          boolean fan = mode.trim().equals("fanout");
          DeliveryScenario d = new DeliveryScenario(s, new DeliveryScenario.Params("cluster-" + mode.trim(),
              fan ? DeliveryScenario.Mode.FANOUT : DeliveryScenario.Mode.DIRECT, fan ? subscribers : sessions,
              fan ? clusterRate : clusterDirectRate, warm.toMillis(), sat.toMillis(), dur.toMillis(),
              window > 0 ? window : fan ? 8 : 128, size, DeliveryScenario.Publish.of(publisher), false, false));
          // fanout: one publisher connection on node 1 (or on the event bus); direct: each send leaves from a random
          // session on any node
          boolean bus = d.params().busPublisher();
          ScenarioReport r = new ScenarioReport("cluster-" + mode.trim(), d.describe(clusterNodes)
              + (!fan ? "; each send from a random session to another, on any node" : bus ? "" : "; publisher on node 1")
              + "; bare = " + clusterNodes + (bus ? " bare servers in one Vert.x cluster, the event bus routes"
                  : " unconnected bare servers, the bench routes"),
              plainVariants(clusterNodes, bus));
          if (fan) {
            r.target("p99_ms", "abs_max", 10, "p99 publish→receive ≤ 10 ms across " + TARGET_CLUSTER_NODES
                + " nodes (at 20,000 deliveries/s: 1,000 subscribers × 20 msg/s)");
            if (subscribers != TARGET_SUBSCRIBERS || clusterRate != TARGET_RATE || clusterNodes != TARGET_CLUSTER_NODES) {
              r.offTargetLoad(String.format(Locale.ROOT, "%,d subscribers × %s msg/s on %d nodes; the target is at "
                  + "%,d × %s on %d", subscribers, num(clusterRate), clusterNodes, TARGET_SUBSCRIBERS, num(TARGET_RATE),
                  TARGET_CLUSTER_NODES));
            } else if (bus) {
              // The target's publisher sits on one node, so two thirds of the deliveries cross a node; on the bus
              // every node is one hop from the publisher: another shape, not a verdict.
              r.offTargetLoad("publisher on the event bus; the target has it on one node");
            }
          }
          runAll(r, (v, run, prefix) -> d.run(v, run, prefix, err), err);
          reports.add(r);
        }
      } else if (name.equals("deflate")) {
        DeliveryScenario d = new DeliveryScenario(s, new DeliveryScenario.Params("deflate", DeliveryScenario.Mode.FANOUT,
            deflateConnections, rate, warm.toMillis(), 0, dur.toMillis(), 8, Math.max(size, 300),
            DeliveryScenario.Publish.of(publisher), true, !noMemory));
        List<Variant> vs = new ArrayList<>();
        boolean bus = d.params().busPublisher();
        if (!target.equals("bare")) {
          vs.add(new Variant("switchboard", new NodeGroup.Spec(Target.SWITCHBOARD, 1, bus, "off"), LoadClient.Compression.ON));
          vs.add(new Variant("switchboard-deflate", new NodeGroup.Spec(Target.SWITCHBOARD, 1, bus, "on"), LoadClient.Compression.ON));
        }
        if (!target.equals("switchboard")) {
          vs.add(new Variant(Variant.BASELINE, new NodeGroup.Spec(Target.BARE, 1, bus, "off"), LoadClient.Compression.ON));
          vs.add(new Variant("bare-deflate", new NodeGroup.Spec(Target.BARE, 1, bus, "default"), LoadClient.Compression.ON));
          vs.add(new Variant("bare-deflate-nocontext", new NodeGroup.Spec(Target.BARE, 1, bus, "nocontext"),
              LoadClient.Compression.NOCONTEXT));
        }
        ScenarioReport r = new ScenarioReport("deflate", d.describe(1) + "; every client offers permessage-deflate; "
            + "-deflate = server accepts it with context takeover, -nocontext = server_no_context_takeover and "
            + "client_no_context_takeover; plain columns = server compression off", vs);
        runAll(r, (v, run, prefix) -> d.run(v, run, prefix, err), err);
        reports.add(r);
      }
    }

    JsonObject machineEnd = Machine.describe();
    boolean complete = reports.stream().allMatch(ScenarioReport::complete);
    long shortOfLoad = reports.stream().mapToLong(ScenarioReport::runsShortOfLoad).sum();
    for (ScenarioReport r : reports) {
      tableOut.print(r.table(runs));
    }
    tableOut.printf(Locale.ROOT, "%nbench: %s%s in %d s; load average %.2f at start, %.2f at end (%d cores)%n",
        complete ? "every run completed with every message delivered" : "INCOMPLETE: see the notes above",
        shortOfLoad == 0 ? "" : String.format(Locale.ROOT, "%s %d steady phase%s fell short of the load asked "
            + "for (see the notes)", complete ? ", but" : ";", shortOfLoad, shortOfLoad == 1 ? "" : "s"),
        Duration.between(started, Instant.now()).toSeconds(), machineStart.getDouble("load_average_1m"),
        machineEnd.getDouble("load_average_1m"), machineEnd.getInteger("cores"));
    JsonObject out = new JsonObject()
        .put("complete", complete)
        .put("steady_load_reached", shortOfLoad == 0)
        .put("started", started.toString())
        .put("seconds", Duration.between(started, Instant.now()).toSeconds())
        .put("machine", machineStart.put("load_average_1m_end", machineEnd.getValue("load_average_1m")))
        .put("settings", new JsonObject().put("runs", runs).put("node_jvm_options", nodeJvmOpts).put("transport", transport)
            .put("client_transport", clientTransport).put("client_uring", clientUringApplied)
            .put("instances", instances).put("event_loops", s.eventLoops()).put("node_cpus", s.nodeCpus())
            .put("node_nice", s.nodeNice()).put("port_base", s.portBase())
            .put("client_loops", s.clientLoops()).put("source_addresses", s.sourceAddresses())
            .put("concurrency", s.concurrency()).put("publisher", publisher).put("payload_bytes", size)
            .put("work_dir", dir.toString()))
        .put("scenarios", new JsonArray(reports.stream().map(ScenarioReport::json).toList()));
    if (json) {
      System.out.println(out.encodePrettily());
    }
    boolean written = true;
    if (jsonFile != null) {
      try {
        Files.writeString(jsonFile, out.encodePrettily());
      } catch (IOException e) {
        // checked before the run, but the disk can fill or the directory go: the figures above stay
        err.println("bench: could not write --json-file " + jsonFile + ": " + e.getMessage());
        written = false;
      }
    }
    if (plots != null) {
      try {
        writePlots(reports, plots, err);
      } catch (IOException | RuntimeException | Error e) {
        // figures and JSON are already out; a machine without fonts should not lose them
        err.println("bench: could not write plots to " + plots + ": " + e);
      }
    }
    return complete && written ? 0 : 1;
  }

  private static String num(double v) {
    return v == Math.rint(v) ? String.format(Locale.ROOT, "%,.0f", v) : String.format(Locale.ROOT, "%,.2f", v);
  }

  /** {@code clustered}: every server set joins a cluster, even of one, for a publisher on the event bus. */
  private List<Variant> plainVariants(int nodes, boolean clustered) {
    List<Variant> vs = new ArrayList<>();
    if (!target.equals("bare")) {
      vs.add(new Variant("switchboard", new NodeGroup.Spec(Target.SWITCHBOARD, nodes, clustered || nodes > 1, "on"),
          LoadClient.Compression.OFF));
    }
    if (!target.equals("switchboard")) {
      vs.add(new Variant(Variant.BASELINE, new NodeGroup.Spec(Target.BARE, nodes, clustered, "default"), LoadClient.Compression.OFF));
      for (String b : bareVariants) {
        List<String> args = BARE_VARIANTS.get(b.trim());
        vs.add(new Variant("bare-" + b.trim(), new NodeGroup.Spec(Target.BARE, nodes, clustered, "default", args),
            LoadClient.Compression.OFF));
      }
    }
    return vs;
  }

  /**
   * Checks every option before anything starts, so a bad one costs no run: throws a {@link ParameterException}
   * naming the option. Returns the line to print when {@code -n} is capped to the open-file limit, else null.
   */
  String validate(long fdLimit) {
    List<String> names = new ArrayList<>();
    for (String sc : scenarios) {
      String n = sc.trim().toLowerCase(Locale.ROOT);
      if (n.equals("all")) {
        names.addAll(SCENARIOS);
      } else if (SCENARIOS.contains(n)) {
        names.add(n);
      } else {
        throw bad("--scenario: connect, fanout, direct, cluster, deflate or all, not " + sc);
      }
    }
    wanted = names.stream().distinct().toList();
    check(List.of("switchboard", "bare", "both").contains(target), "--target: switchboard, bare or both, not " + target);
    check(List.of("ws", "http", "bus").contains(publisher), "--publisher: ws, http or bus, not " + publisher);
    dur = duration(duration, "--duration");
    check(!dur.isZero(), "--duration: the steady phase must last longer than 0 (e.g. 10s)");
    warm = duration(warmup, "--warmup");
    sat = duration(saturation, "--saturation");
    check(runs >= 1, "--runs: at least 1, not " + runs);
    check(connections >= 1, "--connections: at least 1, not " + connections);
    check(steps >= 1, "--steps: at least 1, not " + steps);
    check(subscribers >= 1, "--subscribers: at least 1, not " + subscribers);
    check(sessions >= 2, "--sessions: at least 2, not " + sessions);
    check(deflateConnections >= 1, "--deflate-connections: at least 1, not " + deflateConnections);
    for (Object[] r : new Object[][] {{"--rate", rate}, {"--direct-rate", directRate}, {"--cluster-rate", clusterRate},
        {"--cluster-direct-rate", clusterDirectRate}}) {
      double v = (Double) r[1];
      check(v > 0 && Double.isFinite(v), r[0] + ": more than 0 messages/s, not " + v);
    }
    check(clusterNodes >= 1 && clusterNodes <= LoadClient.MAX_NODES,
        "--cluster-nodes: 1 to " + LoadClient.MAX_NODES + ", not " + clusterNodes);
    for (String m : clusterModes) {
      check(List.of("fanout", "direct").contains(m.trim()), "--cluster-modes: fanout and/or direct, not " + m);
    }
    for (String b : bareVariants) {
      check(BARE_VARIANTS.containsKey(b.trim()), "--bare-variants: " + String.join(", ", BARE_VARIANTS.keySet())
          + ", not " + b);
    }
    check(window >= 0, "--window: 0 (the scenario's default) or more, not " + window);
    check(size >= 1, "--size: at least 1 byte, not " + size);
    check(clientLoops == -1 || clientLoops >= 1, "--client-loops: -1 (automatic) or at least 1, not " + clientLoops);
    check(sourceIps >= 0 && sourceIps <= 250, "--source-ips: 0 to 250, not " + sourceIps);
    check(concurrency >= 1, "--concurrency: at least 1, not " + concurrency);
    check(instances >= 0, "--instances: 0 (the default) or more, not " + instances);
    check(eventLoops >= 0, "--event-loops: 0 (the node's default) or more, not " + eventLoops);
    check(nodeCpus >= -1, "--node-cpus: -1 (automatic), 0 or more, not " + nodeCpus);
    check(nodeNice >= 0 && nodeNice <= 19, "--node-nice: 0 to 19, not " + nodeNice);
    check(portBase == 0 || portBase >= 1024 && portBase <= 65536 - BenchSettings.PORT_RANGE,
        "--port-base: 0 or 1024 to " + (65536 - BenchSettings.PORT_RANGE) + ", not " + portBase);
    List<String> transports = Arrays.stream(SwitchboardConfig.Transport.values())
        .map(t -> t.name().toLowerCase(Locale.ROOT)).toList();
    check(transports.contains(transport), "--transport: one of " + String.join(", ", transports) + ", not " + transport);
    check(transports.contains(clientTransport),
        "--client-transport: one of " + String.join(", ", transports) + ", not " + clientTransport);
    check(List.of("tuned", "plain").contains(clientUring), "--client-uring: tuned or plain, not " + clientUring);
    if (jsonFile != null) {
      checkPath("--json-file", writableFileProblem(jsonFile));
    }
    if (plots != null) {
      checkPath("--plots", writableDirProblem(plots));
    }
    if (workDir != null) {
      checkPath("--work-dir", writableDirProblem(workDir));
    }
    return checkOpenFiles(fdLimit);
  }

  /**
   * One rule for every scenario: the connections the bench holds at once, plus {@link #FD_RESERVE}, must fit
   * under the open-file limit. Only connect's N may be cut to fit, and only while enough are left to measure:
   * the other scenarios' load is what their figures are about, so they are refused instead.
   */
  private String checkOpenFiles(long fdLimit) {
    if (fdLimit < 0 || fdLimit == Long.MAX_VALUE) {
      return null;
    }
    long room = fdLimit - FD_RESERVE;
    String capped = null;
    for (String name : wanted) {
      String option;
      long held;
      switch (name) {
        case "connect" -> {
          if (connections <= room) {
            continue;
          }
          if (room >= MIN_CAPPED_CONNECTIONS) {
            capped = String.format(Locale.ROOT, "bench: --connections %,d is above what the open-file limit (%,d) "
                + "allows; using %,d", connections, fdLimit, room);
            connections = (int) room;
            continue;
          }
          option = "--connections " + String.format(Locale.ROOT, "%,d", connections);
          held = connections;
        }
        case "fanout" -> {
          option = "--subscribers " + String.format(Locale.ROOT, "%,d", subscribers);
          held = subscribers + 1L;
        }
        case "direct" -> {
          option = "--sessions " + String.format(Locale.ROOT, "%,d", sessions);
          held = sessions;
        }
        case "cluster" -> {
          boolean fan = clusterModes.stream().anyMatch(m -> m.trim().equals("fanout"));
          boolean direct = clusterModes.stream().anyMatch(m -> m.trim().equals("direct"));
          held = Math.max(fan ? subscribers + (long) clusterNodes : 0, direct ? sessions : 0);
          option = held == sessions && direct ? "--sessions " + String.format(Locale.ROOT, "%,d", sessions)
              : "--subscribers " + String.format(Locale.ROOT, "%,d", subscribers);
        }
        default -> {
          option = "--deflate-connections " + String.format(Locale.ROOT, "%,d", deflateConnections);
          held = deflateConnections + 1L;
        }
      }
      if (held > room) {
        throw bad(String.format(Locale.ROOT, "%s: %s holds %,d connections, and the open-file limit (ulimit -n %d) "
            + "leaves room for %,d beside the %,d descriptors each process needs besides; raise it "
            + "(ulimit -n %d) or ask for fewer%s", option, name, held, fdLimit, Math.max(0, room), FD_RESERVE,
            held + FD_RESERVE, name.equals("connect")
                ? String.format(Locale.ROOT, " (a cut to fewer than %,d is not made for you)", MIN_CAPPED_CONNECTIONS)
                : ""));
      }
    }
    return capped;
  }

  /** Why {@code dir} cannot be used as an output directory (created if missing), or null. */
  static String writableDirProblem(Path dir) {
    Path p = dir.toAbsolutePath();
    if (Files.exists(p)) {
      return !Files.isDirectory(p) ? p + " is not a directory" : !Files.isWritable(p) ? p + " is not writable" : null;
    }
    Path up = p.getParent();
    while (up != null && !Files.exists(up)) {
      up = up.getParent();
    }
    if (up == null || !Files.isDirectory(up)) {
      return "cannot create " + p + " (" + up + " is not a directory)";
    }
    return Files.isWritable(up) ? null : "cannot create " + p + " (" + up + " is not writable)";
  }

  /** Why {@code file} cannot be written at the end of the run, or null. */
  static String writableFileProblem(Path file) {
    Path p = file.toAbsolutePath();
    if (Files.isDirectory(p)) {
      return p + " is a directory";
    }
    if (Files.exists(p)) {
      return Files.isWritable(p) ? null : p + " is not writable";
    }
    Path parent = p.getParent();
    if (parent == null || !Files.isDirectory(parent)) {
      return "no directory " + parent;
    }
    return Files.isWritable(parent) ? null : parent + " is not writable";
  }

  private void checkPath(String option, String problem) {
    if (problem != null) {
      throw bad(option + ": " + problem);
    }
  }

  private void check(boolean ok, String message) {
    if (!ok) {
      throw bad(message);
    }
  }

  private ParameterException bad(String message) {
    return new ParameterException(spec.commandLine(), message);
  }

  /** The reason and a pointer to the help, without the whole usage: a 100-line usage scrolls the reason away. */
  private int refuse(String message) {
    PrintWriter w = spec.commandLine().getErr();
    w.println("bench: " + message);
    w.println("see `switchboard bench --help` for every option");
    w.flush();
    return 2;
  }

  @FunctionalInterface
  private interface RunFn {
    RunResult run(Variant v, int run, String prefix) throws Exception;
  }

  /** Runs alternate between variants (run 1 of each, then run 2 …) so drift in machine load hits all alike. */
  private void runAll(ScenarioReport r, RunFn fn, PrintStream err) {
    for (int run = 1; run <= runs; run++) {
      for (Variant v : r.variants) {
        String prefix = String.format(Locale.ROOT, "[%s %s %d/%d]", r.name, v.label(), run, runs);
        err.println(prefix + " start");
        RunResult res;
        try {
          res = fn.run(v, run, prefix);
        } catch (Exception | Error e) {
          res = new RunResult(v.label(), run);
          res.incomplete("run failed: " + e);
          err.println(prefix + " failed: " + e);
        }
        r.runs.add(res);
        err.println(prefix + " done" + (res.complete ? "" : " (INCOMPLETE: " + String.join("; ", res.notes) + ")"));
      }
    }
  }

  private Duration duration(String text, String option) {
    Duration d = Durations.parse(text);
    if (d == null || d.isNegative()) {
      throw bad(option + ": not a duration: " + text + " (e.g. 500ms, 10s, 2m)");
    }
    return d;
  }

  private static void writePlots(List<ScenarioReport> reports, Path dir, PrintStream err) throws IOException {
    Files.createDirectories(dir);
    for (ScenarioReport r : reports) {
      List<String> names = new ArrayList<>();
      List<Histogram> hs = new ArrayList<>();
      for (Variant v : r.variants) {
        Histogram h = r.mergedLatency(v.label());
        if (h != null && h.getTotalCount() > 0) {
          names.add(v.label());
          hs.add(h);
        }
      }
      if (!hs.isEmpty()) {
        Path f = dir.resolve("latency-" + r.name + ".png");
        Plotter.latency(f, "publish→receive latency, " + r.name + " (steady phase, all runs)", names, hs);
        err.println("bench: wrote " + f);
      }
      List<Plotter.Series> series = new ArrayList<>();
      int color = 0;
      for (Variant v : r.variants) {
        List<double[]> curve = r.memoryCurve(v.label());
        if (!curve.isEmpty()) {
          double[] x = curve.stream().mapToDouble(p -> p[0]).toArray();
          series.add(new Plotter.Series(v.label() + " heap after GC", x,
              curve.stream().mapToDouble(p -> p[1] / 1024).toArray(), color, false));
          series.add(new Plotter.Series(v.label() + " RSS", x, curve.stream().mapToDouble(p -> p[2] / 1024).toArray(),
              color, true));
          color++;
        }
      }
      if (!series.isEmpty()) {
        Path f = dir.resolve("memory-per-connection.png");
        Plotter.lines(f, "memory per idle authenticated connection as N grows", "connections",
            "KiB per connection", series);
        err.println("bench: wrote " + f);
      }
    }
  }
}
