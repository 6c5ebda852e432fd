package dev.switchboard.gateway;

import dev.switchboard.config.ConfigException;
import dev.switchboard.config.SwitchboardConfig;
import io.vertx.core.transport.Transport;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Picks the event loops' network transport from {@code server.transport}.
 *
 * <p>{@code auto} takes io_uring, else epoll, else NIO. On io_uring a loop pass's sends reach the kernel in
 * one {@code io_uring_enter} ({@link UringSender}): a fanout delivery costs 0.56–0.69 × bare Vert.x's CPU
 * against epoll's 0.81–0.91 ×, and it carries twice bare's saturation rate (BENCHMARKS.md). On epoll a
 * delivery is one {@code write(2)} straight to the socket ({@link RawSocket#writeDirect}).
 *
 * <p>{@code auto} passes io_uring over where it is off (sysctl {@code kernel.io_uring_disabled}, a seccomp
 * profile: Netty's probe fails) and on kernels before 5.12, which charge a ring to {@code RLIMIT_MEMLOCK}:
 * Netty's probe makes a 1-entry ring, which fits the usual 64 KiB limit, but a loop's ring (4,096 completion
 * entries, about 75 KiB) does not, and the node would then fail at start instead of falling back. Naming a
 * transport the host lacks fails the start.
 */
public final class NetTransport {

  private static final Logger log = LoggerFactory.getLogger(NetTransport.class);

  private static final Pattern KERNEL = Pattern.compile("(\\d{1,4})\\.(\\d{1,4})");

  private NetTransport() {}

  public static Transport choose(SwitchboardConfig.Transport wanted) {
    return switch (wanted) {
      case IO_URING -> require(Transport.IO_URING);
      case EPOLL -> require(Transport.EPOLL);
      case NIO -> Transport.NIO;
      case AUTO -> {
        String uringOff = uringUnavailable(System.getProperty("os.version", ""));
        if (uringOff == null) {
          yield Transport.IO_URING;
        }
        log.info("event=transport_unavailable transport=io_uring reason=\"{}\"", uringOff);
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

  /** Why {@code auto} does not take io_uring on this host, or null when it does. */
  static String uringUnavailable(String kernel) {
    if (chargesRingsToMemlock(kernel)) {
      return "kernel " + kernel + " charges io_uring rings to RLIMIT_MEMLOCK (before 5.12)";
    }
    return Transport.IO_URING.available() ? null : reason(Transport.IO_URING);
  }

  /** Kernels before 5.12 account ring memory against the locked-memory limit; an unreadable version counts as old. */
  static boolean chargesRingsToMemlock(String kernel) {
    Matcher m = KERNEL.matcher(kernel);
    if (!m.lookingAt()) {
      return true;
    }
    int major = Integer.parseInt(m.group(1));
    int minor = Integer.parseInt(m.group(2));
    return major < 5 || (major == 5 && minor < 12);
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
