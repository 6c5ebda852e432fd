package dev.switchboard.gateway;

import dev.switchboard.bus.Addresses;
import dev.switchboard.cluster.ClusterView;
import dev.switchboard.cluster.NodeContext;
import dev.switchboard.config.JsonProblem;
import dev.switchboard.config.SwitchboardConfig;
import dev.switchboard.limiter.RefusalLog;
import dev.switchboard.metrics.AdminAccess;
import dev.switchboard.protocol.Channel;
import dev.switchboard.protocol.ErrorCode;
import dev.switchboard.protocol.ProtocolError;
import dev.switchboard.router.ChannelRules;
import io.vertx.core.Future;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.Json;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HTTP API (SPEC §5.2), every route behind an API key: {@code Authorization: Bearer <key>}.
 * Errors are JSON {@code {"error":"<reason>"}}: 401 for a missing or wrong key, 400 for a body or field
 * that cannot be used (the reason names the field, and for an array the item index), 413 for a body, an
 * array or a message over its limit. Nothing is published unless the whole request is valid.
 */
public final class ApiRoutes {

  private static final Logger LOG = LoggerFactory.getLogger(ApiRoutes.class);
  private static final DeliveryOptions LOCAL = new DeliveryOptions().setLocalOnly(true);
  /** Room for an array of publishes of max_message_size each, within reason. */
  static final long MAX_BODY = 4L * 1024 * 1024;
  /** Publishes per request; each is one router round trip, in order. */
  static final int MAX_ITEMS = 1000;
  /** The fixed routes and their method, for a 405 that says which method to use. */
  private static final Map<String, String> ROUTES = Map.of(
      "/api/publish", "POST", "/api/nodes", "GET", "/api/disconnect", "POST");

  private final NodeContext node;
  private final List<String> keys;
  private final ClusterView view;
  private final ChannelRules rules;
  private final int maxMessageSize;
  private RefusalLog keyFailures;

  public ApiRoutes(NodeContext node) {
    this.node = node;
    this.keys = node.config().api().keys();
    this.view = new ClusterView(node);
    this.rules = new ChannelRules(node.config().channels());
    this.maxMessageSize = node.config().session().maxMessageSize();
  }

  /** Mounts the routes; call on the event loop that serves them (the gateway verticle's). */
  public void mount(Router router) {
    keyFailures = new RefusalLog(node.vertx(), LOG, "auth_failure");
    router.route("/api/*").failureHandler(ApiRoutes::failure);
    router.route("/api/*").handler(this::requireKey);
    router.post("/api/*").handler(ApiRoutes::bodyIsJson);
    router.post("/api/*").handler(BodyHandler.create(false).setBodyLimit(MAX_BODY));
    router.post("/api/publish").handler(this::publish);
    router.get("/api/presence/:channel").handler(this::presence);
    router.get("/api/nodes").handler(this::nodes);
    router.get("/api/history/:channel").handler(this::history);
    router.post("/api/disconnect").handler(this::disconnect);
    router.route("/api/*").handler(ApiRoutes::noSuchRoute);
  }

  /**
   * Every body here is JSON, whatever its Content-Type says. {@code curl -d} labels it a form, and
   * BodyHandler would then decode it as one: a body over 1,024 bytes got a bare 400 and never reached the
   * checks that say what is wrong with it.
   */
  private static void bodyIsJson(RoutingContext ctx) {
    String type = ctx.request().getHeader(HttpHeaders.CONTENT_TYPE);
    if (type != null && (type.regionMatches(true, 0, "application/x-www-form-urlencoded", 0, 33)
        || type.regionMatches(true, 0, "multipart/", 0, 10))) {
      ctx.request().headers().set(HttpHeaders.CONTENT_TYPE, "application/json");
    }
    ctx.next();
  }

