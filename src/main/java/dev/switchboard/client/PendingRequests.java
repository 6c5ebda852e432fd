package dev.switchboard.client;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The requests waiting for their answer, matched by id. One made while offline waits here, unsent, for the next
 * authentication. Used on the client's context only.
 */
final class PendingRequests {

  private static final class Pending {
    final JsonObject frame;
    final Promise<JsonObject> promise = Promise.promise();
    /** A subscribe is sent again after a reconnect, so losing the connection does not fail it. */
    final boolean subscribe;
    long timer = -1;
    boolean sent;

    Pending(JsonObject frame, boolean subscribe) {
      this.frame = frame;
      this.subscribe = subscribe;
    }
  }

  private final Vertx vertx;
  private final Map<Long, Pending> pending = new LinkedHashMap<>();
  private long nextId = 1;

  PendingRequests(Vertx vertx) {
    this.vertx = vertx;
  }

  /**
   * Numbers the request and writes it now when {@code write} is given, else at the next {@link #sendQueued};
   * fails with "timeout" when not answered within {@code timeoutMs} (0: waits for good).
   */
  Future<JsonObject> add(JsonObject frame, boolean subscribe, long timeoutMs, Consumer<JsonObject> write) {
    long id = nextId++;
    Pending p = new Pending(frame.copy().put("id", id), subscribe);
    if (timeoutMs > 0) {
      p.timer = vertx.setTimer(timeoutMs, t -> {
        if (pending.remove(id, p)) {
          p.promise.tryFail(new SwitchboardException("timeout",
              "no answer to " + frame.getString("type") + " within " + timeoutMs + " ms"));
        }
      });
    }
    pending.put(id, p);
    if (write != null) {
      p.sent = true;
      write.accept(p.frame);
    }
    return p.promise.future();
  }

  /** Settles the request a frame answers by its id, failing it on an error frame; false when it answers none. */
  boolean answer(JsonObject f) {
    Long id = f.getValue("id") instanceof Number n ? n.longValue() : null;
    Pending p = id == null ? null : pending.remove(id);
    if (p == null) {
      return false;
    }
    cancel(p.timer);
    if ("error".equals(f.getString("type"))) {
      p.promise.tryFail(new SwitchboardException(f.getString("code"), f.getString("message")));
    } else {
      p.promise.tryComplete(f);
    }
    return true;
  }

  /** Writes the requests made while offline, in the order they were made. */
  void sendQueued(Consumer<JsonObject> write) {
    for (Map.Entry<Long, Pending> q : List.copyOf(pending.entrySet())) {
      if (!q.getValue().sent && pending.containsKey(q.getKey())) {
        q.getValue().sent = true;
        write.accept(q.getValue().frame);
      }
    }
  }

  /** Requests written to the lost socket may or may not have been handled: fail them; keep the queued ones. */
  void dropInFlight() {
    for (Map.Entry<Long, Pending> q : List.copyOf(pending.entrySet())) {
      Pending p = q.getValue();
      if (!p.sent) {
        continue;
      }
      pending.remove(q.getKey());
      cancel(p.timer);
      if (!p.subscribe) {
        p.promise.tryFail(new SwitchboardException("disconnected",
            "the connection was lost before the answer to " + p.frame.getString("type") + " arrived"));
      }
      // A subscribe is simply sent again after the reconnect.
    }
  }

  void failAll(String code, String message) {
    for (Pending p : List.copyOf(pending.values())) {
      cancel(p.timer);
      p.promise.tryFail(new SwitchboardException(code, message));
    }
    pending.clear();
  }

  private void cancel(long timer) {
    if (timer >= 0) {
      vertx.cancelTimer(timer);
    }
  }
}
