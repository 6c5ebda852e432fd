package dev.switchboard.client;

import dev.switchboard.client.SwitchboardClient.Options;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Supplier;

/**
 * The token connection attempts use, and the renewals of the live session's. The server answers one auth at a
 * time ("authentication already in progress" otherwise), so renewals go one at a time and a newer token takes
 * the place of one still waiting. A token the server refuses is never taken for the next reconnect. Used on the
 * client's context only.
 */
final class Tokens {

  /** A renewal waiting its turn; seq 0: the renewal timer asking the supplier again, which changes no token. */
  private static final class RenewJob {
    Supplier<Future<String>> source;
    boolean fixed;
    long seq;
    final List<Promise<Void>> waiters = new ArrayList<>();
  }

  private final Vertx vertx;
  private final ClientContext context;
  private final Connection conn;
  private final Options opts;
  private Supplier<Future<String>> source;
  private boolean fixed;
  /** The last token sent, so a supplier handing back the one the server refused is noticed. */
  private String lastToken;
  private boolean needNewToken;
  /** Numbers setToken() calls, so an older renewal finishing late cannot undo a newer token. */
  private long seq;
  private long inUse;
  private RenewJob inFlight;
  private RenewJob next;
  private long renewTimer = -1;

  Tokens(Vertx vertx, Options opts, Connection conn, ClientContext context) {
    this.vertx = vertx;
    this.context = context;
    this.conn = conn;
    this.opts = opts;
    this.source = opts.token;
    this.fixed = opts.fixedToken;
  }

  /** A fixed token, which only setToken() replaces; else a supplier, asked again for every attempt. */
  boolean fixed() {
    return fixed;
  }

  /** The token for a connection attempt. */
  Future<String> fetch() {
    return ask(source);
  }

  private static Future<String> ask(Supplier<Future<String>> source) {
    try {
      return source.get();
    } catch (RuntimeException e) {
      return Future.failedFuture(e);
    }
  }

  /** The server refused the token in use (1008/4010): the supplier has to hand out another one. */
  void requireNew() {
    needNewToken = true;
  }

  /** Whether this is the very token the server refused, so the client waits for setToken() instead. */
  boolean refusedAgain(String token) {
    return needNewToken && Objects.equals(token, lastToken);
  }

  /** A connection attempt sends this token. */
  void sending(String token) {
    needNewToken = false;
    lastToken = token;
  }

  /** setToken() while connected: renews the session with it, after the renewal in flight. */
  Future<Void> renewWith(Supplier<Future<String>> source, boolean fixed) {
    return queueRenewal(source, fixed, ++seq);
  }

  /** setToken() while not connected: the next attempt uses it. */
  void replace(Supplier<Future<String>> source, boolean fixed) {
    use(source, fixed, ++seq);
  }

  /** After auth_success: renews at 80 % of the token's remaining life, well inside the server's expiry grace. */
  void scheduleRenewal(Long expiresIn) {
    cancelRenewal();
    if (fixed || expiresIn == null || expiresIn <= 0) {
      return;
    }
    renewTimer = vertx.setTimer(Math.max(1000, expiresIn * 800), t -> {
      renewTimer = -1;
      if (inFlight == null && next == null) {
        queueRenewal(source, fixed, 0);
      }
    });
  }

  void cancelRenewal() {
    if (renewTimer >= 0) {
      vertx.cancelTimer(renewTimer);
    }
    renewTimer = -1;
  }

  /** Makes a token the one connection attempts use, unless a newer setToken() already took its place. */
  private void use(Supplier<Future<String>> source, boolean fixed, long seq) {
    if (seq >= inUse) {
      inUse = seq;
      this.source = source;
      this.fixed = fixed;
      needNewToken = false;
    }
  }

  private Future<Void> queueRenewal(Supplier<Future<String>> source, boolean fixed, long seq) {
    RenewJob job = next;
    if (job == null) {
      job = new RenewJob();
      next = job;
    }
    // Not sent yet, so a newer token simply takes its place: the older one would be replaced at once anyway.
    job.source = source;
    job.fixed = fixed;
    job.seq = seq;
    Promise<Void> done = Promise.promise();
    job.waiters.add(done);
    pumpRenewal();
    return done.future();
  }

  private void pumpRenewal() {
    if (inFlight != null || next == null) {
      return;
    }
    RenewJob job = next;
    next = null;
    inFlight = job;
    renew(job).onComplete(ar -> {
      inFlight = null;
      if (ar.failed()) {
        conn.error(ar.cause());
      }
      for (Promise<Void> w : job.waiters) {
        if (ar.succeeded()) {
          w.tryComplete();
        } else {
          w.tryFail(ar.cause());
        }
      }
      pumpRenewal();
    });
  }

  /** One renewal; completes on the client's context. */
  private Future<Void> renew(RenewJob job) {
    Promise<Void> done = Promise.promise();
    ask(job.source).onComplete(ar -> context.run(() -> {
      if (ar.failed()) {
        done.fail(new SwitchboardException("token", "the token supplier failed: " + ar.cause().getMessage()));
        return;
      }
      if (!conn.connected()) {
        // The session went away first: like a token set while disconnected, the next attempt uses it.
        if (job.seq > 0) {
          use(job.source, job.fixed, job.seq);
        }
        done.complete();
        return;
      }
      String token = ar.result();
      conn.send(new JsonObject().put("type", "auth").put("token", token), false, opts.requestTimeout.toMillis())
          .onComplete(sent -> {
            if (sent.succeeded()) {
              lastToken = token;
              if (job.seq > 0) {
                use(job.source, job.fixed, job.seq);
              }
              done.complete();
              return;
            }
            String code = sent.cause() instanceof SwitchboardException se ? se.code() : "internal";
            if (code.equals("disconnected") || code.equals("closed")) {
              if (job.seq > 0) {
                use(job.source, job.fixed, job.seq);
              }
              done.complete();
              return;
            }
            // Refused: the session still runs on the token it has, so that one stays for reconnecting; taking
            // the refused one would fail the next attempt, or make it another user.
            done.fail(new SwitchboardException(code, "the server refused the new token: " + sent.cause().getMessage()));
          });
    }));
    return done.future();
  }
}
