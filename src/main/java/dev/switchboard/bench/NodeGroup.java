package dev.switchboard.bench;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * The server(s) under test for one run: one Switchboard node (standalone or a cluster of one), a
 * 3-node Switchboard cluster, or the same number of independent bare servers. Sums CPU and memory over
 * its processes.
 */
final class NodeGroup implements AutoCloseable {

  private final Target target;
  private final List<NodeProcess> nodes;
  private final ClusterAddress cluster;
  private final Ports ports;

  private NodeGroup(Target target, List<NodeProcess> nodes, ClusterAddress cluster, Ports ports) {
    this.target = target;
    this.nodes = nodes;
    this.cluster = cluster;
    this.ports = ports;
  }

  /** How another JVM joins this group's Hazelcast cluster: its name and the members' host:port. */
  record ClusterAddress(String name, List<String> members) {}

  /**
   * What to start. {@code compression} is "on"/"off" for Switchboard, "default"/"off"/"nocontext" for bare;
   * {@code extraArgs} go to the bare server ({@code --write raw}, {@code --native}). {@code clustered} bare
   * servers form one Hazelcast cluster of plain Vert.x, so an event-bus publisher reaches them as it
   * reaches Switchboard's nodes.
   */
  record Spec(Target target, int count, boolean clustered, String compression, List<String> extraArgs) {
    Spec(Target target, int count, boolean clustered, String compression) {
      this(target, count, clustered, compression, List.of());
    }
  }

  static NodeGroup start(Spec spec, BenchSettings s, Path workDir) throws IOException, InterruptedException {
    List<NodeProcess> started = new ArrayList<>();
    Ports ports = new Ports(s.portBase());
    try {
      ClusterAddress cluster = null;
      List<Integer> clusterPorts = new ArrayList<>();
      if (spec.clustered() || spec.count() > 1 && spec.target() == Target.SWITCHBOARD) {
        for (int i = 0; i < spec.count(); i++) {
          clusterPorts.add(ports.next());
        }
        cluster = new ClusterAddress("bench-" + UUID.randomUUID(),
            clusterPorts.stream().map(p -> "127.0.0.1:" + p).toList());
      }
      if (spec.target() == Target.BARE) {
        for (int i = 0; i < spec.count(); i++) {
          int port = ports.next();
          List<String> args = new ArrayList<>(List.of("--port", Integer.toString(port), "--secret", s.secret(),
              "--api-key", s.apiKey(), "--compression", spec.compression() == null ? "default" : spec.compression()));
          if (s.instances() > 0) {
            args.add("--instances");
            args.add(Integer.toString(s.instances()));
          }
          if (cluster != null) {
            args.addAll(List.of("--cluster-port", Integer.toString(clusterPorts.get(i)),
                "--cluster-members", String.join(",", cluster.members()), "--cluster-name", cluster.name()));
          }
          args.addAll(spec.extraArgs());
          started.add(NodeProcess.start("bare-" + (i + 1), s.launcher(), s.jvmOptionsFor("bare-" + (i + 1), spec.count(), CpuSampler.cores()), BareServer.class.getName(), args,
              Map.of(), workDir, port, "bare ready", Duration.ofSeconds(60)));
        }
      } else {
        Path conf = workDir.resolve("switchboard-bench.json");
        Files.writeString(conf, benchConf(s, spec).encodePrettily());
        // Started one after the other so each joins the existing cluster instead of racing to form one.
        for (int i = 0; i < spec.count(); i++) {
          int port = ports.next();
          Map<String, String> env = new HashMap<>();
          env.put("SWITCHBOARD_CONF", conf.toString());
          env.put("SWITCHBOARD_PORT", Integer.toString(port));
          env.put("SWITCHBOARD_JWT_SECRET", s.secret());
          env.put("SWITCHBOARD_API_KEYS", s.apiKey());
          env.put("SWITCHBOARD_NODE_ID", "bench-n" + (i + 1));
          env.put("SWITCHBOARD_DRAIN_PERIOD", "1s");
          if (cluster != null) {
            env.put("SWITCHBOARD_STANDALONE", "false");
            env.put("SWITCHBOARD_CLUSTER_HOST", "127.0.0.1");
            env.put("SWITCHBOARD_CLUSTER_PORT", Integer.toString(clusterPorts.get(i)));
            env.put("SWITCHBOARD_CLUSTER_MEMBERS", String.join(",", cluster.members()));
            env.put("SWITCHBOARD_CLUSTER_NAME", cluster.name());
          } else {
            env.put("SWITCHBOARD_STANDALONE", "true");
          }
          started.add(NodeProcess.start("switchboard-" + (i + 1), s.launcher(), s.jvmOptionsFor("switchboard-" + (i + 1), spec.count(), CpuSampler.cores()), "dev.switchboard.Main",
              List.of("run"), env, workDir, port, "switchboard ready", Duration.ofSeconds(120)));
        }
        if (spec.count() > 1) {
          awaitMembers(started, s.apiKey(), Duration.ofSeconds(60));
        }
      }
      return new NodeGroup(spec.target(), started, cluster, ports);
    } catch (IOException | InterruptedException | RuntimeException e) {
      started.forEach(NodeProcess::close);
      throw e;
    }
  }

