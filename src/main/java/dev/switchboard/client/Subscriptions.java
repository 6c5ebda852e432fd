package dev.switchboard.client;

import dev.switchboard.client.SwitchboardClient.Delivery;
import dev.switchboard.client.SwitchboardClient.Options;
import dev.switchboard.client.SwitchboardClient.Subscribed;
import dev.switchboard.client.SwitchboardClient.Subscription;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The channels the app listens to, kept subscribed from one session to the next: (re)subscribes go out paced
 * ({@link SubscribePacer}) with {@code since} from each channel's {@link ChannelPosition}; one refused for now
 * ({@code rate_limited}, {@code internal}) is sent again after a growing delay; deliveries reach the channel's
 * handlers once each. Used on the client's context only, but for the handler lists.
 */
final class Subscriptions {

  private static final Set<String> FINAL_SUBSCRIBE_ERRORS = Set.of("forbidden", "bad_request", "too_large", "unauthorized");

  private final Vertx vertx;
  private final Options opts;
  private final Connection conn;
  private final ClientContext context;
  private final List<Handler<Subscribed>> subscribedHandlers = new CopyOnWriteArrayList<>();
  private final List<Handler<Delivery>> messageHandlers = new CopyOnWriteArrayList<>();
  private final Map<String, ChannelEntry> subs = new LinkedHashMap<>();
  private final SubscribePacer pacer;
  private Set<String> automatic = Set.of();
  /** Counts sessions, so a subscribe retry armed on an earlier one does nothing. */
  private long session;

  Subscriptions(Vertx vertx, Options opts, Connection conn, ClientContext context) {
    this.vertx = vertx;
    this.opts = opts;
    this.conn = conn;
    this.context = context;
    this.pacer = new SubscribePacer(vertx, new SubscribePacer.Target() {
      @Override
      public boolean connected() {
        return conn.connected();
      }

      @Override
      public boolean wanted(ChannelEntry e) {
        return subs.get(e.channel) == e;
      }

      @Override
      public boolean needsFrame(ChannelEntry e) {
        return needsSubscribeFrame(e);
      }

      @Override
      public void send(ChannelEntry e) {
        sendSubscribe(e, e.resubscribe);
      }
    }, opts.subscribeBurst, opts.subscribeRate);
  }

  void onSubscribed(Handler<Subscribed> handler) {
    subscribedHandlers.add(handler);
  }

  void onMessage(Handler<Delivery> handler) {
    messageHandlers.add(handler);
  }

  /** Adds a handler; completes with the channel's first ack (at once when it has one). */
  Future<Subscription> subscribe(String channel, Handler<Delivery> handler) {
    ChannelEntry e = subs.get(channel);
    boolean isNew = e == null;
    if (isNew) {
      e = new ChannelEntry(channel, new ChannelPosition(vertx, () -> opts.reorderWindow));
      subs.put(channel, e);
    }
    e.handlers.add(handler);
    ChannelEntry entry = e;
    Promise<Subscribed> acked = Promise.promise();
    if (e.acked != null) {
      acked.complete(e.acked);
    } else {
      e.waiters.add(acked);
    }
    if (isNew && conn.connected()) {
      enqueue(e, false, true);
    }
    return acked.future().map(info -> new Subscription() {
      @Override
      public String channel() {
        return channel;
      }

      @Override
      public Subscribed acked() {
        return info;
      }

      @Override
      public Future<Void> unsubscribe() {
        return context.call(() -> removeHandler(entry, handler));
      }
    });
  }

  /** The channel's position, {@code {"offset","epoch"}}, or null. */
  JsonObject position(String channel) {
    ChannelEntry e = subs.get(channel);
    return e == null ? null : e.position.current();
  }

  /** A session authenticated with these automatic channels; set before the app hears CONNECTED. */
  void automatic(Set<String> channels) {
    automatic = channels;
  }

  /**
   * A session authenticated: queues every channel for it, sent once the client is connected; one acked on an
   * earlier session is a resubscribe. A channel the app adds meanwhile joins the queue, so each goes out once.
   */
  void newSession() {
    session++;
    reset();
    pacer.restart(opts.subscribeBurst, opts.subscribeRate);
    for (ChannelEntry e : List.copyOf(subs.values())) {
      // An entry acked on an earlier connection is a resubscribe; the app may need its recovered flag.
      enqueue(e, e.acked != null, false);
    }
  }

  /** Sends what is queued, paced (the app's handlers of CONNECTED may have sent some of it already). */
  void sendQueued() {
    pacer.pump();
  }

  /** Forgets what was queued or waiting to retry on the session that ended; the next one resubscribes all. */
  void reset() {
    pacer.clear();
    for (ChannelEntry e : subs.values()) {
      cancelRetry(e);
      // A gap open when the session ended is left to the resubscribe's since, which replays what is missing.
      e.position.cancelGap();
    }
  }

  /** The client is closed for good, or stays closed: every subscribe() still waiting for its first ack fails. */
  void failWaiters(String code, String message) {
    for (ChannelEntry e : subs.values()) {
      e.failWaiters(new SwitchboardException(code, message));
    }
  }

