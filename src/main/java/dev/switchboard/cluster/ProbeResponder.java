package dev.switchboard.cluster;

import dev.switchboard.bus.Addresses;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.EventBus;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.JsonObject;

/**
 * The far end of the subscription probe (see {@code SessionHub}): on {@code switchboard.node.<id>.probe}
 * with {@code {"address","nonce"}}, publishes an empty message carrying the nonce in the {@link #HEADER}
 * header on the address, through this member's own routing table, then replies on the same connection. If
 * the probe reaches the subscriber before this reply does, a publish from this member would reach it too.
 *
 * <p>Every Switchboard node answers probes (its {@link NodeDirectory}), and so does a backend JVM as soon
 * as it creates a {@code Switchboard.publisher}, so its helper publishes are covered by the subscribe ack.
 */
public final class ProbeResponder {

  /** Header that marks a probe on a channel address; its value is the probe nonce. */
  public static final String HEADER = "sb-probe";

  private ProbeResponder() {}

  public static MessageConsumer<JsonObject> register(Vertx vertx, String nodeId) {
    EventBus eb = vertx.eventBus();
    return eb.consumer(Addresses.node(nodeId, "probe"), msg -> {
      JsonObject body = msg.body();
      String address = body == null ? null : body.getString("address");
      String nonce = body == null ? null : body.getString("nonce");
      if (address == null || nonce == null || !address.startsWith(Addresses.channel(""))) {
        msg.fail(400, "probe needs {\"address\":\"switchboard.ch.…\",\"nonce\":…}");
        return;
      }
      eb.publish(address, new JsonObject(), new DeliveryOptions().addHeader(HEADER, nonce));
      msg.reply(new JsonObject().put("ok", true));
    });
  }
}
