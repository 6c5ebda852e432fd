package dev.switchboard.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.WebSocketClient;
import io.vertx.core.http.WebSocketClientOptions;
import io.vertx.junit5.VertxTestContext;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A frame written straight to the descriptor and frames queued behind it in the pipeline reach a real
 * client whole and in order; with bytes pending, the direct write steps aside instead of overtaking them.
 */
class RawSocketTest {

  Vertx vertx;
  HttpServer server;
  WebSocketClient client;

  @BeforeEach
  void start() {
    vertx = Vertx.vertx(new VertxOptions().setPreferNativeTransport(true));
  }

  /** The client first, so its close handshake meets a live server (see {@link UringSendTest#stop}). */
  @AfterEach
  void stop() {
    if (client != null) {
      client.close().await();
    }
    vertx.close().await();
  }

  @Test
  void directWriteThenQueuedFramesArriveInOrder() throws Exception {
    assertTrue(vertx.isNativeTransportEnabled(), "this machine has epoll, the node's fallback");
    VertxTestContext ctx = new VertxTestContext();
    List<String> received = new CopyOnWriteArrayList<>();
    server = vertx.createHttpServer(new HttpServerOptions().setHost("127.0.0.1")
            .setPerMessageWebSocketCompressionSupported(false).setPerFrameWebSocketCompressionSupported(false))
        // Written once the client speaks, so the handshake's own bytes have long left the socket.
        .webSocketHandler(ws -> ws.textMessageHandler(go -> {
          RawSocket raw = RawSocket.of(ws);
          ctx.verify(() -> assertNotNull(raw, "an uncompressed socket is written raw"));
          ByteBuf first = WireFrames.text("one");
          ByteBuf second = WireFrames.text("two");
          ByteBuf third = WireFrames.text("three");
          try {
            ctx.verify(() -> assertTrue(raw.writeDirect(first), "nothing pending: the frame goes straight out"));
            raw.write(second);
            ctx.verify(() -> assertFalse(raw.writeDirect(third), "a queued frame is pending: no overtaking"));
            raw.write(third);
            raw.flush();
          } finally {
            first.release();
            second.release();
            third.release();
          }
        }));
    server.listen(0).await();
    client = vertx.createWebSocketClient(new WebSocketClientOptions().setTryUsePerMessageCompression(false));
    client.connect(server.actualPort(), "127.0.0.1", "/").onComplete(ctx.succeeding(ws -> {
      ws.textMessageHandler(t -> {
        received.add(t);
        if (received.size() == 3) {
          ctx.verify(() -> assertEquals(List.of("one", "two", "three"), received));
          ctx.completeNow();
        }
      });
      ws.writeTextMessage("go");
    }));
    assertTrue(ctx.awaitCompletion(10, TimeUnit.SECONDS), "three frames arrived");
    if (ctx.failed()) {
      throw new AssertionError(ctx.causeOfFailure());
    }
  }
}
