package dev.switchboard.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.hazelcast.config.Config;
import com.hazelcast.config.JoinConfig;
import dev.switchboard.config.ConfigException;
import dev.switchboard.config.ConfigLoader;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The Hazelcast config a node builds from cluster.xml and SWITCHBOARD_CLUSTER_* (no cluster is started). */
class ClusterSetupTest {

  static Config hazelcast(Map<String, String> env) {
    return ClusterSetup.hazelcastConfig(ConfigLoader.load(null, env, Map.of()).cluster());
  }

  @Test
  void defaultsJoinByTcpIpOnLoopbackWithNoMulticastAndNoPhoneHome() {
    Config hz = hazelcast(Map.of());
    JoinConfig join = hz.getNetworkConfig().getJoin();
    assertTrue(join.getTcpIpConfig().isEnabled());
    assertEquals(List.of("127.0.0.1:5701"), join.getTcpIpConfig().getMembers());
    assertFalse(join.getMulticastConfig().isEnabled());
    assertFalse(join.getAutoDetectionConfig().isEnabled());
    assertFalse(join.getKubernetesConfig().isEnabled());
    assertEquals(List.of("127.0.0.1"), List.copyOf(hz.getNetworkConfig().getInterfaces().getInterfaces()));
    assertTrue(hz.getNetworkConfig().getInterfaces().isEnabled());
    assertEquals(5701, hz.getNetworkConfig().getPort());
    assertFalse(hz.getNetworkConfig().isPortAutoIncrement());
    assertEquals("false", hz.getProperty("hazelcast.phone.home.enabled"));
    assertEquals("false", hz.getProperty("hazelcast.shutdownhook.enabled"));
    assertEquals("switchboard", hz.getClusterName());
    // From cluster.xml: a killed node is dropped within 10 s, and the Vert.x subscription table is backed up.
    assertEquals("10", hz.getProperty("hazelcast.max.no.heartbeat.seconds"));
    assertEquals(1, hz.getMultiMapConfig("__vertx.subs").getBackupCount());
    // A frozen backup member holds a backed-up write (a subscribe, a login, a history append) 1 s, not 5.
    assertEquals("1000", hz.getProperty("hazelcast.operation.backup.timeout.millis"));
    // Hazelcast's own metrics are off: /metrics does not use them, and their collection logged a stack trace
    // when a node left while it waited for a backup replica.
    assertFalse(hz.getMetricsConfig().isEnabled());
    // Nothing uses CRDTs: their replication round runs once a minute, not every second.
    assertEquals(60_000, hz.getCRDTReplicationConfig().getReplicationPeriodMillis());
  }

  @Test
  void envVarsSetMembersHostPortAndName() {
    Config hz = hazelcast(Map.of(
        "SWITCHBOARD_CLUSTER_MEMBERS", "10.0.0.1:5701,10.0.0.2:5701",
        "SWITCHBOARD_CLUSTER_HOST", "10.0.0.3",
        "SWITCHBOARD_CLUSTER_PORT", "5702",
        "SWITCHBOARD_CLUSTER_NAME", "prod-eu"));
    assertEquals(List.of("10.0.0.1:5701", "10.0.0.2:5701"), hz.getNetworkConfig().getJoin().getTcpIpConfig().getMembers());
    assertEquals(List.of("10.0.0.3"), List.copyOf(hz.getNetworkConfig().getInterfaces().getInterfaces()));
    assertEquals(5702, hz.getNetworkConfig().getPort());
    assertEquals("10.0.0.3:5702", hz.getNetworkConfig().getPublicAddress());
    assertEquals("prod-eu", hz.getClusterName());
  }

  @Test
  void theEventBusBindsTheClusterHostOnAFixedPortWhenAsked() {
    var fixed = ClusterSetup.eventBusOptions(ConfigLoader.load(null, Map.of("SWITCHBOARD_CLUSTER_HOST", "10.0.0.3",
        "SWITCHBOARD_CLUSTER_BUS_PORT", "5711"), Map.of()).cluster());
    assertEquals("10.0.0.3", fixed.getHost());
    assertEquals(5711, fixed.getPort());
    assertEquals(5711, fixed.getClusterPublicPort());
    var any = ClusterSetup.eventBusOptions(ConfigLoader.load(null, Map.of(), Map.of()).cluster());
    assertEquals("127.0.0.1", any.getHost());
    assertEquals(0, any.getPort());
    assertEquals(-1, any.getClusterPublicPort(), "the bound port is advertised");
  }

  @Test
  void kubernetesServiceDnsSwitchesTheJoinToKubernetesDiscovery() {
    Config hz = hazelcast(Map.of(
        "SWITCHBOARD_CLUSTER_KUBERNETES_SERVICE_DNS", "switchboard-hz.default.svc.cluster.local",
        "SWITCHBOARD_CLUSTER_HOST", "10.1.2.3"));
    JoinConfig join = hz.getNetworkConfig().getJoin();
    assertTrue(join.getKubernetesConfig().isEnabled());
    assertEquals("switchboard-hz.default.svc.cluster.local", join.getKubernetesConfig().getProperty("service-dns"));
    assertEquals("5701", join.getKubernetesConfig().getProperty("service-port"));
    assertFalse(join.getTcpIpConfig().isEnabled());
    assertFalse(join.getMulticastConfig().isEnabled());
  }

  @Test
  void kubernetesOnLoopbackIsRefusedWithTheFix() {
    ConfigException e = assertThrows(ConfigException.class, () -> hazelcast(Map.of(
        "SWITCHBOARD_CLUSTER_KUBERNETES_SERVICE_DNS", "switchboard-hz.default.svc.cluster.local")));
    assertTrue(e.getMessage().contains("cluster.host") && e.getMessage().contains("status.podIP"), e.getMessage());
  }
}
