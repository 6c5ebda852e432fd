package dev.switchboard.protocol;

/**
 * Every WebSocket close code the gateway sends (SPEC §4), with the reason text and what a client should do.
 * 1000–1011 are RFC 6455 §7.4 codes; 4000–4999 are application codes.
 */
public enum CloseCode {
  /** Normal closure: stay closed. */
  NORMAL(1000, "normal", Reconnect.NO),
  /** The node is going away (drain, idle cleanup): reconnect at once, to another node. */
  GOING_AWAY(1001, "node going away", Reconnect.AT_ONCE),
  /** Authentication failed or timed out: do not reconnect until there is a new token. */
  POLICY_VIOLATION(1008, "auth failure", Reconnect.WITH_NEW_TOKEN),
  /** A frame was larger than max_message_size: fix the client. */
  MESSAGE_TOO_BIG(1009, "message too big", Reconnect.NO),
  /** Internal error: reconnect with backoff. */
  INTERNAL_ERROR(1011, "internal error", Reconnect.WITH_BACKOFF),
  /** The inbound rate limit was exceeded repeatedly: reconnect with backoff. */
  RATE_LIMIT_EXCEEDED(4008, "rate limit exceeded", Reconnect.WITH_BACKOFF),
  /** The outbound queue went over its bound (slow consumer): reconnect and recover. */
  SLOW_CONSUMER(4009, "slow consumer", Reconnect.AT_ONCE),
  /** The token expired and was not renewed: reconnect with a new token. */
  TOKEN_EXPIRED(4010, "token expired", Reconnect.WITH_NEW_TOKEN),
  /** Too many connections per IP or per user: reconnect with a long backoff. */
  TOO_MANY_CONNECTIONS(4029, "too many connections", Reconnect.WITH_LONG_BACKOFF);

  /** What a client should do after this close. */
  public enum Reconnect { NO, AT_ONCE, WITH_BACKOFF, WITH_LONG_BACKOFF, WITH_NEW_TOKEN }

  private final short code;
  private final String reason;
  private final Reconnect reconnect;

  CloseCode(int code, String reason, Reconnect reconnect) {
    this.code = (short) code;
    this.reason = reason;
    this.reconnect = reconnect;
  }

  public short code() {
    return code;
  }

  public String reason() {
    return reason;
  }

  public Reconnect reconnect() {
    return reconnect;
  }
}