  /** Reached only when no route above answered: a JSON error naming the routes, like every other answer here. */
  private static void noSuchRoute(RoutingContext ctx) {
    String path = ctx.normalizedPath();
    String method = ctx.request().method().name();
    String allowed = path.startsWith("/api/presence/") || path.startsWith("/api/history/") ? "GET" : ROUTES.get(path);
    if (allowed != null && !allowed.equals(method)) {
      ctx.response().putHeader("Allow", allowed);
      fail(ctx, 405, method + " " + path + " is not supported: use " + allowed);
    } else if (allowed != null && ROUTES.get(path) == null && !channelTail(path).isEmpty()) {
      // Past the one path segment the route takes: the channel went on with a '/', which no channel has.
      fail(ctx, 400, "bad channel name: " + channelTail(path) + " has a '/' (allowed: A-Z a-z 0-9 _ . : = @ -)");
    } else if (allowed != null) {
      fail(ctx, 400, "channel is missing: " + method + " " + path + "<channel>");
    } else {
      fail(ctx, 404, "no such API route: " + method + " " + path + " (routes: POST /api/publish, "
          + "GET /api/presence/<channel>, GET /api/history/<channel>, GET /api/nodes, POST /api/disconnect)");
    }
  }

  /** What follows {@code /api/presence/} or {@code /api/history/}: the channel as the client wrote it. */
  private static String channelTail(String path) {
    return path.substring(path.indexOf('/', "/api/".length()) + 1);
  }

  private void requireKey(RoutingContext ctx) {
    if (!AdminAccess.isBearerKey(ctx.request().getHeader(HttpHeaders.AUTHORIZATION), keys)) {
      AdminAccess.logKeyFailure(keyFailures, ctx);
      ctx.response().putHeader("WWW-Authenticate", "Bearer");
      if (!ctx.request().isEnded()) {
        // A body nobody will read would sit in the way of the next request on this keep-alive connection.
        ctx.response().putHeader(HttpHeaders.CONNECTION, "close");
      }
      fail(ctx, 401, "missing or invalid API key: send Authorization: Bearer <key>");
      return;
    }
    ctx.next();
  }

  /** Failures raised below the routes (BodyHandler's 413, an unexpected exception) as JSON too. */
  private static void failure(RoutingContext ctx) {
    if (ctx.response().ended()) {
      return;
    }
    int status = ctx.statusCode() > 0 ? ctx.statusCode() : 500;
    if (status == 413) {
      // The rest of an oversize body is not read: close rather than leave it in the connection.
      ctx.response().putHeader(HttpHeaders.CONNECTION, "close");
    }
    String reason = switch (status) {
      case 413 -> "body is larger than " + MAX_BODY + " bytes";
      case 400 -> "bad request" + (ctx.failure() != null && ctx.failure().getMessage() != null
          ? ": " + ctx.failure().getMessage() : "");
      default -> status >= 500 ? "internal error" : "request failed";
    };
    fail(ctx, status, reason);
  }

