package dev.switchboard.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.switchboard.testing.RawWsClient;
import io.netty.buffer.ByteBuf;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.ServerWebSocket;
import io.vertx.core.http.WebSocketClient;
import io.vertx.core.http.WebSocketClientOptions;
import io.vertx.core.http.impl.WebSocketImplBase;
import io.vertx.core.transport.Transport;
import io.vertx.junit5.VertxTestContext;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * io_uring's raw path ({@link UringSender}, {@link SendGate}): a frame submitted to the ring, a Vert.x write
 * and a frame queued behind it arrive in that order even when the first is far larger than the socket's
 * buffers (its send finishes loop passes later); and a send stuck on a peer that stopped reading is
 * cancelled when the socket closes, instead of holding the socket open in the kernel.
 */
class UringSendTest {

  /** Larger than loopback's socket buffers together, so the send cannot finish inside the submission. */
  static final int BIG = 16 << 20;

  Vertx server;
  Vertx client;
  /** Held in a field: Vert.x closes a WebSocket client, and its connections, once it is garbage. */
  WebSocketClient webSockets;

  @BeforeEach
  void start() {
    assumeTrue(Transport.IO_URING.available(), "io_uring is not available here: " + Transport.IO_URING.unavailabilityCause());
    server = Vertx.builder().withTransport(Transport.IO_URING).build();
    client = Vertx.vertx();
  }

  /**
   * The client first, so its close handshake meets a live server. Closed first, Vert.x 5.0.10's server now
   * and then stops its event loop with a WebSocket still open (its close frame written but never flushed,
   * the channel never closed), and the client's close then waits forever for an answer.
   */
  @AfterEach
  void stop() {
    if (server != null) {
      client.close().await();
      server.close().await();
    }
  }

  @Test
  void pipelineWritesWaitBehindASendInFlight() throws Exception {
    VertxTestContext ctx = new VertxTestContext();
    List<String> received = new CopyOnWriteArrayList<>();
    int port = listen(ctx, (ws, raw) -> {
      ByteBuf big = WireFrames.text("x".repeat(BIG));
      ByteBuf two = WireFrames.text("two");
      try {
        ctx.verify(() -> assertTrue(raw.writeDirect(big), "nothing pending: the frame is submitted to the ring"));
        ctx.verify(() -> assertTrue(raw.sending()));
        ws.writeTextMessage("ack"); // Vert.x's own write, as an ack or a pong would be
        ctx.verify(() -> assertFalse(raw.writeDirect(two), "a send is in flight: no second one beside it"));
        raw.write(two);
        raw.flush();
      } finally {
        big.release();
        two.release();
      }
    });
    wsClient()
        .connect(port, "127.0.0.1", "/").onComplete(ctx.succeeding(ws -> {
          ws.textMessageHandler(t -> {
            received.add(t.length() == BIG ? "big" : t);
            if (received.size() == 3) {
              ctx.verify(() -> assertEquals(List.of("big", "ack", "two"), received));
              ctx.completeNow();
            }
          });
          ws.writeTextMessage("go");
        }));
    await(ctx, "three frames arrived whole and in order");
  }

  /**
   * A delivery to a socket with no send in flight still waits behind bytes Netty has not written yet (a
   * Vert.x write, as an ack is): the idle check reads Netty's buffer once something has
   * passed the gate, and trusts its own fields again once that buffer has drained.
   */
  /** The test's one socket, used only on the server's event loop. */
  private RawSocket rawOfFirst;

  @Test
  void anIdleSocketsSendWaitsBehindBytesStillInNetty() throws Exception {
    VertxTestContext ctx = new VertxTestContext();
    List<String> received = new CopyOnWriteArrayList<>();
    int port = uncompressed(ws -> ws.textMessageHandler(m -> {
      if (m.equals("go")) {
        rawOfFirst = RawSocket.of(ws); // once: it puts the socket's gate in its pipeline
      }
      RawSocket raw = rawOfFirst;
      ByteBuf next = WireFrames.text(m.equals("go") ? "two" : "three");
      try {
        if (m.equals("go")) {
          // On io_uring Netty's write leaves its bytes in the channel's buffer until a later loop pass.
          ws.writeTextMessage("ack");
          ctx.verify(() -> assertFalse(raw.sending(), "no send of the gate's own is in flight"));
          ctx.verify(() -> assertFalse(raw.gate().sendIfIdle(next), "Vert.x's bytes are still waiting in Netty"));
          raw.write(next);
          raw.flush();
        } else {
          ctx.verify(() -> assertTrue(raw.gate().sendIfIdle(next), "Netty's buffer has drained: idle again"));
        }
      } finally {
        next.release();
      }
    }));
    wsClient()
        .connect(port, "127.0.0.1", "/").onComplete(ctx.succeeding(ws -> {
          ws.textMessageHandler(t -> {
            received.add(t);
            if (received.size() == 2) {
              ctx.verify(() -> assertEquals(List.of("ack", "two"), received));
              ws.writeTextMessage("again");
            } else if (received.size() == 3) {
              ctx.verify(() -> assertEquals("three", received.get(2)));
              ctx.completeNow();
            }
          });
          ws.writeTextMessage("go");
        }));
    await(ctx, "Vert.x's message, then both frames, in order");
  }

