package dev.switchboard.bench;

import dev.switchboard.config.SwitchboardConfig;
import dev.switchboard.gateway.NetTransport;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.uring.IoUring;
import io.netty.channel.uring.IoUringBufferRingConfig;
import io.netty.channel.uring.IoUringChannelOption;
import io.netty.channel.uring.IoUringFixedBufferRingAllocator;
import io.netty.channel.uring.IoUringIoHandler;
import io.netty.channel.uring.IoUringIoHandlerConfig;
import io.vertx.core.impl.transports.IoUringTransport;
import io.vertx.core.net.ClientOptionsBase;
import io.vertx.core.transport.Transport;

/**
 * The load generator's network transport. On io_uring its rings are set up for a receiver, the way io_uring
 * networking is meant to receive: every connection keeps one multishot {@code recv} armed on a ring of
 * provided buffers (no new submission per read, and an idle connection holds no read buffer), and the ring
 * is single-issuer with deferred task work, so a frame arriving for one of the loop's 1,000 sockets is
 * queued for the loop's next wait instead of interrupting it.
 *
 * <p>Why the bench needs it: in the cluster scenario the loop reads each publication's 1,000 receipts one
 * after the other, inside the burst whose tail it measures, on the same two cores as the servers — its cost
 * per receipt is part of every server's p99, bare's included. Both targets meet the same load generator.
 * {@code --client-uring plain} keeps Vert.x's own io_uring set-up, for an A/B.
 */
final class LoadTransport {

  /** The provided-buffer group every load-generator connection reads from (one ring per event loop). */
  static final short BUFFER_GROUP = 1;
  /** Buffers per loop: four times a 1,000-socket burst's receipts, so refills keep ahead of the reads. */
  static final short RING_BUFFERS = 4096;
  /** Bytes per buffer: a delivery frame is ~200 B; a longer read spans buffers, as a stream may. */
  static final int BUFFER_BYTES = 2048;
  /** Buffers given back to the kernel at a time as the loop uses them up. */
  static final int REFILL_BATCH = 256;

  private LoadTransport() {}

  /** The transport for {@code wanted}: Vert.x's own, or on io_uring with {@code tuned}, the receiver's set-up. */
  static Transport choose(SwitchboardConfig.Transport wanted, boolean tuned) {
    Transport t = NetTransport.choose(wanted);
    if (t != Transport.IO_URING || !tuned || !IoUring.isRegisterBufferRingSupported()
        || !IoUring.isRecvMultishotEnabled()) {
      return t;
    }
    return new Tuned();
  }

  /** Whether {@code t} is the receiver's set-up. */
  static boolean isTuned(Transport t) {
    return t instanceof Tuned;
  }

  /** The io_uring set-up {@code t} applies, for the report: tuned, plain, or null off io_uring. */
  static String uringSetup(Transport t) {
    return isTuned(t) ? "tuned" : t == Transport.IO_URING ? "plain" : null;
  }

  private static final class Tuned implements Transport {
    private final ReceiverUring implementation = new ReceiverUring();

    @Override
    public String name() {
      return Transport.IO_URING.name();
    }

    @Override
    public boolean available() {
      return true;
    }

    @Override
    public Throwable unavailabilityCause() {
      return null;
    }

    @Override
    public io.vertx.core.spi.transport.Transport implementation() {
      return implementation;
    }
  }

  private static final class ReceiverUring extends IoUringTransport {
    @Override
    public IoHandlerFactory ioHandlerFactory() {
      IoUringBufferRingConfig ring = IoUringBufferRingConfig.builder()
          .bufferGroupId(BUFFER_GROUP)
          .bufferRingSize(RING_BUFFERS)
          .batchSize(REFILL_BATCH)
          .allocator(new IoUringFixedBufferRingAllocator(BUFFER_BYTES))
          .build();
      return IoUringIoHandler.newFactory(new IoUringIoHandlerConfig().setBufferRingConfig(ring).setSingleIssuer(true));
    }

    @Override
    public void configure(ClientOptionsBase options, int remotePort, boolean domainSocket, Bootstrap bootstrap) {
      super.configure(options, remotePort, domainSocket, bootstrap);
      bootstrap.option(IoUringChannelOption.IO_URING_BUFFER_GROUP_ID, BUFFER_GROUP);
    }
  }
}