  private void publish(RoutingContext ctx) {
    Object parsed;
    try {
      String text = ctx.body().asString();
      if (text == null || text.isBlank()) {
        fail(ctx, 400, "body is empty: send {\"channel\":…,\"message\":…} or an array of them");
        return;
      }
      parsed = Json.decodeValue(text);
    } catch (DecodeException e) {
      fail(ctx, 400, "body is not valid JSON: " + JsonProblem.of(e));
      return;
    }
    List<JsonObject> items = new ArrayList<>();
    if (parsed instanceof JsonObject o) {
      items.add(o);
    } else if (parsed instanceof JsonArray a) {
      if (a.isEmpty()) {
        fail(ctx, 400, "array of publishes is empty");
        return;
      }
      if (a.size() > MAX_ITEMS) {
        fail(ctx, 413, "array has " + a.size() + " publishes; at most " + MAX_ITEMS + " per request");
        return;
      }
      for (int i = 0; i < a.size(); i++) {
        if (!(a.getValue(i) instanceof JsonObject o)) {
          fail(ctx, 400, "item " + i + " is not an object {\"channel\":…,\"message\":…}");
          return;
        }
        items.add(o);
      }
    } else {
      fail(ctx, 400, "body must be an object {\"channel\":…,\"message\":…} or an array of them");
      return;
    }
    // Validate every item before publishing any, so a bad array publishes nothing.
    boolean array = parsed instanceof JsonArray;
    for (int i = 0; i < items.size(); i++) {
      Refusal no = validate(items.get(i));
      if (no != null) {
        fail(ctx, no.status(), array ? "item " + i + ": " + no.reason() : no.reason());
        return;
      }
    }
    // A node cut off from its quorum is refused by the router at the first item: 503, "published" 0.
    int[] published = {0};
    publishInOrder(items, 0, published).onComplete(ar -> {
      if (ar.succeeded()) {
        // Exactly SPEC §5's answer: a client that compares it whole must not meet fields of ours.
        json(ctx, 200, new JsonObject().put("ok", true));
      } else {
        int status = !(ar.cause() instanceof io.vertx.core.eventbus.ReplyException re) ? 500
            : re.failureCode() == 413 || re.failureCode() == 503 ? re.failureCode()
            : re.failureCode() >= 400 && re.failureCode() < 500 ? 400 : 500;
        // A failure after the first items went out (the node cut off mid-way): say which went, so the caller
        // retries the rest and not the whole array.
        String why = ar.cause() instanceof io.vertx.core.eventbus.ReplyException re
            && re.failureType() == io.vertx.core.eventbus.ReplyFailure.TIMEOUT
            // The router may still publish it after the wait ran out: "published" counts only what it confirmed.
            ? "no answer from the router in time (" + ar.cause().getMessage() + "): it may or may not have gone out"
            : ar.cause().getMessage();
        String reason = array ? "item " + published[0] + ": " + why : why;
        json(ctx, status, new JsonObject().put("error", reason).put("published", published[0]));
      }
    });
  }

  /** Why one publish cannot be made, and the status that says so. */
  private record Refusal(int status, String reason) {
    static Refusal bad(String reason) {
      return new Refusal(400, reason);
    }
  }

  private Refusal validate(JsonObject o) {
    Object ch = o.getValue("channel");
    if (!(ch instanceof String s)) {
      return Refusal.bad(ch == null ? "missing field: channel" : "channel must be a string");
    }
    Channel.Result r = Channel.parse(s);
    if (!r.ok()) {
      return Refusal.bad("bad channel name: " + r.error());
    }
    ProtocolError denied = rules.checkBackendPublish(r.channel());
    if (denied != null) {
      return new Refusal(denied.code() == ErrorCode.FORBIDDEN ? 403 : 400, denied.message());
    }
    if (!o.containsKey("message") || o.getValue("message") == null) {
      return Refusal.bad("missing field: message");
    }
    Object from = o.getValue("from_user");
    if (from != null && !(from instanceof String)) {
      return Refusal.bad("from_user must be a string");
    }
    ProtocolError tooBig = rules.checkMessageSize(r.channel(), o.getValue("message"), maxMessageSize);
    return tooBig == null ? null : new Refusal(413, tooBig.message());
  }

  /** Sequential, so an array keeps its order on each channel; counts in {@code published} the items that went. */
  private Future<Void> publishInOrder(List<JsonObject> items, int i, int[] published) {
    if (i == items.size()) {
      return Future.succeededFuture();
    }
    JsonObject o = items.get(i);
    JsonObject body = new JsonObject().put("channel", o.getValue("channel")).put("message", o.getValue("message"))
        .put("from_user", o.getValue("from_user"));
    return node.vertx().eventBus().request(Addresses.PUBLISH, body, LOCAL).compose(r -> {
      published[0] = i + 1;
      return publishInOrder(items, i + 1, published);
    });
  }

