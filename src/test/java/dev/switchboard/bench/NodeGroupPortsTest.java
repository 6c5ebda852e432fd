package dev.switchboard.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import org.junit.jupiter.api.Test;

/** --port-base: a run's ports come from the range the user chose, in order, and never from outside it. */
class NodeGroupPortsTest {

  @Test
  void portsAreTakenInOrderFromTheBase() throws IOException {
    int base = freeRange();
    NodeGroup.Ports ports = new NodeGroup.Ports(base);
    assertEquals(base, ports.next());
    assertEquals(base + 1, ports.next());
  }

  @Test
  void aPortOfTheRangeInUseFailsTheRunNamingIt() throws IOException {
    int base = freeRange();
    try (ServerSocket taken = new ServerSocket(base + 1, 50, InetAddress.getByName("127.0.0.1"))) {
      NodeGroup.Ports ports = new NodeGroup.Ports(base);
      ports.next();
      IOException e = assertThrows(IOException.class, ports::next);
      assertTrue(e.getMessage().startsWith("--port-base: port " + (base + 1) + " "), e.getMessage());
    }
  }

  @Test
  void aRunNeverLeavesTheRange() throws IOException {
    int base = freeRange();
    NodeGroup.Ports ports = new NodeGroup.Ports(base);
    for (int i = 0; i < BenchSettings.PORT_RANGE; i++) {
      ports.next();
    }
    assertThrows(IOException.class, ports::next);
  }

  /** A base whose whole range was free a moment ago (the OS's ephemeral range is above it). */
  private static int freeRange() throws IOException {
    for (int base = 20_000 + (int) (ProcessHandle.current().pid() % 5_000) * 4; base < 45_000; base += 97) {
      if (allFree(base)) {
        return base;
      }
    }
    throw new IllegalStateException("no free range of " + BenchSettings.PORT_RANGE + " ports");
  }

  private static boolean allFree(int base) {
    for (int p = base; p < base + BenchSettings.PORT_RANGE; p++) {
      try (ServerSocket s = new ServerSocket(p, 50, InetAddress.getByName("127.0.0.1"))) {
        // free
      } catch (IOException e) {
        return false;
      }
    }
    return true;
  }
}
