package dev.switchboard.client;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetSocket;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A TCP proxy in front of a node that a test can cut: the client loses its connection while the node, and the
 * history it keeps, stay up. While down it refuses every new connection by closing it at once.
 */
final class CuttableProxy {

  private final NetServer server;
  private final NetClient client;
  private final Set<NetSocket> open = ConcurrentHashMap.newKeySet();
  private volatile boolean down;

  private CuttableProxy(Vertx vertx, int targetPort) {
    this.client = vertx.createNetClient();
    this.server = vertx.createNetServer().connectHandler(in -> {
      if (down) {
        in.close();
        return;
      }
      in.pause();
      client.connect(targetPort, "127.0.0.1").onComplete(ar -> {
        if (ar.failed() || down) {
          in.close();
          if (ar.succeeded()) {
            ar.result().close();
          }
          return;
        }
        NetSocket out = ar.result();
        open.add(in);
        open.add(out);
        in.handler(out::write);
        out.handler(in::write);
        in.closeHandler(v -> {
          open.remove(in);
          out.close();
        });
        out.closeHandler(v -> {
          open.remove(out);
          in.close();
        });
        in.resume();
      });
    });
  }

  static CuttableProxy start(Vertx vertx, int targetPort) {
    CuttableProxy p = new CuttableProxy(vertx, targetPort);
    p.server.listen(0, "127.0.0.1").await();
    return p;
  }

  int port() {
    return server.actualPort();
  }

  /** Closes every proxied connection and refuses new ones until {@link #up()}. */
  void cut() {
    down = true;
    for (NetSocket s : open) {
      s.close();
    }
  }

  void up() {
    down = false;
  }

  Future<Void> close() {
    cut();
    return server.close().eventually(client::close);
  }
}