  /** The limits a load test must lift (one source address carries thousands of connections and messages). */
  static JsonObject benchConf(BenchSettings s, Spec spec) {
    JsonObject server = new JsonObject().put("compression", !"off".equals(spec.compression()))
        .put("transport", s.transport());
    if (s.instances() > 0) {
      server.put("instances", s.instances());
    }
    if (s.eventLoops() > 0) {
      server.put("event_loops", s.eventLoops());
    }
    JsonObject conf = new JsonObject()
        .put("server", server)
        .put("limits", new JsonObject()
            .put("messages_per_second", 1_000_000)
            .put("burst", 1_000_000)
            .put("rate_abuse_limit", 1_000_000)
            .put("connections_per_ip", 1_000_000)
            .put("connections_per_user", 1_000)
            .put("connect_rate_per_ip", 1_000_000));
    // Extra node settings for a comparison run, e.g. history on: SWITCHBOARD_BENCH_NODE_CONF=/path/extra.json
    String extra = System.getenv("SWITCHBOARD_BENCH_NODE_CONF");
    if (extra != null) {
      try {
        dev.switchboard.config.ConfigLoader.deepMerge(conf, new JsonObject(java.nio.file.Files.readString(java.nio.file.Path.of(extra))));
      } catch (java.io.IOException e) {
        throw new java.io.UncheckedIOException("SWITCHBOARD_BENCH_NODE_CONF: cannot read " + extra, e);
      }
    }
    return conf;
  }

  /** Waits until every node lists every other in GET /api/nodes (the cluster has formed). */
  private static void awaitMembers(List<NodeProcess> nodes, String apiKey, Duration timeout) throws InterruptedException {
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    long deadline = System.nanoTime() + timeout.toNanos();
    for (NodeProcess n : nodes) {
      while (System.nanoTime() < deadline) {
        try {
          String body = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + n.port() + "/api/nodes"))
              .header("Authorization", "Bearer " + apiKey).timeout(Duration.ofSeconds(5)).build(),
              HttpResponse.BodyHandlers.ofString()).body();
          boolean all = true;
          for (int i = 1; i <= nodes.size(); i++) {
            all &= body.contains("bench-n" + i);
          }
          if (all) {
            break;
          }
        } catch (IOException e) {
          // not answering yet
        }
        Thread.sleep(200);
      }
    }
  }

  Target target() {
    return target;
  }

  /** The group's cluster, or null when its servers are not clustered. */
  ClusterAddress cluster() {
    return cluster;
  }

  /** A port from the run's range (or any free one), for another process of the run to bind. */
  int nextPort() throws IOException {
    return ports.next();
  }

  List<NodeProcess> nodes() {
    return nodes;
  }

  int size() {
    return nodes.size();
  }

  long cpuNanos() {
    long sum = 0;
    for (NodeProcess n : nodes) {
      sum += n.cpuNanos();
    }
    return sum;
  }

  long nodeSysNanos() {
    long sum = 0;
    for (NodeProcess n : nodes) {
      sum += n.cpuUserSysNanos()[1];
    }
    return sum;
  }

  long[] cpuNanosByKind() {
    long[] sum = new long[5];
    for (NodeProcess n : nodes) {
      long[] k = n.cpuNanosByKind();
      for (int i = 0; i < sum.length; i++) {
        sum[i] += k[i];
      }
    }
    return sum;
  }

  long rssBytes() {
    long sum = 0;
    for (NodeProcess n : nodes) {
      sum += Math.max(0, n.rssBytes());
    }
    return sum;
  }

  /** Live heap after a full GC, by class, summed over the processes ("*total" = everything). */
  Map<String, Long> liveHeapByClass() {
    Map<String, Long> sum = new HashMap<>();
    for (NodeProcess n : nodes) {
      n.liveHeapByClass().forEach((k, v) -> sum.merge(k, v, Long::sum));
    }
    return sum;
  }

  String describe() {
    JsonArray a = new JsonArray();
    nodes.forEach(n -> a.add(n.label() + " pid " + n.pid() + " port " + n.port()));
    return a.encode();
  }

  /** Dies loudly if a node crashed mid-run: its figures would be meaningless. */
  void checkAlive() {
    for (NodeProcess n : nodes) {
      if (!n.alive()) {
        throw new IllegalStateException(n.label() + " died during the run:\n" + n.tail(30));
      }
    }
  }

  @Override
  public void close() {
    // Stop in parallel: a clustered node's drain takes a second or two each.
    List<Thread> stoppers = new ArrayList<>();
    for (NodeProcess n : nodes) {
      Thread t = new Thread(n::close, "stop-" + n.label());
      t.start();
      stoppers.add(t);
    }
    for (Thread t : stoppers) {
      try {
        t.join(30_000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /**
   * Where a run's ports come from. With no base, the OS picks a free port and the server binds it a moment
   * later, which another process can take in between. With {@code --port-base N}, the run takes N, N+1, … in
   * order, so the bench can run beside services that own other ports; a port of the range already in use
   * fails the run, naming it, rather than moving outside the range the user chose.
   */
  static final class Ports {
    private final int base;
    private int next;

    Ports(int base) {
      this.base = base;
      this.next = base;
    }

    int next() throws IOException {
      if (base == 0) {
        return freePort();
      }
      if (next >= base + BenchSettings.PORT_RANGE) {
        throw new IOException("--port-base: a run needs more than " + BenchSettings.PORT_RANGE + " ports from " + base);
      }
      int port = next++;
      try (ServerSocket probe = new ServerSocket(port, 50, InetAddress.getByName("127.0.0.1"))) {
        // free now; the server binds it a moment later
      } catch (IOException e) {
        throw new IOException("--port-base: port " + port + " (of " + base + "–" + (base + BenchSettings.PORT_RANGE - 1)
            + ") is in use: " + e.getMessage(), e);
      }
      return port;
    }
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 50, InetAddress.getByName("127.0.0.1"))) {
      return s.getLocalPort();
    }
  }
}
