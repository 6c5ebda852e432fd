package dev.switchboard.gateway;

import io.netty.buffer.ByteBuf;
import io.netty.channel.EventLoop;
import io.netty.channel.IoEvent;
import io.netty.channel.IoEventLoop;
import io.netty.channel.IoRegistration;
import io.netty.channel.uring.IoUringIoEvent;
import io.netty.channel.uring.IoUringIoHandle;
import io.netty.channel.uring.IoUringIoOps;
import io.netty.util.concurrent.FastThreadLocal;
import io.netty.util.concurrent.Future;
import java.util.Arrays;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sends pre-built delivery frames on an io_uring event loop without Netty's channel write path: one
 * {@code IORING_OP_SEND} per frame, submitted through this loop's own registration with the ring, so a loop
 * pass's sends reach the kernel in the one {@code io_uring_enter} the loop makes anyway. Netty's channel write
 * (outbound buffer entry, promise, per-write completion bookkeeping) cost as much user time as io_uring saved
 * in the kernel; this path pays a ring slot and a table entry.
 *
 * <p>The frame stays retained until its completion. {@code MSG_WAITALL} makes the kernel finish a short
 * send itself, so a completion is the whole frame, an error, or a cancel. One per event loop thread and
 * only used on it; {@link SendGate} keeps the socket's other writes behind a send in flight.
 */
final class UringSender implements IoUringIoHandle {

  private static final Logger log = LoggerFactory.getLogger(UringSender.class);

  // io_uring.h and socket.h values; Netty's own constants for them are package-private.
  private static final byte IORING_OP_SEND = 26;
  private static final byte IORING_OP_ASYNC_CANCEL = 14;
  private static final int MSG_WAITALL = 0x100;
  /** Slots fit the 16 bits Netty packs into a submission's user data, which spares it a lookup table. */
  private static final int MAX_SLOTS = Short.MAX_VALUE;
  /** What {@link IoRegistration#submit} returns for a registration that is no longer valid. */
  private static final long INVALID_ID = 0;

  private static final FastThreadLocal<UringSender> PER_LOOP = new FastThreadLocal<>();

  private IoRegistration registration;
  private boolean closed;
  private SendGate[] gates = new SendGate[256];
  private ByteBuf[] frames = new ByteBuf[256];
  /** Free slot numbers, a stack; slots at or above {@code next} have never been used. */
  private int[] free = new int[256];
  private int freeCount;
  private int next;
  /** References to one fan-out's frame taken in one step ({@link #prepay}); each send of it uses one. */
  private ByteBuf prepaid;
  private int prepaidLeft;

  private UringSender() {}

  /**
   * This loop's sender, registered with its ring on first use.
   *
   * @return null when the loop is not an io_uring loop, the caller is not on it, or registration failed:
   *     the caller writes through the pipeline
   */
  static UringSender of(EventLoop loop) {
    if (!(loop instanceof IoEventLoop io) || !loop.inEventLoop()) {
      return null;
    }
    UringSender s = PER_LOOP.get();
    if (s == null) {
      s = new UringSender();
      PER_LOOP.set(s);
      s.register(io);
    }
    return s.registration == null || s.closed ? null : s;
  }

  private void register(IoEventLoop loop) {
    if (!loop.isCompatible(UringSender.class)) {
      closed = true;
      return;
    }
    Future<IoRegistration> f = loop.register(this);
    // On the loop's own thread the registration is made at once.
    f.addListener(done -> {
      if (done.isSuccess()) {
        registration = f.getNow();
      } else {
        closed = true;
        log.warn("event=uring_sender_unavailable reason=\"{}\"", String.valueOf(done.cause()));
      }
    });
  }

  /**
   * Submits one send of {@code frame}'s readable bytes to {@code fd}; it reaches the kernel at the loop's next
   * submission. The caller has made sure nothing else is pending on that socket.
   *
   * @return the submission's id for {@link #cancel}, or -1 when it was not submitted (out of slots, or the
   *     loop is closing): the caller writes through the pipeline instead
   */
  long send(SendGate gate, int fd, ByteBuf frame) {
    if (closed || !frame.hasMemoryAddress()) {
      return -1;
    }
    int slot = takeSlot();
    if (slot < 0) {
      return -1;
    }
    long address = frame.memoryAddress() + frame.readerIndex();
    long id = registration.submit(new IoUringIoOps(IORING_OP_SEND, (byte) 0, (short) 0, fd, 0L, address,
        frame.readableBytes(), MSG_WAITALL, slot, (short) 0, (short) 0, 0, 0L));
    if (id == INVALID_ID) {
      freeSlot(slot);
      return -1;
    }
    gates[slot] = gate;
    if (frame == prepaid && prepaidLeft > 0) {
      prepaidLeft--;
      frames[slot] = frame;
    } else {
      frames[slot] = frame.retain();
    }
    return id;
  }

  /**
   * Takes {@code n} references to a fan-out's frame at once, for its sends to use instead of a retain each:
   * a retain is a locked instruction, and one per delivery also kept the core from overlapping one
   * subscriber's cache misses with the next one's. {@link #settle} gives back what the fan-out left.
   */
  void prepay(ByteBuf frame, int n) {
    settle();
    prepaid = frame.retain(n);
    prepaidLeft = n;
  }

  /** Releases the references {@link #prepay} took that no send used. */
  void settle() {
    if (prepaid != null) {
      ByteBuf frame = prepaid;
      int left = prepaidLeft;
      prepaid = null;
      prepaidLeft = 0;
      if (left > 0) {
        frame.release(left);
      }
    }
  }

  /** Asks the kernel to give up a send still waiting for room in its socket (the socket is closing). */
  void cancel(long id) {
    if (registration != null && registration.isValid()) {
      registration.submit(new IoUringIoOps(IORING_OP_ASYNC_CANCEL, (byte) 0, (short) 0, -1, 0L, id, 0, 0,
          0L, (short) 0, (short) 0, 0, 0L));
    }
  }

  @Override
  public void handle(IoRegistration r, IoEvent event) {
    IoUringIoEvent e = (IoUringIoEvent) event;
    if (e.opcode() != IORING_OP_SEND) {
      return; // a cancel's own completion: the cancelled send completes separately
    }
    int slot = (int) e.userData();
    SendGate gate = gates[slot];
    ByteBuf frame = frames[slot];
    gates[slot] = null;
    frames[slot] = null;
    freeSlot(slot);
    try {
      gate.sent(e.res(), frame);
    } finally {
      frame.release();
    }
  }

  /**
   * The loop is shutting down: sends still waiting for socket room are cancelled, and their completions,
   * which the ring still delivers, release the frames.
   */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    if (registration != null) {
      for (int slot = 0; slot < next; slot++) {
        if (gates[slot] != null) {
          gates[slot].cancelInFlight();
        }
      }
      registration.cancel();
    }
  }

  private int takeSlot() {
    if (freeCount > 0) {
      return free[--freeCount];
    }
    if (next == MAX_SLOTS) {
      return -1;
    }
    if (next == gates.length) {
      int n = Math.min(MAX_SLOTS, gates.length * 2);
      gates = Arrays.copyOf(gates, n);
      frames = Arrays.copyOf(frames, n);
      free = Arrays.copyOf(free, n);
    }
    return next++;
  }

  private void freeSlot(int slot) {
    free[freeCount++] = slot;
  }
}
