package dev.switchboard.gateway;

import static dev.switchboard.gateway.Frames.WAIT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.SwitchboardNode;
import dev.switchboard.config.ConfigException;
import dev.switchboard.config.SwitchboardConfig;
import dev.switchboard.testing.TestNodes;
import dev.switchboard.testing.WsClient;
import io.vertx.core.Vertx;
import io.vertx.core.http.WebSocketClientOptions;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.internal.VertxInternal;
import io.vertx.core.json.JsonObject;
import io.vertx.core.transport.Transport;
import io.vertx.junit5.VertxExtension;
import java.util.Locale;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * {@code server.transport}: the node runs on the transport it names (auto = io_uring, else epoll, else NIO),
 * and on each one a plain and a permessage-deflate session get their deliveries. The raw-frame path differs
 * per transport (a direct write on epoll, queued submissions on io_uring, the pipeline on NIO) and so does
 * the moment the upgrade response is written, which decides whether a session is compressed.
 */
@ExtendWith(VertxExtension.class)
class TransportTest {

  @Test
  void autoTakesIoUringThenEpollThenNio() {
    boolean uring = Transport.IO_URING.available()
        && !NetTransport.chargesRingsToMemlock(System.getProperty("os.version"));
    Transport expected = uring ? Transport.IO_URING : Transport.EPOLL.available() ? Transport.EPOLL : Transport.NIO;
    assertSame(expected, NetTransport.choose(SwitchboardConfig.Transport.AUTO));
    assertSame(Transport.NIO, NetTransport.choose(SwitchboardConfig.Transport.NIO));
  }

  @Test
  void autoPassesIoUringOverOnKernelsThatChargeRingsToMemlock() {
    // The rings of a node's loops outgrow the usual 64 KiB RLIMIT_MEMLOCK that Netty's 1-entry probe fits in.
    String[] before512 = {"5.11.22-generic", "5.4.0-150-generic", "4.19.0", "3.10.0-1160.el7.x86_64", "", "?"};
    for (String old : before512) {
      assertTrue(NetTransport.chargesRingsToMemlock(old), old);
      assertTrue(NetTransport.uringUnavailable(old).contains("RLIMIT_MEMLOCK"), old);
    }
    for (String current : new String[] {"5.12.0", "5.15.0-91-generic", "6.1.0-18-amd64", "6.18.44-fc-v1252", "10.0"}) {
      assertFalse(NetTransport.chargesRingsToMemlock(current), current);
    }
  }

  @ParameterizedTest
  @EnumSource(SwitchboardConfig.Transport.class)
  void eachTransportDeliversToPlainAndCompressedSessions(SwitchboardConfig.Transport wanted, Vertx vertx) {
    JsonObject conf = new JsonObject().put("server",
        new JsonObject().put("transport", wanted.name().toLowerCase(Locale.ROOT)));
    Transport chosen = wanted == SwitchboardConfig.Transport.AUTO ? NetTransport.choose(wanted) : switch (wanted) {
      case IO_URING -> Transport.IO_URING;
      case EPOLL -> Transport.EPOLL;
      default -> Transport.NIO;
    };
    if (!chosen.available()) {
      ConfigException e = assertThrows(ConfigException.class, () -> TestNodes.standalone(conf));
      assertTrue(e.getMessage().startsWith("server.transport: "), e.getMessage());
      return;
    }
    SwitchboardNode node = TestNodes.standalone(conf);
    try {
      assertEquals(chosen.implementation().getClass(), ((VertxInternal) node.vertx()).transport().getClass(),
          "the node's event loops run " + NetTransport.name(chosen));
      WsClient plain = WsClient.authed(vertx, node.port(), TestNodes.token("pia", "lobby")).await();
      WsClient deflate = WsClient.connect(vertx, new WebSocketClientOptions().setTryUsePerMessageCompression(true),
          new WebSocketConnectOptions().setHost("127.0.0.1").setPort(node.port())
              .setURI("/ws?token=" + TestNodes.token("dev", "lobby"))).await();
      deflate.next("auth_success", WAIT).await();
      assertTrue(String.valueOf(deflate.socket().headers().get("Sec-WebSocket-Extensions")).contains("permessage-deflate"));
      Frames.ack(plain, 1, Frames.subscribe("room:lobby"));
      Frames.ack(deflate, 1, Frames.subscribe("room:lobby"));
      for (int i = 0; i < 20; i++) {
        Frames.httpPublish(vertx, node.port(), "room:lobby", new JsonObject().put("n", i).put("pad", "x".repeat(2000)));
      }
      for (WsClient c : new WsClient[] {plain, deflate}) {
        for (int i = 0; i < 20; i++) {
          JsonObject m = c.next("message", WAIT).await();
          assertEquals(i, m.getJsonObject("message").getInteger("n"), "in order, none lost");
        }
      }
      plain.close().await();
      deflate.close().await();
    } finally {
      node.close().await();
    }
  }
}
