package dev.switchboard.bench;

import dev.switchboard.config.SwitchboardConfig;
import java.nio.file.Path;
import java.util.List;

/**
 * Everything a scenario needs to know, fixed for the whole invocation.
 *
 * @param instances gateway event loops of the node under test and of the bare server (0 = each one's default)
 * @param clientLoops receiver event loops in the bench (the publisher has one more of its own)
 * @param sourceAddresses client sockets are spread over 127.0.0.2 … 127.0.0.(1+n); 0 = the default address
 * @param profile record each node with JFR (profile settings) into the work directory
 * @param transport {@code server.transport} of the Switchboard nodes (auto, io_uring, epoll, nio)
 * @param clientTransport the load generator's own transport, resolved like {@code server.transport}
 */
record BenchSettings(String secret, String apiKey, List<String> nodeJvmOptions, int instances, int clientLoops,
                     int sourceAddresses, int concurrency, Path workDir, boolean progress, boolean memory,
                     boolean profile, String transport, SwitchboardConfig.Transport clientTransport) {

  /** The node JVM options, plus a JFR recording per process (dumped on exit into the work dir) when profiling. */
  List<String> jvmOptionsFor(String label) {
    if (!profile) {
      return nodeJvmOptions;
    }
    List<String> o = new java.util.ArrayList<>(nodeJvmOptions);
    o.add("-XX:StartFlightRecording=settings=profile,dumponexit=true,filename="
        + workDir.resolve(label + "-" + System.nanoTime() + ".jfr"));
    return o;
  }
}
