package dev.switchboard.cluster;

import dev.switchboard.testing.TestNodes;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.Json;

/** A one-shot HTTP call with the test API key, for the /api and /health routes. */
public final class Http {

  /** Status and body text of an answer. */
  public record Answer(int status, String body) {
    public io.vertx.core.json.JsonObject json() {
      return new io.vertx.core.json.JsonObject(body);
    }
  }

  private Http() {}

  public static Future<Answer> call(Vertx vertx, int port, HttpMethod method, String path, Object body) {
    HttpClient client = vertx.createHttpClient();
    RequestOptions opts = new RequestOptions().setHost("127.0.0.1").setPort(port).setMethod(method).setURI(path)
        .putHeader("Authorization", "Bearer " + TestNodes.API_KEY).setTimeout(10_000);
    return client.request(opts)
        .compose(req -> body == null ? req.send() : req.send(Buffer.buffer(Json.encode(body))))
        .compose(resp -> resp.body().map(b -> new Answer(resp.statusCode(), b.toString())))
        .eventually(client::close);
  }

  public static Answer get(Vertx vertx, int port, String path) {
    return call(vertx, port, HttpMethod.GET, path, null).await();
  }

  public static Answer post(Vertx vertx, int port, String path, Object body) {
    return call(vertx, port, HttpMethod.POST, path, body).await();
  }
}
