package dev.switchboard.testing;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.util.List;
import org.slf4j.LoggerFactory;

/**
 * Records what one logger logs while it is open, for tests that check a log line (or its absence).
 * Lines may be logged from any thread; reads copy under the appender's own lock, the one logback takes
 * to append.
 */
public final class LogCapture implements AutoCloseable {

  private final Logger logger;
  private final ListAppender<ILoggingEvent> appender = new ListAppender<>();

  private LogCapture(String name) {
    logger = (Logger) LoggerFactory.getLogger(name);
    appender.start();
    logger.addAppender(appender);
  }

  public static LogCapture of(String loggerName) {
    return new LogCapture(loggerName);
  }

  public static LogCapture of(Class<?> loggerOf) {
    return new LogCapture(loggerOf.getName());
  }

  /** The formatted messages logged so far, in order. */
  public List<String> messages() {
    synchronized (appender) {
      return appender.list.stream().map(ILoggingEvent::getFormattedMessage).toList();
    }
  }

  /** The events logged so far, in order, with their level and the exception logged with them. */
  public List<ILoggingEvent> events() {
    synchronized (appender) {
      return List.copyOf(appender.list);
    }
  }

  /** The messages logged so far that contain {@code text}. */
  public List<String> containing(String text) {
    return messages().stream().filter(m -> m.contains(text)).toList();
  }

  /** Stops recording; what was recorded stays readable. */
  @Override
  public void close() {
    logger.detachAppender(appender);
  }
}