  /** A message frame: to the channel's handlers, then to onMessage's; a replay already delivered is dropped. */
  void deliver(JsonObject f) {
    String channel = f.getString("channel");
    ChannelEntry e = subs.get(channel);
    Long offset = f.getValue("offset") instanceof Number n ? n.longValue() : null;
    String epoch = f.getString("epoch");
    if (e != null && offset != null && epoch != null && !e.position.track(offset, epoch)) {
      return; // already delivered (a replay after a reconnect)
    }
    Delivery d = new Delivery(channel, f.getValue("message"), f.getString("from_user"), f.getString("timestamp"), offset, epoch);
    if (e != null) {
      for (Handler<Delivery> h : List.copyOf(e.handlers)) {
        try {
          h.handle(d);
        } catch (RuntimeException ex) {
          conn.error(ex);
        }
      }
    }
    for (Handler<Delivery> h : messageHandlers) {
      try {
        h.handle(d);
      } catch (RuntimeException ex) {
        conn.error(ex);
      }
    }
  }

  private void enqueue(ChannelEntry e, boolean resubscribe, boolean pump) {
    e.resubscribe = resubscribe;
    pacer.add(e);
    if (pump) {
      pacer.pump();
    }
  }

  private void sendSubscribe(ChannelEntry e, boolean resubscribe) {
    if (!needsSubscribeFrame(e)) {
      subscribed(e, new Subscribed(e.channel, null, resubscribe, true));
      return;
    }
    JsonObject frame = new JsonObject().put("type", "subscribe").put("channel", e.channel);
    JsonObject since = e.position.current();
    if (since != null) {
      frame.put("since", since);
    }
    e.sentOn = session;
    // No client-side timeout: a subscription stays wanted until unsubscribed; liveness is the ping's job.
    conn.send(frame, true, 0).onComplete(ar -> {
      if (subs.get(e.channel) != e) {
        return;
      }
      if (ar.succeeded()) {
        e.retries = 0;
        e.position.fromAck(ar.result());
        subscribed(e, new Subscribed(e.channel, ar.result().getBoolean("recovered"), resubscribe,
            automatic.contains(e.channel)));
        return;
      }
      SwitchboardException err = ar.cause() instanceof SwitchboardException se ? se
          : new SwitchboardException("internal", ar.cause().getMessage());
      if (FINAL_SUBSCRIBE_ERRORS.contains(err.code()) && automatic.contains(e.channel)) {
        // The session is on it anyway; only the position is not to be had (a config that refuses the subscribe).
        e.automaticRefused = true;
        subscribed(e, new Subscribed(e.channel, null, resubscribe, true));
        return;
      }
      if (FINAL_SUBSCRIBE_ERRORS.contains(err.code())) {
        forget(e);
        e.failWaiters(err);
        conn.error(new SwitchboardException(err.code(), e.channel + ": " + err.getMessage()));
        return;
      }
      if ("closed".equals(err.code())) {
        return; // failWaiters already told the waiters
      }
      if ("rate_limited".equals(err.code())) {
        pacer.drain();
      } else {
        conn.error(new SwitchboardException(err.code(), e.channel + ": " + err.getMessage()));
      }
      retry(e, resubscribe);
    });
  }

  /** Sends a refused-for-now subscribe again after a growing delay, half of it jitter, on the same session only. */
  private void retry(ChannelEntry e, boolean resubscribe) {
    long delay = Backoff.equalJitter(e.retries++, opts.subscribeRetryBase.toMillis(), opts.backoffCap.toMillis(),
        opts.random.getAsDouble());
    long armedOn = session;
    cancelRetry(e);
    e.retryTimer = vertx.setTimer(delay, t -> {
      e.retryTimer = -1;
      if (subs.get(e.channel) == e && session == armedOn && conn.connected()) {
        enqueue(e, resubscribe, true);
      }
    });
  }

  /**
   * The server puts every session on user:&lt;self&gt;, broadcast and segment:… itself. A subscribe for
   * user:&lt;self&gt; is still sent when the app listens to it: its ack carries the position, and a since after a
   * reconnect recovers the direct messages sent meanwhile, when the user namespace keeps history. The server
   * refuses it for broadcast and segment:…, which keep no history.
   */
  private boolean needsSubscribeFrame(ChannelEntry e) {
    if (!automatic.contains(e.channel)) {
      return true;
    }
    return e.channel.startsWith("user:") && !e.automaticRefused;
  }

  private void subscribed(ChannelEntry e, Subscribed info) {
    e.acked = info;
    e.completeWaiters(info);
    for (Handler<Subscribed> h : subscribedHandlers) {
      h.handle(info);
    }
  }

  private Future<Void> removeHandler(ChannelEntry e, Handler<Delivery> handler) {
    e.handlers.remove(handler);
    if (e.handlers.isEmpty() && subs.get(e.channel) == e) {
      forget(e);
      // Still queued or waiting to retry: the server never heard of it on this session, so nothing to leave.
      if (conn.connected() && e.sentOn == session && !automatic.contains(e.channel)) {
        return conn.send(new JsonObject().put("type", "unsubscribe").put("channel", e.channel), false,
            opts.requestTimeout.toMillis()).mapEmpty();
      }
    }
    return Future.succeededFuture();
  }

  /** The channel is no longer wanted: nothing of it waits for a timer. */
  private void forget(ChannelEntry e) {
    subs.remove(e.channel);
    cancelRetry(e);
    e.position.cancelGap();
  }

  private void cancelRetry(ChannelEntry e) {
    if (e.retryTimer >= 0) {
      vertx.cancelTimer(e.retryTimer);
    }
    e.retryTimer = -1;
  }
}
