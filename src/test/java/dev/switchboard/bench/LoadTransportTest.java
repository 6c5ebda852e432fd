package dev.switchboard.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.switchboard.config.SwitchboardConfig;
import io.netty.channel.uring.IoUringChannelOption;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.WebSocketClient;
import io.vertx.core.http.WebSocketClientOptions;
import io.vertx.core.http.impl.WebSocketImplBase;
import io.vertx.core.transport.Transport;
import io.vertx.junit5.VertxTestContext;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The load generator's io_uring set-up ({@link LoadTransport}): its connections read through the ring's
 * provided buffers, and what they read is whole and in order — small frames many to a buffer, and a frame far
 * larger than one buffer, which the kernel hands over spread across several.
 */
class LoadTransportTest {

  static final int CONNECTIONS = 40;
  static final int SMALL_FRAMES = 300;
  /** Fifty of the ring's 2 KiB buffers for one frame. */
  static final int BIG_FRAME = 100 * 1024;

  Vertx server;
  Vertx client;
  /** Held in a field: Vert.x closes a WebSocket client, and its connections, once it is garbage. */
  WebSocketClient webSockets;

  @AfterEach
  void stop() {
    if (client != null) {
      client.close().await();
    }
    if (server != null) {
      server.close().await();
    }
  }

  @Test
  void plainOrOtherTransportsAreVertxsOwn() {
    assertSame(Transport.EPOLL, LoadTransport.choose(SwitchboardConfig.Transport.EPOLL, true));
    assertSame(Transport.NIO, LoadTransport.choose(SwitchboardConfig.Transport.NIO, true));
    if (Transport.IO_URING.available()) {
      assertSame(Transport.IO_URING, LoadTransport.choose(SwitchboardConfig.Transport.IO_URING, false));
    }
  }

  @Test
  void connectionsReadWholeFramesThroughProvidedBuffers() throws Exception {
    assumeTrue(Transport.IO_URING.available(), "io_uring is not available here: " + Transport.IO_URING.unavailabilityCause());
    Transport tuned = LoadTransport.choose(SwitchboardConfig.Transport.IO_URING, true);
    assertTrue(LoadTransport.isTuned(tuned), "io_uring here has buffer rings and multishot receives (kernel ≥ 6.0)");
    String big = "b".repeat(BIG_FRAME);
    server = Vertx.vertx();
    // the client asks first, so no frame can arrive before its handler is set
    HttpServer http = server.createHttpServer().webSocketHandler(ws -> ws.textMessageHandler(go -> {
      for (int i = 0; i < SMALL_FRAMES; i++) {
        ws.writeTextMessage("frame " + i);
      }
      ws.writeTextMessage(big);
      ws.writeTextMessage("end");
    })).listen(0, "127.0.0.1").await();
    client = Vertx.builder().withTransport(tuned).build();
    webSockets = client.createWebSocketClient(new WebSocketClientOptions().setMaxFrameSize(BIG_FRAME * 2)
        .setMaxMessageSize(BIG_FRAME * 2));

    VertxTestContext ctx = new VertxTestContext();
    var done = ctx.checkpoint(CONNECTIONS);
    for (int c = 0; c < CONNECTIONS; c++) {
      List<String> got = new ArrayList<>();
      webSockets.connect(http.actualPort(), "127.0.0.1", "/").onSuccess(ws -> {
        ctx.verify(() -> assertEquals(LoadTransport.BUFFER_GROUP,
            ((WebSocketImplBase<?>) ws).channelHandlerContext().channel().config()
                .getOption(IoUringChannelOption.IO_URING_BUFFER_GROUP_ID),
            "the connection reads from the ring's provided buffers"));
        ws.textMessageHandler(text -> {
          got.add(text);
          if (text.equals("end")) {
            ctx.verify(() -> {
              assertEquals(SMALL_FRAMES + 2, got.size(), "every frame, once");
              for (int i = 0; i < SMALL_FRAMES; i++) {
                assertEquals("frame " + i, got.get(i));
              }
              assertEquals(big, got.get(SMALL_FRAMES), "the large frame whole");
            });
            done.flag();
          }
        });
        ws.writeTextMessage("go");
      }).onFailure(ctx::failNow);
    }
    assertTrue(ctx.awaitCompletion(30, TimeUnit.SECONDS), "every connection got its frames within 30 s");
    if (ctx.failed()) {
      throw new AssertionError(ctx.causeOfFailure());
    }
  }
}
