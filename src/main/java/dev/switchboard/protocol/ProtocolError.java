package dev.switchboard.protocol;

/**
 * A request the server refuses: the code the client sees, a human reason, and the request id to echo (may be null).
 */
public record ProtocolError(ErrorCode code, String message, Object id) {

  public static ProtocolError badRequest(String message, Object id) {
    return new ProtocolError(ErrorCode.BAD_REQUEST, message, id);
  }

  public ProtocolError withId(Object newId) {
    return new ProtocolError(code, message, newId);
  }
}
