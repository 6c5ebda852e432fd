package dev.switchboard.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.stream.ChunkedWriteHandler;
import io.netty.handler.timeout.IdleStateHandler;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class UpgradeLeftoversTest {

  @Test
  void theChunkedWriterTheIdleHandlerAndTheRequestClockLeaveAndTheRestStays() {
    RequestDeadlines deadlines = new RequestDeadlines(Duration.ofSeconds(10), Duration.ofSeconds(30),
        new RequestDeadlinesTest.Recorder());
    EmbeddedChannel ch = new EmbeddedChannel();
    ch.pipeline().addLast("wsencoder", new ChannelInboundHandlerAdapter());
    ch.pipeline().addLast(RequestDeadlines.HANDLER, new RequestDeadlines.Clock(deadlines, null));
    ch.pipeline().addLast(UpgradeLeftovers.CHUNKED_WRITER, new ChunkedWriteHandler());
    ch.pipeline().addLast(UpgradeLeftovers.IDLE, new IdleStateHandler(0, 0, 65));
    ch.pipeline().addLast("handler", new ChannelInboundHandlerAdapter());
    UpgradeLeftovers.drop(ch.pipeline());
    assertNull(ch.pipeline().get(UpgradeLeftovers.CHUNKED_WRITER));
    assertNull(ch.pipeline().get(UpgradeLeftovers.IDLE));
    // Left in, its clock would start at the session's first frame and cut the session at the header deadline.
    assertNull(ch.pipeline().get(RequestDeadlines.HANDLER));
    assertEquals(0, deadlines.waitingForHead());
    assertEquals(List.of("wsencoder", "handler"), ch.pipeline().names().subList(0, 2));
    UpgradeLeftovers.drop(ch.pipeline()); // already gone: nothing to do
    ch.finishAndReleaseAll();
  }
}
