package dev.switchboard.client;

import dev.switchboard.bus.Addresses;
import dev.switchboard.bus.Publication;
import dev.switchboard.cluster.ConsumerDirectory;
import dev.switchboard.protocol.Channel;
import dev.switchboard.router.ChannelRules;
import dev.switchboard.router.MessageSize;
import dev.switchboard.router.Undelivered;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.EncodeException;
import java.util.HashMap;
import java.util.Map;

/**
 * Publishes from a backend JVM that joined the cluster with Switchboard's {@code cluster.xml}. It applies the
 * router's checks itself (channel name, message size, a namespace's size limit when given one with
 * {@link #maxMessageSize(String, int)}) and publishes straight onto the channel's address,
 * so a publish costs one cluster hop and no request/reply. Same guarantee as the router: delivered once to
 * each session subscribed at that moment, at most once, in order for one publishing thread and channel.
 *
 * <p>A publish to a {@code user:} channel that no node holds a consumer for is reported on
 * {@code switchboard.undelivered} with reason {@code no_session}, as the router does (decided after the publish
 * from this JVM's event-bus routing table, see {@link ConsumerDirectory}; turn it off with
 * {@link #reportUndelivered(boolean)}).
 *
 * <pre>{@code
 * Publisher p = Switchboard.publisher(vertx);
 * p.toUser("alice", new JsonObject().put("text", "hi"));
 * p.toSegment("dept", "sales", new JsonObject().put("text", "quota met"));
 * }</pre>
 *
 * <p>The returned future fails, with the reason, when the router would refuse the publish; otherwise it is
 * already complete when the method returns. Instances are immutable and safe to share between threads.
 */
public final class Publisher {

  private final Vertx vertx;
  private final int maxMessageSize;
  /** Namespace → its own max_message_size, as the nodes' channels.namespaces.<ns> set it; never mutated. */
  private final Map<String, Integer> namespaceSizes;
  private final String fromUser;
  private final boolean reportUndelivered;

  Publisher(Vertx vertx, int maxMessageSize, Map<String, Integer> namespaceSizes, String fromUser,
            boolean reportUndelivered) {
    this.vertx = vertx;
    this.maxMessageSize = maxMessageSize;
    this.namespaceSizes = namespaceSizes;
    this.fromUser = fromUser;
    this.reportUndelivered = reportUndelivered;
  }

  /** A publisher whose messages carry {@code from_user}. */
  public Publisher as(String user) {
    return new Publisher(vertx, maxMessageSize, namespaceSizes, user, reportUndelivered);
  }

  /** A publisher with another size limit (match the nodes' session.max_message_size). */
  public Publisher maxMessageSize(int bytes) {
    return new Publisher(vertx, bytes, namespaceSizes, fromUser, reportUndelivered);
  }

  /**
   * A publisher that also applies a namespace's own limit (match the nodes'
   * {@code channels.namespaces.<namespace>.max_message_size}): the helper does not read the nodes' config, and
   * publishes straight to the channel, where no router is left to refuse it.
   */
  public Publisher maxMessageSize(String namespace, int bytes) {
    if (bytes < 1) {
      throw new IllegalArgumentException("max_message_size of " + namespace + " must be at least 1 byte, was " + bytes);
    }
    Map<String, Integer> sizes = new HashMap<>(namespaceSizes);
    sizes.put(namespace, bytes);
    return new Publisher(vertx, maxMessageSize, Map.copyOf(sizes), fromUser, reportUndelivered);
  }

  /** Whether {@code user:} publishes no session receives are reported on switchboard.undelivered (default true). */
  public Publisher reportUndelivered(boolean report) {
    return new Publisher(vertx, maxMessageSize, namespaceSizes, fromUser, report);
  }

  public Future<Void> toUser(String userId, Object message) {
    return publish(Channel.USER + ":" + userId, message);
  }

  public Future<Void> toRoom(String room, Object message) {
    return publish(Channel.ROOM + ":" + room, message);
  }

  public Future<Void> toTopic(String topic, Object message) {
    return publish(Channel.TOPIC + ":" + topic, message);
  }

  public Future<Void> toSegment(String claim, String value, Object message) {
    return publish(Channel.SEGMENT + ":" + claim + "=" + value, message);
  }

  public Future<Void> broadcast(Object message) {
    return publish(Channel.BROADCAST, message);
  }

  /** Fails with the reason when the channel or message would be refused by the router. */
  public Future<Void> publish(String channel, Object message) {
    Channel.Result r = Channel.parse(channel);
    if (!r.ok()) {
      return Future.failedFuture(new IllegalArgumentException("bad channel name: " + r.error()));
    }
    if (Channel.SYSTEM.equals(r.channel().namespace())) {
      return Future.failedFuture(new IllegalArgumentException(ChannelRules.SYSTEM_IS_READ_ONLY));
    }
    if (message == null) {
      return Future.failedFuture(new IllegalArgumentException("message is required"));
    }
    String address = Addresses.channel(r.channel());
    Publication pub = Publication.now(r.channel().toString(), message, fromUser);
    try {
      String namespace = r.channel().namespace();
      Integer own = namespaceSizes.get(namespace);
      // One measurement against the smaller limit: a message within it is within the other.
      if (own != null && own < maxMessageSize) {
        if (MessageSize.over(message, own)) {
          return Future.failedFuture(new IllegalArgumentException("message is larger than channels.namespaces."
              + namespace + ".max_message_size (" + own + " bytes) for " + namespace + ": channels"));
        }
      } else if (MessageSize.over(message, maxMessageSize)) {
        return Future.failedFuture(new IllegalArgumentException("message is larger than " + maxMessageSize + " bytes"));
      }
      vertx.eventBus().publish(address, pub.toJson());
    } catch (EncodeException e) {
      // An object Jackson cannot write (a plain Object, a java.time value without its module): the future says so.
      return Future.failedFuture(new IllegalArgumentException("message cannot be written as JSON: " + e.getMessage(), e));
    }
    if (reportUndelivered && Channel.USER.equals(r.channel().namespace())) {
      ConsumerDirectory directory = ConsumerDirectory.of(vertx);
      if (directory != null) {
        Undelivered.reportIfNoConsumer(vertx, directory, address, pub);
      }
    }
    return Future.succeededFuture();
  }
}
