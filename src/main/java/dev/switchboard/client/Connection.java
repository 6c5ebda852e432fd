package dev.switchboard.client;

import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;

/** What the parts of a client ask of its connection; called on the client's context only. */
interface Connection {

  /** Whether a session is authenticated now. */
  boolean connected();

  /**
   * Sends the frame now when connected, else at the next authentication, and completes with its answer; a
   * subscribe is not failed by a lost connection (it is sent again), and timeoutMs 0 waits for good.
   */
  Future<JsonObject> send(JsonObject frame, boolean subscribe, long timeoutMs);

  /** Reports to the app's onError handlers. */
  void error(Throwable t);
}