  /**
   * A gate is put in a socket's pipeline at its session's first delivery, when Vert.x may have written bytes
   * that are still in Netty's buffer (an auth_success, a recovery's replay): a new gate must not take the socket
   * for idle. It did, and a live message overtook a recovery's replay and its ack (HistoryRecoveryTest, 1 run
   * in 12 on a loaded machine).
   */
  @Test
  void aGateInstalledBehindBytesAlreadyInNettyDoesNotTakeTheSocketForIdle() throws Exception {
    VertxTestContext ctx = new VertxTestContext();
    List<String> received = new CopyOnWriteArrayList<>();
    int port = uncompressed(ws -> ws.textMessageHandler(m -> {
      // Vert.x's write first, on io_uring still in the channel's buffer; then the gate.
      ws.writeTextMessage("replayed");
      RawSocket raw = RawSocket.of(ws);
      ByteBuf live = WireFrames.text("live");
      try {
        ctx.verify(() -> assertFalse(raw.gate().sendIfIdle(live), "Vert.x's bytes are still waiting in Netty"));
        raw.write(live);
        raw.flush();
      } finally {
        live.release();
      }
    }));
    wsClient()
        .connect(port, "127.0.0.1", "/").onComplete(ctx.succeeding(ws -> {
          ws.textMessageHandler(t -> {
            received.add(t);
            if (received.size() == 2) {
              ctx.verify(() -> assertEquals(List.of("replayed", "live"), received));
              ctx.completeNow();
            }
          });
          ws.writeTextMessage("go");
        }));
    await(ctx, "Vert.x's message, then the live frame");
  }

  @Test
  void closingTheSocketCancelsASendWaitingForRoom() throws Exception {
    VertxTestContext ctx = new VertxTestContext();
    int port = listen(ctx, (ws, raw) -> {
      ByteBuf big = WireFrames.text("x".repeat(BIG));
      try {
        ctx.verify(() -> assertTrue(raw.writeDirect(big)));
      } finally {
        big.release();
      }
      // The peer reads nothing: the send waits for room until the close cancels it. Closed below Vert.x's
      // WebSocket handler, as its closing timeout does: ws.close() would queue a close frame behind the send.
      ((WebSocketImplBase<?>) ws).channelHandlerContext().close();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      server.setPeriodic(10, id -> {
        if (!raw.sending()) {
          server.cancelTimer(id);
          ctx.completeNow();
        } else if (System.nanoTime() > deadline) {
          server.cancelTimer(id);
          ctx.failNow("the send was still in flight 10 s after its socket closed");
        }
      });
    });
    // A peer that reads nothing after its upgrade: the kernel's buffers fill and the send must wait.
    try (RawWsClient peer = RawWsClient.connect(port, "/")) {
      peer.sendText("go");
      await(ctx, "the stuck send completed once its socket closed");
    }
  }

  private WebSocketClient wsClient() {
    webSockets = client.createWebSocketClient(new WebSocketClientOptions().setMaxFrameSize(BIG + 1024)
        .setMaxMessageSize(BIG + 1024));
    return webSockets;
  }

  /** A server that hands each socket's raw path to {@code onFirstMessage} once the client speaks. */
  private int listen(VertxTestContext ctx, BiConsumer<ServerWebSocket, RawSocket> onFirstMessage) {
    return uncompressed(ws -> ws.textMessageHandler(go -> {
      RawSocket raw = RawSocket.of(ws);
      ctx.verify(() -> assertNotNull(raw, "an uncompressed socket is written raw"));
      onFirstMessage.accept(ws, raw);
    }));
  }

  /** A server whose sockets are never compressed (so they are written raw); returns its port. */
  private int uncompressed(Handler<ServerWebSocket> sockets) {
    return server.createHttpServer(new HttpServerOptions().setHost("127.0.0.1")
            .setPerMessageWebSocketCompressionSupported(false).setPerFrameWebSocketCompressionSupported(false))
        .webSocketHandler(sockets).listen(0).await().actualPort();
  }

  private static void await(VertxTestContext ctx, String what) throws Exception {
    assertTrue(ctx.awaitCompletion(30, TimeUnit.SECONDS), what);
    if (ctx.failed()) {
      throw new AssertionError(ctx.causeOfFailure());
    }
  }
}
