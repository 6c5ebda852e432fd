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
 * <p>{@code auto} takes epoll, else NIO: on epoll a delivery is one {@code write(2)} straight to the socket
 * ({@link RawSocket#writeDirect}), cheap and with the lowest p99 from the first minute. {@code io_uring} is
 * opt-in: a loop pass's sends reach the kernel in one {@code io_uring_enter} ({@link UringSender}), which
 * once the node is warm costs 0.56–0.61 × bare's CPU per delivery against epoll's 0.81–0.86 × and carries
 * twice bare's saturation rate, but its first minute is no cheaper than epoll and its p99 then is higher
 * (BENCHMARKS.md). It stays opt-in until a long soak has run on it. Naming a transport the host lacks
 * (io_uring disabled by sysctl or seccomp) fails the start.
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
        if (Transport.EPOLL.available()) {
          yield Transport.EPOLL;
        }
        log.info("event=transport_unavailable transport=epoll reason=\"{}\"", reason(Transport.EPOLL));
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
