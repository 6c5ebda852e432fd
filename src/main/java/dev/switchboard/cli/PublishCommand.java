package dev.switchboard.cli;

import dev.switchboard.config.ConfigException;
import dev.switchboard.config.ConfigLoader;
import dev.switchboard.config.SwitchboardConfig;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.Json;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.Callable;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Publishes one message over the HTTP API ({@code POST /api/publish}). */
@Command(name = "publish", mixinStandardHelpOptions = true, description = "Publish a message over HTTP (POST /api/publish).")
public final class PublishCommand implements Callable<Integer> {

  @Option(names = "--channel", required = true, description = "Channel, e.g. room:lobby or user:alice.")
  String channel;

  @Option(names = "--message", required = true, description = "JSON value; text that is not JSON is sent as a string.")
  String message;

  @Option(names = "--from-user", description = "from_user to set on the message.")
  String fromUser;

  @Option(names = "--url", description = "Node base URL (default http://127.0.0.1:<configured port>).")
  String url;

  @Option(names = "--api-key", description = "API key (default: first of SWITCHBOARD_API_KEYS / api.keys).")
  String apiKey;

  @Option(names = "--conf", description = "Config file to read the port and API key from.")
  String conf;

  @Option(names = "--cacert", description = "PEM certificate(s) to trust for https, e.g. a self-signed node's "
      + "(default when the URL comes from the config: the node's own server.tls.cert).")
  String cacert;

  @Override
  public Integer call() throws Exception {
    String base = url;
    String key = apiKey;
    if (base == null || key == null) {
      SwitchboardConfig config;
      try {
        config = ConfigLoader.load(conf, System.getenv(), Map.of());
      } catch (ConfigException e) {
        System.err.println("switchboard publish: config error: " + e.getMessage());
        return 2;
      }
      if (base == null) {
        base = (config.server().tls() ? "https" : "http") + "://127.0.0.1:" + config.server().port();
        if (config.server().tls() && cacert == null) {
          cacert = config.server().tlsCert();
        }
      }
      if (key == null) {
        if (config.api().keys().isEmpty()) {
          System.err.println("switchboard publish: no API key: pass --api-key or set SWITCHBOARD_API_KEYS");
          return 2;
        }
        key = config.api().keys().get(0);
      }
    }
    Object value;
    try {
      value = Json.decodeValue(message);
    } catch (DecodeException e) {
      String t = message.strip();
      if (t.startsWith("{") || t.startsWith("[")) {
        // Meant as JSON, surely: sending it on as a string would publish the typo to every subscriber.
        System.err.println("switchboard publish: --message starts like JSON but is not valid JSON: " + e.getMessage());
        return 2;
      }
      value = message;
    }
    JsonObject body = new JsonObject().put("channel", channel).put("message", value);
    if (fromUser != null) {
      body.put("from_user", fromUser);
    }
    URI target;
    try {
      target = URI.create(base.replaceAll("/+$", "") + "/api/publish");
      if (target.getScheme() == null || !target.getScheme().matches("https?") || target.getHost() == null) {
        throw new IllegalArgumentException("use http://host:port or https://host:port");
      }
    } catch (IllegalArgumentException e) {
      System.err.println("switchboard publish: --url " + base + " is not a node's URL: " + e.getMessage());
      return 2;
    }
    HttpClient.Builder client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5));
    if (cacert != null) {
      try {
        client.sslContext(trusting(Path.of(cacert)));
      } catch (IOException | GeneralSecurityException e) {
        System.err.println("switchboard publish: --cacert " + cacert + " is not a readable PEM certificate: " + e.getMessage());
        return 2;
      }
    }
    HttpClient http = client.build();
    HttpRequest req = HttpRequest.newBuilder(target)
        .timeout(Duration.ofSeconds(10))
        .header("Authorization", "Bearer " + key)
        .header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(body.encode()))
        .build();
    HttpResponse<String> resp;
    try {
      resp = http.send(req, HttpResponse.BodyHandlers.ofString());
    } catch (IOException e) {
      // The JDK's ConnectException for a refused connection has no message at all.
      String why = e instanceof java.net.ConnectException ? "connection refused (is a node listening there?)"
          : e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
      System.err.println("switchboard publish: cannot reach " + base + ": " + why);
      return 1;
    }
    if (resp.statusCode() == 200) {
      System.out.println(resp.body());
      return 0;
    }
    System.err.println("switchboard publish: HTTP " + resp.statusCode() + ": " + resp.body());
    return 1;
  }

  /** A TLS context that trusts the certificates in the PEM file (and nothing else). */
  static SSLContext trusting(Path pem) throws IOException, GeneralSecurityException {
    KeyStore trusted = KeyStore.getInstance(KeyStore.getDefaultType());
    trusted.load(null, null);
    try (InputStream in = Files.newInputStream(pem)) {
      int i = 0;
      for (Certificate c : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
        trusted.setCertificateEntry("ca-" + i++, c);
      }
      if (i == 0) {
        throw new GeneralSecurityException("no certificate in it");
      }
    }
    TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(trusted);
    SSLContext ctx = SSLContext.getInstance("TLS");
    ctx.init(null, tmf.getTrustManagers(), null);
    return ctx;
  }
}
