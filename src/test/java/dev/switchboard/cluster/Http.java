package dev.switchboard.cluster;

import dev.switchboard.testing.TestNodes;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.Json;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.CompletionStage;

/**
 * A one-shot HTTP call with the test API key, for the /api and /health routes. With the JDK's client:
 * Vert.x 5.0.10's {@code HttpClientResponse.body()} can miss a response that ends before the body handler is
 * set when the call is driven from a test thread (eclipse-vertx/vert.x#6038), which hung a cluster test.
 */
public final class Http {

  private static final HttpClient CLIENT = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  /** Status and body text of an answer. */
  public record Answer(int status, String body) {
    public io.vertx.core.json.JsonObject json() {
      return new io.vertx.core.json.JsonObject(body);
    }
  }

  private Http() {}

  /** Completes on a context of {@code vertx}, so callers compose on it as on any Vert.x future. */
  public static Future<Answer> call(Vertx vertx, int port, HttpMethod method, String path, Object body) {
    CompletionStage<Answer> answer = CLIENT.sendAsync(request(port, method, path, body),
        HttpResponse.BodyHandlers.ofString()).thenApply(r -> new Answer(r.statusCode(), r.body()));
    return Future.fromCompletionStage(answer, vertx.getOrCreateContext());
  }

  public static Answer get(Vertx vertx, int port, String path) {
    return send(port, HttpMethod.GET, path, null);
  }

  public static Answer post(Vertx vertx, int port, String path, Object body) {
    return send(port, HttpMethod.POST, path, body);
  }

  private static Answer send(int port, HttpMethod method, String path, Object body) {
    try {
      HttpResponse<String> r = CLIENT.send(request(port, method, path, body), HttpResponse.BodyHandlers.ofString());
      return new Answer(r.statusCode(), r.body());
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(method + " " + path + " on port " + port + ": " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(method + " " + path + " interrupted", e);
    }
  }

  private static HttpRequest request(int port, HttpMethod method, String path, Object body) {
    return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
        .timeout(Duration.ofSeconds(10))
        .header("Authorization", "Bearer " + TestNodes.API_KEY)
        .method(method.name(), body == null ? HttpRequest.BodyPublishers.noBody()
            : HttpRequest.BodyPublishers.ofString(Json.encode(body)))
        .build();
  }
}
