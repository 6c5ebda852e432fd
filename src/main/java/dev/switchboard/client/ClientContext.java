package dev.switchboard.client;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.util.function.Supplier;

/** The one Vert.x context a client's state lives on: its methods may be called from any thread and hop onto it. */
final class ClientContext {

  private final Context ctx;

  ClientContext(Context ctx) {
    this.ctx = ctx;
  }

  /** Runs now when already on the context, else as soon as the context gets to it. */
  void run(Runnable r) {
    if (Vertx.currentContext() == ctx) {
      r.run();
    } else {
      later(r);
    }
  }

  /** Runs after what the context is doing now, even when called on it. */
  void later(Runnable r) {
    ctx.runOnContext(v -> r.run());
  }

  <T> Future<T> call(Supplier<Future<T>> body) {
    if (Vertx.currentContext() == ctx) {
      return body.get();
    }
    Promise<T> p = Promise.promise();
    ctx.runOnContext(v -> body.get().onComplete(p));
    return p.future();
  }
}
