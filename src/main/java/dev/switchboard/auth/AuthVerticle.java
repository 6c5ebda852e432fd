package dev.switchboard.auth;

import dev.switchboard.bus.Addresses;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.eventbus.MessageConsumer;

/**
 * Answers {@link Addresses#AUTH_VERIFY} on this node: body is the token, reply is the principal JSON, or a
 * failure (code 401) whose message is the reason a client may see. Local only: tokens never cross nodes.
 */
public final class AuthVerticle extends VerticleBase {

  private final TokenVerifier verifier;

  public AuthVerticle(TokenVerifier verifier) {
    this.verifier = verifier;
  }

  @Override
  public Future<?> start() {
    MessageConsumer<String> consumer = vertx.eventBus().localConsumer(Addresses.AUTH_VERIFY, msg ->
        verifier.verify(msg.body()).onComplete(ar -> {
          if (ar.succeeded()) {
            msg.reply(ar.result().toJson());
          } else {
            msg.fail(401, ar.cause().getMessage());
          }
        }));
    return consumer.completion();
  }
}
