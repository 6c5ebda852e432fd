package dev.switchboard.client;

import io.vertx.core.Vertx;

/** Entry point for backend code: {@code Switchboard.publisher(vertx).toRoom("lobby", msg)}. */
public final class Switchboard {

  /** The default max_message_size of a node (64 KiB). */
  public static final int DEFAULT_MAX_MESSAGE_SIZE = 65536;

  private Switchboard() {}

  /** A publisher on a clustered (or, in tests, standalone) Vert.x that shares the nodes' event bus. */
  public static Publisher publisher(Vertx vertx) {
    return new Publisher(vertx, DEFAULT_MAX_MESSAGE_SIZE, null);
  }
}
