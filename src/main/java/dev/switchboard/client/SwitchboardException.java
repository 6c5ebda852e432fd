package dev.switchboard.client;

/**
 * A failure reported to a {@link SwitchboardClient} caller: a server error frame (code {@code bad_request},
 * {@code unauthorized}, {@code forbidden}, {@code rate_limited}, {@code too_large}, {@code timeout},
 * {@code internal}, SPEC §4) or the client's own ({@code disconnected}, {@code closed}, {@code timeout},
 * {@code token}, {@code connect}).
 */
public final class SwitchboardException extends RuntimeException {

  private final String code;

  public SwitchboardException(String code, String message) {
    super(message, null, false, false);
    this.code = code;
  }

  /** The error code, e.g. {@code forbidden}. */
  public String code() {
    return code;
  }

  @Override
  public String toString() {
    return "SwitchboardException[" + code + "]: " + getMessage();
  }
}
