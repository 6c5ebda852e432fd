package dev.switchboard.it;

import static dev.switchboard.cluster.Tally.waitFor;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.cluster.Tally;
import dev.switchboard.testing.TestNodes;
import dev.switchboard.testing.WsClient;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Three node JVMs from the built jar; clients on each; every node publishes continuously; one node is
 * killed with -9. The survivors' sessions miss nothing the survivors accepted, and the dead node leaves
 * {@code /api/nodes} and presence within 30 s.
 */
@ExtendWith(VertxExtension.class)
class FailoverIT {

  static final String CHANNEL = "room:failover";

  /** Publishes over HTTP on one node, one message after the other, and remembers which were accepted. */
  static final class HttpPublisher extends Thread {
    final JarNode node;
    final String run;
    final String channel;
    final List<Integer> accepted = new CopyOnWriteArrayList<>();
    final AtomicBoolean stop = new AtomicBoolean();

    HttpPublisher(JarNode node, String run) {
      this(node, run, CHANNEL);
    }

    HttpPublisher(JarNode node, String run, String channel) {
      super("publisher-" + run);
      this.node = node;
      this.run = run;
      this.channel = channel;
      setDaemon(true);
    }

    @Override
    public void run() {
      for (int seq = 0; !stop.get(); seq++) {
        JarNode.Answer a = node.post("/api/publish",
            new JsonObject().put("channel", channel).put("message", Tally.msg(run, seq)).encode());
        if (a.status() == 200) {
          accepted.add(seq);
        }
        try {
          Thread.sleep(10);
        } catch (InterruptedException e) {
          return;
        }
      }
    }

    void finish() throws InterruptedException {
      stop.set(true);
      join(10_000);
    }
  }

  @Test
  void survivorsKeepDeliveringAndTheDeadNodeLeavesEveryView(Vertx vertx) throws Exception {
    List<JarNode> nodes = JarNode.cluster(3, Map.of());
    List<HttpPublisher> publishers = new ArrayList<>();
    try {
      List<List<WsClient>> subsByNode = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        List<WsClient> subs = new ArrayList<>();
        for (int j = 0; j < 2; j++) {
          WsClient c = WsClient.authed(vertx, nodes.get(i).port, TestNodes.token("u" + i + j, "failover")).await();
          JsonObject ack = c.request("s", new JsonObject().put("type", "subscribe").put("channel", CHANNEL), 10_000)
              .await();
          assertEquals("ack", ack.getString("type"), ack::encode);
          subs.add(c);
        }
        subsByNode.add(subs);
      }
      assertEquals(6, presenceCount(nodes.get(0)));

      for (int i = 0; i < 3; i++) {
        HttpPublisher p = new HttpPublisher(nodes.get(i), "p" + i);
        publishers.add(p);
        p.start();
      }
      waitFor(() -> publishers.stream().allMatch(p -> p.accepted.size() >= 30), 20_000, () -> "publishing");

      JarNode victim = nodes.get(2);
      long killedAt = System.currentTimeMillis();
      victim.kill9();
      publishers.get(2).finish();

      List<JarNode> survivors = nodes.subList(0, 2);
      for (JarNode s : survivors) {
        waitFor(() -> nodeCount(s) == 2, 30_000, () -> s.name + " still lists the dead node: " + s.get("/api/nodes"));
      }
      long goneFromNodes = System.currentTimeMillis() - killedAt;
      for (JarNode s : survivors) {
        waitFor(() -> presenceCount(s) == 4, 30_000,
            () -> s.name + " still shows the dead node's users: " + s.get("/api/presence/" + CHANNEL));
      }
      long goneFromPresence = System.currentTimeMillis() - killedAt;
      assertTrue(goneFromPresence < 30_000, "dead node out of every view within 30 s");
      System.out.printf("failover kill9_to_nodes_view_ms=%d kill9_to_presence_ms=%d%n", goneFromNodes, goneFromPresence);

      // The survivors keep publishing for a while after the removal, then close their runs with a marker.
      int before = publishers.get(0).accepted.size();
      waitFor(() -> publishers.get(0).accepted.size() >= before + 30, 10_000, () -> "publishing after failover");
      List<WsClient> survivorSubs = new ArrayList<>(subsByNode.get(0));
      survivorSubs.addAll(subsByNode.get(1));
      for (HttpPublisher p : publishers.subList(0, 2)) {
        p.finish();
        assertEquals(200, p.node.post("/api/publish", new JsonObject().put("channel", CHANNEL)
            .put("message", Tally.msg(p.run, -1)).encode()).status());
      }
      for (HttpPublisher p : publishers.subList(0, 2)) {
        int n = p.accepted.size();
        assertEquals(n, p.accepted.get(n - 1) + 1, "a survivor accepted every publish it was given");
        Tally.assertExactlyOnce(survivorSubs, CHANNEL, p.run, n);
      }
    } finally {
      for (HttpPublisher p : publishers) {
        p.stop.set(true);
      }
      nodes.forEach(JarNode::close);
    }
  }

  static int nodeCount(JarNode n) {
    JarNode.Answer a = n.get("/api/nodes");
    return a.status() == 200 ? new JsonObject(a.body()).getInteger("count") : -1;
  }

  static int presenceCount(JarNode n) {
    JarNode.Answer a = n.get("/api/presence/" + CHANNEL);
    return a.status() == 200 ? new JsonObject(a.body()).getInteger("count") : -1;
  }
}
