package dev.switchboard.client;

import static dev.switchboard.client.SwitchboardClientTest.await;
import static dev.switchboard.client.SwitchboardClientTest.ws;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.switchboard.SwitchboardNode;
import dev.switchboard.client.SwitchboardClient.State;
import dev.switchboard.testing.TestNodes;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The Java client's subscriptions against real nodes: pacing and retry under the inbound limit. */
@ExtendWith(VertxExtension.class)
class SwitchboardClientSubscriptionsTest {

  @Test
  void moreChannelsThanTheServersBurstAreAllSubscribedBeforeAndAfterAReconnect(Vertx vertx) {
    // A budget of 8 at once and 8/s: of 24 subscribes sent together, 16 would be refused rate_limited.
    SwitchboardNode node = TestNodes.standalone(new JsonObject()
        .put("limits", new JsonObject().put("messages_per_second", 8).put("burst", 8)));
    CuttableProxy proxy = CuttableProxy.start(vertx, node.port());
    Set<String> acked = ConcurrentHashMap.newKeySet();
    Set<String> reacked = ConcurrentHashMap.newKeySet();
    List<Throwable> errors = new CopyOnWriteArrayList<>();
    SwitchboardClient client = SwitchboardClient.create(vertx, new SwitchboardClient.Options()
        .url(ws(proxy.port()))
        .token(TestNodes.token("pat"))
        .backoff(Duration.ofMillis(50), Duration.ofMillis(400))
        .subscribeRetry(Duration.ofMillis(300)));
    client.onError(errors::add).onSubscribed(s -> (s.resubscribed() ? reacked : acked).add(s.channel()));
    List<String> channels = new ArrayList<>();
    for (int i = 0; i < 24; i++) {
      channels.add("topic:t" + i);
    }
    try {
      client.connect().await();
      for (String ch : channels) {
        client.subscribe(ch, m -> { });
      }
      await(() -> acked.size() == channels.size(), 20_000,
          () -> "every channel acked on the first connection, missing: " + missing(channels, acked));

      proxy.cut();
      await(() -> client.state() != State.CONNECTED, 5_000, "the client saw the cut");
      proxy.up();
      await(() -> reacked.size() == channels.size(), 20_000,
          () -> "every channel resubscribed after the reconnect, missing: " + missing(channels, reacked));
      assertEquals(List.of(), errors.stream().filter(e -> e instanceof SwitchboardException se
          && "rate_limited".equals(se.code())).toList(), "a refusal for now is retried, not reported");
    } finally {
      client.close().await();
      proxy.close().await();
      node.close().await();
    }
  }

  static List<String> missing(List<String> wanted, Set<String> got) {
    return wanted.stream().filter(c -> !got.contains(c)).collect(Collectors.toList());
  }
}
