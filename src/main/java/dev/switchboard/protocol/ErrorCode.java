package dev.switchboard.protocol;

/**
 * The closed catalog of error codes a client can see in an {@code error} frame (SPEC §4).
 * An error frame never closes the connection by itself; closes are {@link CloseCode}s.
 */
public enum ErrorCode {
  /** Not JSON, unknown type, missing or invalid field, bad channel name. Fix the request. */
  BAD_REQUEST("bad_request"),
  /** No valid token: not authenticated yet, or the token was refused. */
  UNAUTHORIZED("unauthorized"),
  /** Authenticated, but the channel rules or config do not allow this. */
  FORBIDDEN("forbidden"),
  /** Over the inbound message budget; the message was dropped. Slow down. */
  RATE_LIMITED("rate_limited"),
  /** A limit on size or count was exceeded (message size, subscriptions). */
  TOO_LARGE("too_large"),
  /** A backend did not answer in time. */
  TIMEOUT("timeout"),
  /** Something failed on our side; the request may be retried. */
  INTERNAL("internal");

  private final String wire;

  ErrorCode(String wire) {
    this.wire = wire;
  }

  /**
   * The code for an HTTP-like status in an event-bus failure, as the router and backend services answer:
   * 400, 401, 403, 408, 413, 429; anything else is internal.
   */
  public static ErrorCode ofStatus(int status) {
    return switch (status) {
      case 400 -> BAD_REQUEST;
      case 401 -> UNAUTHORIZED;
      case 403 -> FORBIDDEN;
      case 408 -> TIMEOUT;
      case 413 -> TOO_LARGE;
      case 429 -> RATE_LIMITED;
      default -> INTERNAL;
    };
  }

  /** The code as written on the wire. */
  public String wire() {
    return wire;
  }
}
