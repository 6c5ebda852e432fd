package dev.switchboard.gateway;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.vertx.core.http.HttpConnection;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.impl.Http1xServerConnection;
import io.vertx.core.json.JsonObject;
import java.lang.reflect.Field;
import java.nio.charset.StandardCharsets;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code 408} for a request whose body missed {@code server.body_timeout}, and whether it may be written. It
 * may when it would be that request's own answer: every earlier response on the connection is complete and this
 * request's has not begun. It tells the client the request was not carried out (a publish was not published),
 * so it can send it again; a bare close would leave it guessing. It may not when a handler already answered
 * before reading the body (a wrong API key's 401, a 404), or, with pipelining, while an earlier request's
 * response is still being written: a 408 then would be a second answer, or land inside another one.
 *
 * <p>Vert.x keeps that state to itself, so this reads two private fields of its HTTP/1.x server connection, once
 * per request past its deadline: {@code requestInProgress} (the request being read) and
 * {@code responseInProgress} (the one being answered; a later one waits until it is done). Requests in time never
 * come here and pay nothing. Internal API, checked against the pinned Vert.x version by
 * {@code SlowRequestBodyTest}; should the fields be gone, a late body closes its connection without an answer
 * (with a warning as the gateway starts).
 *
 * <p>The answer is written as bytes from below Vert.x's response encoder, which is left out: the connection closes
 * right after it, so nothing needs the encoder's state to follow it.
 */
final class TimeoutAnswer {

  private static final Logger log = LoggerFactory.getLogger(TimeoutAnswer.class);
  private static final Field REQUEST_IN_PROGRESS = field("requestInProgress");
  private static final Field RESPONSE_IN_PROGRESS = field("responseInProgress");

  private TimeoutAnswer() {}

  /** Loads the fields now, so a Vert.x without them is warned about as the gateway starts, not at a first late body. */
  static void checkSupported() {
    // Class initialisation has run by now: the static fields above were looked up and any warning given.
  }

  /**
   * Whether a response to an earlier request on {@code conn} is still being made: the request being read waits
   * behind it (Vert.x does not read on meanwhile). False when that cannot be told (the fields are gone).
   */
  static boolean behindAnotherResponse(HttpConnection conn) {
    InProgress p = inProgress(conn);
    return p != null && p.answering() != null && p.answering() != p.reading();
  }

  /** Whether a 408 on {@code conn} now would be the answer of the request being read. On its event loop only. */
  static boolean fits(HttpConnection conn) {
    InProgress p = inProgress(conn);
    return p != null && p.reading() instanceof HttpServerRequest request && p.reading() == p.answering()
        && !request.response().headWritten();
  }

  /** Vert.x's request being read and request being answered on {@code conn}. */
  private record InProgress(Object reading, Object answering) {}

  /** Null when they cannot be read: the fields are gone, or this is not an HTTP/1.x server connection. */
  private static InProgress inProgress(HttpConnection conn) {
    if (REQUEST_IN_PROGRESS == null || RESPONSE_IN_PROGRESS == null || !(conn instanceof Http1xServerConnection)) {
      return null;
    }
    try {
      return new InProgress(REQUEST_IN_PROGRESS.get(conn), RESPONSE_IN_PROGRESS.get(conn));
    } catch (IllegalAccessException | RuntimeException e) {
      return null;
    }
  }

  /** The whole response: 408, {@code Connection: close}, and the reason as the API's JSON error. */
  static ByteBuf bytes(ByteBufAllocator alloc, String reason) {
    byte[] body = new JsonObject().put("error", reason).encode().getBytes(StandardCharsets.UTF_8);
    byte[] head = ("HTTP/1.1 408 Request Timeout\r\n"
        + "content-type: application/json\r\n"
        + "content-length: " + body.length + "\r\n"
        + "connection: close\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1);
    return alloc.buffer(head.length + body.length).writeBytes(head).writeBytes(body);
  }

  private static Field field(String name) {
    try {
      Field f = Http1xServerConnection.class.getDeclaredField(name);
      f.setAccessible(true);
      return f;
    } catch (NoSuchFieldException | RuntimeException e) {
      log.warn("event=body_timeout_answer_unsupported reason=\"this Vert.x has no Http1xServerConnection.{} ({}): a "
          + "request body past server.body_timeout closes its connection without a 408\"", name, e.getMessage());
      return null;
    }
  }
}
