package dev.switchboard.router;

import dev.switchboard.bus.Addresses;
import dev.switchboard.bus.Publication;
import dev.switchboard.cluster.ConsumerDirectory;
import dev.switchboard.cluster.NodeContext;
import dev.switchboard.metrics.LogLineLayout;
import dev.switchboard.protocol.Channel;
import io.vertx.core.Vertx;
import io.vertx.core.json.Json;
import io.vertx.core.json.JsonObject;
import java.util.concurrent.ThreadLocalRandom;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Hands a stamped publication to the clustered event bus, and what goes with it: the {@code no_session}
 * check of {@code user:} channels, the {@link Addresses#INBOUND} copy of a client's publish, the message
 * sample log. Thread-safe and without state of its own, so a session publishes through it from its own
 * event loop (no request/reply to the router) on channels that keep no history; history appends need the
 * router's per-channel order.
 */
public final class Fanout {

  private static final Logger log = LoggerFactory.getLogger(Fanout.class);

  private final NodeContext node;
  private final Vertx vertx;
  private final double sampleRate;

  public Fanout(NodeContext node) {
    this.node = node;
    this.vertx = node.vertx();
    this.sampleRate = node.config().logging().messageSampleRate();
  }

  /**
   * One event-bus publish to every node holding a consumer for the channel. For a {@code user:} channel it
   * then asks the node-local routing table the publish was just routed with ({@link ConsumerDirectory})
   * whether any node holds a consumer, and reports the publication undelivered when none does. The check
   * runs after the publish, off the delivery path, so it neither delays delivery nor reorders a publisher's
   * messages.
   */
  public void publish(Publication pub, Channel ch) {
    String address = Addresses.channel(ch);
    vertx.eventBus().publish(address, pub.toJson());
    if (!Channel.USER.equals(ch.namespace())) {
      return;
    }
    Undelivered.reportIfNoSession(node, pub, address);
  }

  /** The copy of a client's publish on {@link Addresses#INBOUND}, and the sampled log line of any publish. */
  public void accepted(Publication pub, boolean fromClient) {
    if (fromClient && ConsumerDirectory.worthPublishing(vertx, Addresses.INBOUND)) {
      vertx.eventBus().publish(Addresses.INBOUND, new JsonObject()
          .put("channel", pub.channel()).put("message", pub.message()).put("from_user", pub.fromUser())
          .put("timestamp", pub.timestamp()).put("node", node.name()));
    }
    if (sampleRate > 0 && ThreadLocalRandom.current().nextDouble() < sampleRate) {
      String text = Json.encode(pub.message());
      log.info("event=message_sample channel={} from_user={} body={}", pub.channel(), LogLineLayout.quote(pub.fromUser()),
          LogLineLayout.quote(text.length() > 200 ? text.substring(0, 200) + "…" : text));
    }
  }
}
