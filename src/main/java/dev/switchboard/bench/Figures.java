package dev.switchboard.bench;

import java.util.LinkedHashMap;
import java.util.Map;

/** Names, units and direction of every figure a scenario reports, in report order. */
final class Figures {

  /** @param lowerIsBetter null for context figures that are neither better nor worse */
  record Def(String label, String format, Boolean lowerIsBetter) {}

  static final Map<String, Def> ALL = new LinkedHashMap<>();

  static {
    // connect
    def("connects_per_s", "connects/s (authenticated, incl. auth_success)", "%,.0f", false);
    def("node_cpu_ms_per_connect", "node CPU ms per connect", "%.3f", true);
    def("node_loop_cpu_ms_per_connect", "  of which event loops", "%.3f", true);
    def("node_jit_cpu_ms_per_connect", "  of which JIT compiler threads", "%.3f", true);
    def("node_cpu_ms_per_connect_warm", "node CPU ms per connect, last step (JIT warm)", "%.3f", true);
    def("connect_p50_ms", "connect+auth p50 ms", "%.2f", true);
    def("connect_p99_ms", "connect+auth p99 ms", "%.2f", true);
    def("connections", "connections open at the end", "%,.0f", null);
    def("failed", "connections failed", "%,.0f", true);
    // delivery scenarios
    def("subscribe_ack_p50_ms", "subscribe→ack p50 ms", "%.2f", true);
    def("subscribe_ack_p99_ms", "subscribe→ack p99 ms", "%.2f", true);
    def("offered_msgs_per_s", "steady: messages/s offered", "%,.1f", null);
    def("deliveries_per_s", "steady: deliveries/s", "%,.0f", false);
    def("node_cpu_s_per_m", "steady: node CPU s per 1M deliveries", "%.2f", true);
    def("node_loop_cpu_s_per_m", "steady:   of which event loops", "%.2f", true);
    def("node_jit_cpu_s_per_m", "steady:   of which JIT compiler threads", "%.2f", true);
    def("node_gc_cpu_s_per_m", "steady:   of which GC threads", "%.2f", true);
    def("node_hz_cpu_s_per_m", "steady:   of which Hazelcast threads", "%.2f", true);
    def("node_sys_cpu_s_per_m", "steady: node kernel (sys) CPU s per 1M", "%.2f", true);
    def("node_cores", "steady: node CPU (cores)", "%.3f", true);
    def("p50_ms", "steady: publish→receive p50 ms", "%.3f", true);
    def("p99_ms", "steady: publish→receive p99 ms", "%.3f", true);
    def("p999_ms", "steady: publish→receive p99.9 ms", "%.3f", true);
    def("max_ms", "steady: publish→receive max ms", "%.3f", true);
    for (int n = 1; n <= LoadClient.MAX_NODES; n++) {
      def("p99_ms_node" + n, "steady: p99 ms, receivers on node " + n, "%.3f", true);
    }
    def("bench_loop", "bench busiest loop, steady/ramp (core share)", "%.2f", null);
    def("sat_deliveries_per_s", "saturation: deliveries/s (closed loop)", "%,.0f", false);
    def("sat_node_cpu_s_per_m", "saturation: node CPU s per 1M deliveries", "%.2f", true);
    def("sat_node_loop_cpu_s_per_m", "saturation:   of which event loops", "%.2f", true);
    def("sat_p99_ms", "saturation: p99 ms", "%.2f", true);
    def("sat_bench_loop", "saturation: bench busiest loop (core share)", "%.2f", null);
    def("bench_cores", "steady: bench process CPU (cores)", "%.2f", null);
    def("other_cores", "steady: other load on the machine (cores)", "%.2f", null);
    def("steal_cores", "steady: taken by the hypervisor (steal, cores)", "%.2f", null);
    def("lost", "deliveries missing", "%,.0f", true);
    def("out_of_order", "steady: deliveries out of order", "%,.0f", true);
    def("throttled", "sends skipped (server behind)", "%,.0f", true);
    // memory
    def("heap_kib_per_conn", "heap after GC per connection KiB", "%.2f", true);
    def("rss_kib_per_conn", "RSS per connection KiB", "%.2f", true);
    def("heap_mib_base", "heap after GC with no connections MiB", "%.1f", null);
  }

  private Figures() {}

  private static void def(String key, String label, String format, Boolean lower) {
    ALL.put(key, new Def(label, format, lower));
  }

  static Def of(String key) {
    return ALL.getOrDefault(key, new Def(key, "%.3f", null));
  }
}
