package dev.switchboard.bench;

import dev.switchboard.config.SwitchboardConfig;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Everything a scenario needs to know, fixed for the whole invocation.
 *
 * @param instances gateway event loops of the node under test and of the bare server (0 = each one's default)
 * @param clientLoops receiver event loops in the bench (the publisher has one more of its own); {@link #AUTO_LOOPS}:
 *     one per core against a group of several servers, one against a single server
 * @param sourceAddresses client sockets are spread over 127.0.0.2 … 127.0.0.(1+n); 0 = the default address
 * @param profile record each node with JFR (profile settings) into the work directory
 * @param transport {@code server.transport} of the Switchboard nodes (auto, io_uring, epoll, nio)
 * @param clientTransport the load generator's own transport, resolved like {@code server.transport}
 * @param clientUringTuned on io_uring, the load generator's rings read through multishot receives on provided
 *     buffers with deferred task work ({@link LoadTransport}); false keeps Vert.x's own io_uring set-up
 * @param nodeCpus CPUs each server JVM is told it has ({@code -XX:ActiveProcessorCount}); {@link #AUTO_CPUS}: a
 *     group of several servers shares the machine's cores, one server keeps the JVM's own count; 0: always the
 *     JVM's own count
 * @param nodeNice what {@code nice -n} adds to each server process's niceness (0–19; 0 runs it as the bench runs)
 * @param portBase first of the {@link #PORT_RANGE} ports every server, cluster and bare port of a run is taken
 *     from; 0 = ports the OS hands out
 */
record BenchSettings(String secret, String apiKey, List<String> nodeJvmOptions, int instances, int clientLoops,
                     int sourceAddresses, int concurrency, Path workDir, boolean progress, boolean memory,
                     boolean profile, String transport, SwitchboardConfig.Transport clientTransport,
                     boolean clientUringTuned, int nodeCpus, int nodeNice, int eventLoops, int portBase) {

  static final int AUTO_CPUS = -1;
  /** Ports one run can use from {@code --port-base}: a client port and a cluster port for each of up to 8 servers. */
  /** A client port and a cluster port per server, and one for the bench itself on the cluster (--publisher bus). */
  static final int PORT_RANGE = 2 * LoadClient.MAX_NODES + 1;
  static final int AUTO_LOOPS = -1;

  /**
   * What each of {@code groupSize} servers started together is told it has, 0 for the JVM's own count. Servers
   * that share one machine are sized to their share of it, as a container's CPU limit sizes a JVM: told the
   * whole machine, each node runs two event loops per core, GC and JIT threads and Hazelcast pools for cores
   * it does not have, and their wake-ups queue behind each other on the real cores (BENCHMARKS.md item 19).
   */
  int cpusPerServer(int groupSize, int machineCores) {
    if (nodeCpus != AUTO_CPUS) {
      return nodeCpus;
    }
    return groupSize > 1 ? Math.max(1, machineCores / groupSize) : 0;
  }

  /**
   * The JVM options of one of {@code groupSize} servers: the processor count first, so an
   * {@code -XX:ActiveProcessorCount} in {@code --node-jvm-opts} still wins, then the node options, then a JFR
   * recording per process (dumped on exit into the work dir) when profiling.
   */
  List<String> jvmOptionsFor(String label, int groupSize, int machineCores) {
    List<String> o = new ArrayList<>();
    int cpus = cpusPerServer(groupSize, machineCores);
    if (cpus > 0) {
      o.add("-XX:ActiveProcessorCount=" + cpus);
    }
    o.addAll(nodeJvmOptions);
    if (profile) {
      o.add("-XX:StartFlightRecording=settings=profile,dumponexit=true,filename="
          + workDir.resolve(label + "-" + System.nanoTime() + ".jfr"));
    }
    return o;
  }

  /**
   * The receiver loops of the load generator against {@code groupSize} servers. Against a cluster, one loop
   * would read each publication's 1,000 receipts one after the other, about 8 ms of one core per burst on
   * this machine, inside the burst whose tail is measured. Clients on their own machines read in parallel, so
   * the load generator splits them over one loop per core (BENCHMARKS.md items 21 and 22). Against one server
   * the fanout figures keep their single loop, as measured since the first of them.
   */
  int clientLoopsFor(int groupSize, int machineCores) {
    if (clientLoops != AUTO_LOOPS) {
      return clientLoops;
    }
    return groupSize > 1 ? Math.max(1, machineCores) : 1;
  }

  /**
   * What a server's command line starts with: {@code nice -n N} to run it below the load generator, which stands
   * for clients on machines of their own (opt-in; item 22 found no gain in the cluster's tail).
   */
  List<String> launcher() {
    return nodeNice > 0 ? List.of("nice", "-n", Integer.toString(nodeNice)) : List.of();
  }
}
