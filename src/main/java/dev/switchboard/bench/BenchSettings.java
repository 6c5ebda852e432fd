package dev.switchboard.bench;

import java.nio.file.Path;
import java.util.List;

/**
 * Everything a scenario needs to know, fixed for the whole invocation.
 *
 * @param instances gateway event loops of the node under test and of the bare server (0 = each one's default)
 * @param clientLoops receiver event loops in the bench (the publisher has one more of its own)
 * @param sourceAddresses client sockets are spread over 127.0.0.2 … 127.0.0.(1+n); 0 = the default address
 */
record BenchSettings(String secret, String apiKey, List<String> nodeJvmOptions, int instances, int clientLoops,
                     int sourceAddresses, int concurrency, Path workDir, boolean progress, boolean memory) {}
