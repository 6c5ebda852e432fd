package dev.switchboard.gateway;

import dev.switchboard.config.ConfigException;
import dev.switchboard.config.SwitchboardConfig;
import io.vertx.core.transport.Transport;
import java.util.Locale;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Picks the event loops' network transport from {@code server.transport}.
 *
 * <p>{@code auto} prefers io_uring because a fan-out is a burst of small writes to many sockets: epoll pays
 * one {@code write(2)} per socket, io_uring submits a loop pass's writes in one {@code io_uring_enter}, and on
 * loopback that was a quarter less node CPU per delivery (BENCHMARKS.md). Kernels or sandboxes without
 * io_uring (disabled by sysctl, blocked by seccomp) fall back to epoll, then to NIO, with the reason logged.
 */
public final class NetTransport {

  private static final Logger log = LoggerFactory.getLogger(NetTransport.class);

  private NetTransport() {}

  public static Transport choose(SwitchboardConfig.Transport wanted) {
    return switch (wanted) {
      case IO_URING -> require(Transport.IO_URING);
      case EPOLL -> require(Transport.EPOLL);
      case NIO -> Transport.NIO;
      case AUTO -> {
        for (Transport t : new Transport[] {Transport.IO_URING, Transport.EPOLL}) {
          if (t.available()) {
            yield t;
          }
          log.info("event=transport_unavailable transport={} reason=\"{}\"", name(t), reason(t));
        }
        yield Transport.NIO;
      }
    };
  }

  /** The name {@code server.transport} uses for it: io_uring, epoll, nio. */
  public static String name(Transport t) {
    return t.name().toLowerCase(Locale.ROOT);
  }

  private static Transport require(Transport t) {
    if (!t.available()) {
      throw new ConfigException("server.transport", name(t) + " is not available here: " + reason(t)
          + " (auto picks the best available one)");
    }
    return t;
  }

  private static String reason(Transport t) {
    Throwable cause = t.unavailabilityCause();
    return cause == null ? "unknown" : String.valueOf(cause.getMessage()).replace('"', '\'');
  }
}
