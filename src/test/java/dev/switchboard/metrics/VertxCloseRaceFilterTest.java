package dev.switchboard.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Logger;
import dev.switchboard.testing.LogCapture;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/** The filter drops Vert.x's closing-timeout race and nothing else; the soak (README, Soak) shows it end to end. */
class VertxCloseRaceFilterTest {

  @Test
  void matchesTheClosingTimeoutRaceOnly() {
    assertTrue(VertxCloseRaceFilter.isCloseRace(
        race("promise already done: ConnectionBase$CloseChannelPromise@1(success)")));
    assertFalse(VertxCloseRaceFilter.isCloseRace(race("some other failure")), "other messages stay");
    assertFalse(VertxCloseRaceFilter.isCloseRace(race(null)), "no message stays");

    IllegalArgumentException elsewhere = new IllegalArgumentException("promise already done: x");
    elsewhere.setStackTrace(new StackTraceElement[] {
        frame("io.netty.channel.AbstractChannelHandlerContext", "isNotValidPromise"),
        frame("dev.switchboard.gateway.Session", "close")});
    assertFalse(VertxCloseRaceFilter.isCloseRace(elsewhere), "the same message from other code stays");

    IllegalArgumentException closeWriteOnly = new IllegalArgumentException("promise already done: x");
    closeWriteOnly.setStackTrace(new StackTraceElement[] {
        frame("io.vertx.core.net.impl.VertxConnection", "lambda$writeClose$2"),
        frame("io.vertx.core.net.impl.VertxConnection", "handleClose")});
    assertFalse(VertxCloseRaceFilter.isCloseRace(closeWriteOnly),
        "a close not reached from the WebSocket timeout stays");
  }

  @Test
  void theLineIsDroppedAndOtherListenerFailuresStillLogged() {
    // Netty logs a listener's exception this way, on DefaultPromise's logger.
    Logger log = (Logger) LoggerFactory.getLogger("io.netty.util.concurrent.DefaultPromise");
    try (LogCapture seen = LogCapture.of(log.getName())) {
      long before = VertxCloseRaceFilter.suppressed();
      log.warn("An exception was thrown by io.vertx.core.net.impl.VertxConnection$$Lambda.operationComplete()",
          race("promise already done: ConnectionBase$CloseChannelPromise@1(success)"));
      assertEquals(List.of(), seen.messages());
      assertEquals(before + 1, VertxCloseRaceFilter.suppressed());

      log.warn("An exception was thrown by x.operationComplete()", new IllegalStateException("boom"));
      assertEquals(1, seen.messages().size(), "another listener failure is logged");
    }
  }

  @Test
  void theShippedLoggingConfigInstallsIt() throws Exception {
    try (InputStream in = VertxCloseRaceFilter.class.getResourceAsStream("/logback.xml")) {
      assertNotNull(in, "logback.xml on the class path");
      String xml = new String(in.readAllBytes(), StandardCharsets.UTF_8);
      assertTrue(xml.contains("<turboFilter class=\"" + VertxCloseRaceFilter.class.getName() + "\"/>"), xml);
    }
  }

  /** The stack Vert.x 5.0 produces (trimmed to the frames that identify it). */
  private static IllegalArgumentException race(String message) {
    IllegalArgumentException e = new IllegalArgumentException(message);
    e.setStackTrace(new StackTraceElement[] {
        frame("io.netty.channel.AbstractChannelHandlerContext", "isNotValidPromise"),
        frame("io.netty.channel.AbstractChannelHandlerContext", "close"),
        frame("io.vertx.core.net.impl.VertxConnection", "lambda$writeClose$2"),
        frame("io.netty.util.concurrent.DefaultPromise", "notifyListener0"),
        frame("io.vertx.core.net.impl.VertxConnection", "writeClose"),
        frame("io.vertx.core.net.impl.VertxConnection", "handleClose"),
        frame("io.vertx.core.http.impl.WebSocketConnectionImpl", "finishClose"),
        frame("io.vertx.core.http.impl.WebSocketConnectionImpl", "lambda$handleClose$1")});
    return e;
  }

  private static StackTraceElement frame(String cls, String method) {
    return new StackTraceElement(cls, method, null, -1);
  }
}
