package dev.switchboard.auth;

import io.vertx.core.Future;

/**
 * Turns a token into a {@link Principal}. A failed future carries the reason a client may see
 * ("token expired", "invalid signature", "missing sub claim"); it never contains the token itself.
 */
public interface TokenVerifier {
  Future<Principal> verify(String token);
}
