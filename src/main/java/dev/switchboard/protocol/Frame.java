package dev.switchboard.protocol;

import java.util.List;

/**
 * A client → server request (SPEC §4), decoded and validated by {@link FrameDecoder}.
 * Every frame may carry an {@code id} (a JSON string or number) that the answer echoes; it is null when absent,
 * and {@link #NULL_ID} when the frame said {@code "id":null}, which is echoed as sent.
 * {@code message} fields hold any JSON value as Vert.x decodes it (JsonObject, JsonArray, String, Number, Boolean).
 */
public sealed interface Frame {

  Object id();

  /** The id of a frame that carried {@code "id":null}: its answers carry {@code "id":null} too, as SPEC §4 echoes. */
  Object NULL_ID = NullId.NULL;

  /** The type of {@link #NULL_ID}: a value no JSON id decodes to, so it cannot be mistaken for one. */
  enum NullId { NULL }

  /** {@code auth}: authenticate (or renew) with a JWT, optionally subscribing to extra channels. */
  record Auth(Object id, String token, List<String> channels) implements Frame {}

  /**
   * {@code auth} carrying {@code api_key} instead of {@code token}: an operator's session (the /admin
   * dashboard) that may read system channels and nothing else; see {@code metrics.AdminAccess}.
   */
  record AdminAuth(Object id, String apiKey) implements Frame {}

  /** {@code subscribe}: join a channel; with {@code since}, recover what was missed first. */
  record Subscribe(Object id, Channel channel, Since since) implements Frame {}

  /** {@code unsubscribe}: leave a channel. */
  record Unsubscribe(Object id, Channel channel) implements Frame {}

  /** {@code broadcast} (alias {@code publish}): publish to a channel. */
  record Publish(Object id, Channel channel, Object message) implements Frame {}

  /** {@code send}: a direct message to every session of user {@code to}. */
  record Send(Object id, String to, Object message) implements Frame {}

  /** {@code presence}: who is subscribed to a channel, cluster-wide. */
  record Presence(Object id, Channel channel) implements Frame {}

  /** {@code request}: an event-bus request to a backend address allowed by {@code rpc.allowed}. */
  record Request(Object id, String address, Object message) implements Frame {}

  /** {@code history}: the kept history of a channel; {@code limit} is null for "all kept". */
  record History(Object id, Channel channel, Integer limit) implements Frame {}

  /** {@code ping}: application-level liveness for browsers, answered with {@code pong}. */
  record Ping(Object id) implements Frame {}

  /** A stream position: the client has seen everything up to and including {@code offset} in {@code epoch}. */
  record Since(long offset, String epoch) {}
}