  private void presence(RoutingContext ctx) {
    String raw = ctx.pathParam("channel");
    Channel.Result r = Channel.parse(raw);
    if (!r.ok()) {
      fail(ctx, 400, "bad channel name: " + r.error());
      return;
    }
    ProtocolError off = rules.checkBackendPresence(r.channel());
    if (off != null) {
      fail(ctx, 400, off.message());
      return;
    }
    view.presence(r.channel().toString()).onComplete(ar -> {
      if (ar.failed()) {
        fail(ctx, 500, ar.cause().getMessage());
        return;
      }
      json(ctx, 200, new JsonObject().put("channel", r.channel().toString()).put("users", ar.result())
          .put("count", ar.result().size()));
    });
  }

  /** {@code GET /api/history/<channel>?limit=n}: the newest kept messages, oldest first, and the position. */
  private void history(RoutingContext ctx) {
    Channel.Result r = Channel.parse(ctx.pathParam("channel"));
    if (!r.ok()) {
      fail(ctx, 400, "bad channel name: " + r.error());
      return;
    }
    ProtocolError none = rules.checkBackendHistory(r.channel());
    if (none != null) {
      fail(ctx, 400, none.message());
      return;
    }
    SwitchboardConfig.NamespaceRules ns = rules.rules(r.channel());
    int limit = ns.historySize();
    String rawLimit = ctx.request().getParam("limit");
    if (rawLimit != null) {
      try {
        limit = Math.min(limit, Integer.parseInt(rawLimit));
      } catch (NumberFormatException e) {
        limit = -1;
      }
      if (limit < 0) {
        fail(ctx, 400, "limit must be a non-negative integer");
        return;
      }
    }
    node.history().read(r.channel().toString(), -1, Math.min(limit, 1000)).onComplete(ar -> {
      if (ar.failed()) {
        fail(ctx, 500, "history read failed: " + ar.cause().getMessage());
        return;
      }
      JsonArray messages = new JsonArray();
      ar.result().publications().forEach(p -> messages.add(dev.switchboard.protocol.ServerFrames.messageJson(p)));
      json(ctx, 200, new JsonObject().put("channel", r.channel().toString()).put("messages", messages)
          .put("offset", ar.result().offset()).put("epoch", ar.result().epoch()));
    });
  }

  private void nodes(RoutingContext ctx) {
    view.nodes().onComplete(ar -> {
      if (ar.failed()) {
        fail(ctx, 500, ar.cause().getMessage());
        return;
      }
      int total = 0;
      for (Object o : ar.result()) {
        total += ((JsonObject) o).getInteger("connections", 0);
      }
      json(ctx, 200, new JsonObject().put("nodes", ar.result()).put("count", ar.result().size())
          .put("connections", total));
    });
  }

  private void disconnect(RoutingContext ctx) {
    Object parsed;
    try {
      String text = ctx.body().asString();
      parsed = text == null || text.isBlank() ? null : Json.decodeValue(text);
    } catch (DecodeException e) {
      fail(ctx, 400, "body is not valid JSON: " + JsonProblem.of(e));
      return;
    }
    if (!(parsed instanceof JsonObject body)) {
      fail(ctx, 400, "body must be a JSON object {\"user\":\"<id>\"}");
      return;
    }
    Object rawUser = body.getValue("user");
    if (rawUser == null) {
      fail(ctx, 400, "missing field: user");
      return;
    }
    if (!(rawUser instanceof String user) || user.isEmpty()) {
      fail(ctx, 400, "user must be a non-empty string (a user id)");
      return;
    }
    node.vertx().eventBus().publish(Addresses.DISCONNECT_USER, new JsonObject().put("user", user));
    json(ctx, 200, new JsonObject().put("ok", true));
  }

  static void json(RoutingContext ctx, int status, JsonObject body) {
    ctx.response().setStatusCode(status).putHeader(HttpHeaders.CONTENT_TYPE, "application/json").end(body.encode());
  }

  static void fail(RoutingContext ctx, int status, String reason) {
    json(ctx, status, new JsonObject().put("error", reason));
  }
}
