package dev.switchboard.bench;

import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.Appender;
import ch.qos.logback.core.ConsoleAppender;
import java.util.Iterator;
import org.slf4j.LoggerFactory;

/**
 * The bench's stdout belongs to its results: with {@code --json} it must parse as one JSON document, and a
 * log line from a library in this JVM (Netty warns about the MAC address on some hosts) would break it. The
 * node's {@code logback.xml} writes to stdout, which is right for a node, so the bench moves its own console
 * output to stderr when it starts. The servers it starts are other JVMs and log to their files.
 */
final class BenchLogging {

  private BenchLogging() {}

  /** Points every console appender of this JVM's logback at stderr. */
  static void consoleToStderr() {
    consoleTo("System.err");
  }

  /**
   * Points every console appender at {@code target} ("System.out" or "System.err"). Tests that run the bench in
   * a shared JVM put stdout back with it, so the tests after them still see what a node logs where it logs it.
   */
  static void consoleTo(String target) {
    if (!(LoggerFactory.getILoggerFactory() instanceof LoggerContext ctx)) {
      return;
    }
    for (ch.qos.logback.classic.Logger logger : ctx.getLoggerList()) {
      for (Iterator<Appender<ILoggingEvent>> it = logger.iteratorForAppenders(); it.hasNext(); ) {
        if (it.next() instanceof ConsoleAppender<ILoggingEvent> console && !target.equals(console.getTarget())) {
          // the target is read when the appender starts
          console.stop();
          console.setTarget(target);
          console.start();
        }
      }
    }
  }
}
