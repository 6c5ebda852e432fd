package dev.switchboard.cluster;

import com.hazelcast.config.ClasspathXmlConfig;
import com.hazelcast.config.Config;
import com.hazelcast.config.FileSystemXmlConfig;
import com.hazelcast.config.JoinConfig;
import com.hazelcast.config.NetworkConfig;
import dev.switchboard.config.ConfigException;
import dev.switchboard.config.SwitchboardConfig;
import io.vertx.spi.cluster.hazelcast.HazelcastClusterManager;
import java.io.FileNotFoundException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Builds the Hazelcast cluster manager from {@code cluster.xml} and the SWITCHBOARD_CLUSTER_* settings.
 * Whatever the file says, the network rules of a Switchboard node hold: TCP-IP join with explicit
 * members, multicast and auto-detection off, phone-home off, bound to the configured interface only.
 */
public final class ClusterSetup {

  private ClusterSetup() {}

  public static HazelcastClusterManager clusterManager(SwitchboardConfig.Cluster c) {
    return new HazelcastClusterManager(hazelcastConfig(c));
  }

  public static Config hazelcastConfig(SwitchboardConfig.Cluster c) {
    Config hz = load(c.config());
    hz.setClusterName(c.name());
    hz.setProperty("hazelcast.phone.home.enabled", "false");
    hz.setProperty("hazelcast.logging.type", "slf4j");
    hz.setProperty("hazelcast.shutdownhook.enabled", "false");
    hz.setProperty("hazelcast.socket.bind.any", "false");
    NetworkConfig net = hz.getNetworkConfig();
    net.setPort(c.port()).setPortAutoIncrement(false);
    net.getInterfaces().setEnabled(true).clear().addInterface(c.host());
    net.setPublicAddress(c.host() + ":" + c.port());
    JoinConfig join = net.getJoin();
    join.getMulticastConfig().setEnabled(false);
    join.getAutoDetectionConfig().setEnabled(false);
    join.getTcpIpConfig().setEnabled(true).setMembers(c.members());
    return hz;
  }

  private static Config load(String path) {
    try {
      if (path != null && Files.isRegularFile(Path.of(path))) {
        return new FileSystemXmlConfig(path);
      }
      return new ClasspathXmlConfig("cluster.xml");
    } catch (FileNotFoundException | RuntimeException e) {
      throw new ConfigException("cluster.config", "cannot read " + path + ": " + e.getMessage());
    }
  }
}
