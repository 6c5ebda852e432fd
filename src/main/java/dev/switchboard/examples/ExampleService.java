package dev.switchboard.examples;

import dev.switchboard.bus.Addresses;
import dev.switchboard.client.Publisher;
import dev.switchboard.client.Switchboard;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.eventbus.Message;
import io.vertx.core.json.JsonObject;
import java.time.Instant;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a backend typically does with Switchboard, in three consumers:
 *
 * <ul>
 *   <li>{@code service.echo}: answers a client's {@code request} with {@code {"echo":<message>,"user":<id>}}
 *       and also pushes {@code {"event":"echoed","echo":<message>}} to every session of that user with the
 *       Java helper ({@code Switchboard.publisher(vertx).toUser}), on {@code user:<id>}.</li>
 *   <li>{@code service.time}: answers {@code {"time":"<ISO-8601 UTC>","epoch_ms":n}}.</li>
 *   <li>{@code switchboard.undelivered}: logs what reached no session — where a real service would send a
 *       mobile push or store the message.</li>
 * </ul>
 *
 * <p>A client's request arrives with headers {@code user_id} and {@code session_id}, set by the node from the
 * session's verified token, so the service can trust them.
 */
public final class ExampleService extends VerticleBase {

  public static final String ECHO = "service.echo";
  public static final String TIME = "service.time";

  private static final Logger log = LoggerFactory.getLogger(ExampleService.class);

  private Publisher publisher;

  @Override
  public Future<?> start() {
    publisher = Switchboard.publisher(vertx);
    var echo = vertx.eventBus().consumer(ECHO, this::echo);
    var time = vertx.eventBus().consumer(TIME, msg -> msg.reply(new JsonObject()
        .put("time", Instant.now().toString()).put("epoch_ms", System.currentTimeMillis())));
    var undelivered = vertx.eventBus().<JsonObject>consumer(Addresses.UNDELIVERED, msg ->
        log.info("event=undelivered channel={} reason={} (a real service would push to the user's phone here)",
            msg.body().getString("channel"), msg.body().getString("reason")));
    return Future.all(echo.completion(), time.completion(), undelivered.completion(),
        Switchboard.answerProbes(vertx));
  }

  private void echo(Message<Object> msg) {
    String user = msg.headers().get("user_id");
    Object body = msg.body();
    msg.reply(new JsonObject().put("echo", body).put("user", user));
    if (user != null) {
      publisher.toUser(user, new JsonObject().put("event", "echoed").put("echo", body))
          .onFailure(e -> log.warn("event=push_failed user={} reason=\"{}\"", user, e.getMessage()));
    }
  }
}
