package dev.switchboard.cluster;

import com.hazelcast.config.ClasspathXmlConfig;
import com.hazelcast.config.Config;
import com.hazelcast.config.FileSystemXmlConfig;
import com.hazelcast.config.JoinConfig;
import com.hazelcast.config.NetworkConfig;
import dev.switchboard.config.ConfigException;
import dev.switchboard.config.SwitchboardConfig;
import io.vertx.core.VertxOptions;
import io.vertx.core.eventbus.EventBusOptions;
import io.vertx.spi.cluster.hazelcast.HazelcastClusterManager;
import java.io.FileNotFoundException;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Builds the Hazelcast cluster manager from {@code cluster.xml} and the SWITCHBOARD_CLUSTER_* settings.
 *
 * <p>{@code cluster.xml} holds the Hazelcast tuning (heartbeats, the Vert.x maps); the network identity of
 * a node — interface, port, cluster name, how it finds the others — always comes from Switchboard's own
 * config, so one env var changes it without editing XML. Whatever the file says, a node joins by TCP-IP
 * with the listed members (or, when {@code cluster.kubernetes_service_dns} is set, by Hazelcast's
 * Kubernetes DNS discovery), with multicast and auto-detection off, phone-home off, and bound to the
 * configured interface only.
 *
 * <p>A backend JVM that joins without being a Switchboard node uses the same two calls
 * ({@link #vertxOptions} and {@link #clusterManager}); see {@code dev.switchboard.examples.ExampleBackend}.
 */
public final class ClusterSetup {

  private ClusterSetup() {}

  /**
   * For a backend JVM: a Hazelcast lite member, which holds no cluster data. As a data member it would own
   * partitions of the nodes' channel histories without their ringbuffer settings (no TTL), and its
   * departure would move data; as a lite member it reads and writes the same structures remotely.
   */
  public static HazelcastClusterManager clusterManager(SwitchboardConfig.Cluster c) {
    checkHost(c.host());
    return new HazelcastClusterManager(hazelcastConfig(c).setLiteMember(true));
  }

  /**
   * Vert.x options whose event bus binds to the cluster interface: the event bus carries the messages
   * themselves (Hazelcast only carries membership and the subscription table), so it must be reachable
   * from the other members on that interface.
   */
  public static VertxOptions vertxOptions(SwitchboardConfig.Cluster c) {
    return new VertxOptions().setEventBusOptions(eventBusOptions(c));
  }

  public static EventBusOptions eventBusOptions(SwitchboardConfig.Cluster c) {
    EventBusOptions o = new EventBusOptions().setHost(c.host()).setClusterPublicHost(c.host());
    if (c.busPort() > 0) {
      // A fixed port for firewalls and network policies; otherwise any free port, advertised as bound.
      o.setPort(c.busPort()).setClusterPublicPort(c.busPort());
    }
    return o;
  }

  static final String DEFAULT_FILE = "cluster.xml";

  public static Config hazelcastConfig(SwitchboardConfig.Cluster c) {
    Config hz = load(c.config());
    hz.setClusterName(c.name());
    hz.setProperty("hazelcast.phone.home.enabled", "false");
    hz.setProperty("hazelcast.logging.type", "slf4j");
    // Switchboard drains on SIGTERM and then leaves; Hazelcast's own hook would leave first.
    hz.setProperty("hazelcast.shutdownhook.enabled", "false");
    hz.setProperty("hazelcast.socket.bind.any", "false");
    // A member cut off for longer than the heartbeat timeout (a long pause, a partition) forms a cluster of its
    // own until Hazelcast merges the two; its default first look after 300 s, then every 120 s, leaves that
    // node's sessions missing messages for minutes. Unless cluster.xml says otherwise, look every 10 s.
    for (String merge : new String[] {"hazelcast.merge.first.run.delay.seconds", "hazelcast.merge.next.run.delay.seconds"}) {
      if (hz.getProperty(merge) == null) {
        hz.setProperty(merge, "10");
      }
    }
    NetworkConfig net = hz.getNetworkConfig();
    net.setPort(c.port()).setPortAutoIncrement(false);
    net.getInterfaces().setEnabled(true).clear().addInterface(c.host());
    net.setPublicAddress(c.host() + ":" + c.port());
    JoinConfig join = net.getJoin();
    join.getMulticastConfig().setEnabled(false);
    join.getAutoDetectionConfig().setEnabled(false);
    join.getAwsConfig().setEnabled(false);
    join.getGcpConfig().setEnabled(false);
    join.getAzureConfig().setEnabled(false);
    join.getEurekaConfig().setEnabled(false);
    if (c.kubernetesServiceDns() != null && !c.kubernetesServiceDns().isBlank()) {
      if (c.host().startsWith("127.")) {
        throw new ConfigException("cluster.host", "with Kubernetes discovery the node must bind its pod IP: "
            + "set SWITCHBOARD_CLUSTER_HOST from the downward API (fieldRef status.podIP)");
      }
      join.getTcpIpConfig().setEnabled(false);
      join.getKubernetesConfig().setEnabled(true)
          .setProperty("service-dns", c.kubernetesServiceDns().trim())
          .setProperty("service-port", String.valueOf(c.port()));
    } else {
      if (c.members().isEmpty()) {
        throw new ConfigException("cluster.members", "list at least one host:port to join (this node's own address "
            + "forms a cluster of one)");
      }
      join.getKubernetesConfig().setEnabled(false);
      join.getTcpIpConfig().setEnabled(true).setMembers(c.members());
    }
    return hz;
  }

  private static Config load(String path) {
    // Hazelcast picks its logger when its first class logs, reading the file below, before the property set on
    // the Config counts: without this its first lines go to java.util.logging, two lines each, not ours.
    if (System.getProperty("hazelcast.logging.type") == null) {
      System.setProperty("hazelcast.logging.type", "slf4j");
    }
    try {
      if (path != null && Files.isRegularFile(Path.of(path))) {
        return new FileSystemXmlConfig(path);
      }
      if (path != null && !DEFAULT_FILE.equals(path)) {
        // Only the default may fall back to the jar's copy: a file named on purpose and missing is a mistake.
        throw new ConfigException("cluster.config", path + " does not exist (leave it unset to use cluster.xml, "
            + "or the copy in the jar)");
      }
      return new ClasspathXmlConfig(DEFAULT_FILE);
    } catch (ConfigException e) {
      throw e;
    } catch (FileNotFoundException | RuntimeException e) {
      throw new ConfigException("cluster.config", "cannot read " + path + ": " + e.getMessage());
    }
  }

  /** Hazelcast binds only this machine's own addresses; anything else fails later with no key named. */
  public static void checkHost(String host) {
    try {
      InetAddress a = InetAddress.getByName(host);
      if (!a.isLoopbackAddress() && NetworkInterface.getByInetAddress(a) == null) {
        throw new ConfigException("cluster.host", host + " is not an address of this machine's network interfaces");
      }
    } catch (UnknownHostException | SocketException e) {
      throw new ConfigException("cluster.host", "cannot resolve " + host + ": " + e.getMessage());
    }
  }
}
