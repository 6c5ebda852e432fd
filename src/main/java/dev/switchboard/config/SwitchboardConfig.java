package dev.switchboard.config;

import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The whole configuration, read once at start by {@link ConfigLoader} (file → SWITCHBOARD_* env → flags)
 * and passed to every verticle. Each record rejects bad values in its constructor, naming the key.
 *
 * @param nodeId this node's name in {@code auth_success} and {@code /api/nodes}; null = generated
 */
public record SwitchboardConfig(String nodeId, Server server, Auth auth, Api api, SessionSettings session,
                                Limits limits, Channels channels, Rpc rpc, Cluster cluster, Redis redis,
                                Drain drain, Logging logging) {

  /**
   * The HTTP/WebSocket listener.
   *
   * @param host interface to bind; default 127.0.0.1
   * @param port default 8080; 0 picks a free port (tests)
   * @param wsPath WebSocket endpoint; default /ws
   * @param instances gateway verticle instances, each on its own event loop; 0 = one per CPU core
   * @param compression offer permessage-deflate when the client asks; default true
   * @param maxConnections per node; 0 = unlimited; over it upgrades get HTTP 503
   * @param allowedOrigins Origin allow-list for upgrades; empty = any origin
   * @param tlsCert PEM certificate path; with tlsKey turns on wss:// and https://
   * @param tlsKey PEM private key path
   * @param transport the network transport of the event loops; default {@code auto}
   * @param eventLoops size of the node's event-loop pool; 0 = Vert.x's default, two per CPU core
   * @param headerTimeout how long an HTTP connection may take to deliver a request head (its upgrade, or an API
   *     request): the first from the connection's start, each later one from its first byte; default 10 s
   * @param bodyTimeout how long a request may take to deliver its whole body, counted from the end of its head;
   *     default 30 s
   */
  public record Server(String host, int port, String wsPath, int instances, boolean compression,
                       int maxConnections, List<String> allowedOrigins, String tlsCert, String tlsKey,
                       Transport transport, int eventLoops, Duration headerTimeout, Duration bodyTimeout) {
    public Server {
      // The gateway's one-second tick enforces both: a shorter deadline would be a promise it cannot keep.
      if (headerTimeout.toMillis() < 1000) {
        throw new ConfigException("server.header_timeout", "must be at least 1s, was " + headerTimeout.toMillis() + "ms");
      }
      if (bodyTimeout.toMillis() < 1000) {
        throw new ConfigException("server.body_timeout", "must be at least 1s, was " + bodyTimeout.toMillis() + "ms");
      }
      if (!wsPath.startsWith("/")) {
        throw new ConfigException("server.ws_path", "must start with /");
      }
      if ((tlsCert == null) != (tlsKey == null)) {
        throw new ConfigException("server.tls", "cert and key must both be set, or neither");
      }
    }

    public boolean tls() {
      return tlsCert != null;
    }
  }

  /**
   * {@code server.transport}. {@code auto} takes io_uring where the platform has it (and a kernel from 5.12 on),
   * else epoll, else NIO (see NetTransport). Naming one that the platform lacks fails the start.
   */
  public enum Transport { AUTO, IO_URING, EPOLL, NIO }

  /**
   * Token verification. At least one of jwtSecret (HS256), jwtPublicKey (PEM, RS256/ES256), jwksUrl, jwksFile or
   * an entry of issuers.
   *
   * @param issuer the {@code iss} required of tokens verified with jwtSecret, jwtPublicKey, jwksUrl or jwksFile;
   *     null = any (or none)
   * @param audience the {@code aud} required of every token, but those of an issuer with an audience of its own;
   *     null = any
   * @param authTimeout how long an unauthenticated connection may stay open; default 10 s
   * @param expiryGrace how long after exp a session may renew before it is closed with 4010; default 25 s
   * @param issuers {@code auth.issuers}: further trusted issuers, each with its own JWKS source; a token naming one
   *     of them in {@code iss} is verified with that issuer's keys only; default none
   */
  public record Auth(String jwtSecret, String jwtPublicKey, String jwksUrl, String jwksFile, String issuer,
                     String audience, Duration authTimeout, Duration expiryGrace, List<TrustedIssuer> issuers) {
    public Auth {
      issuers = List.copyOf(issuers);
      if (jwtSecret == null && jwtPublicKey == null && jwksUrl == null && jwksFile == null && issuers.isEmpty()) {
        throw new ConfigException("auth", "set one of jwt_secret (SWITCHBOARD_JWT_SECRET), jwt_public_key "
            + "(SWITCHBOARD_JWT_PUBLIC_KEY), jwks_url, jwks_file or issuers");
      }
      if (authTimeout.isZero() || authTimeout.isNegative()) {
        throw new ConfigException("auth.auth_timeout", "must be positive");
      }
      if (!issuers.isEmpty() && (jwtPublicKey != null || jwksUrl != null || jwksFile != null) && issuer == null) {
        // Its tokens carry some iss that is not listed, and would be refused as untrusted.
        String source = jwtPublicKey != null ? "jwt_public_key" : jwksUrl != null ? "jwks_url" : "jwks_file";
        throw new ConfigException("auth.issuer", "must be set when auth." + source + " is used beside auth.issuers: "
            + "it names the issuer whose tokens that source's keys verify"
            + (jwtPublicKey != null ? "" : " (or move the source into auth.issuers)"));
      }
      Set<String> seen = new HashSet<>();
      if (issuer != null) {
        seen.add(issuer);
      }
      for (TrustedIssuer t : issuers) {
        if (!seen.add(t.issuer())) {
          throw new ConfigException(t.key() + ".issuer", t.issuer() + " is trusted twice (in auth.issuers"
              + (t.issuer().equals(issuer) ? " and as auth.issuer" : "") + "): each issuer has one key source");
        }
      }
    }

    /** Without auth.issuers, as configurations written before it. */
    public Auth(String jwtSecret, String jwtPublicKey, String jwksUrl, String jwksFile, String issuer,
                String audience, Duration authTimeout, Duration expiryGrace) {
      this(jwtSecret, jwtPublicKey, jwksUrl, jwksFile, issuer, audience, authTimeout, expiryGrace, List.of());
    }
  }

  /**
   * One entry of {@code auth.issuers}: an identity provider whose tokens the node accepts, and where its keys are.
   *
   * @param issuer the {@code iss} of its tokens, compared exactly
   * @param jwksUrl its JWKS endpoint, or null when jwksFile is set
   * @param jwksFile a JWKS document on disk, or null when jwksUrl is set
   * @param audience the {@code aud} required of its tokens in place of {@code auth.audience}; null = that one
   * @param key where it is configured, e.g. {@code auth.issuers[1]} or {@code SWITCHBOARD_AUTH_ISSUERS[1]}, for the
   *     messages that name it
   */
  public record TrustedIssuer(String issuer, String jwksUrl, String jwksFile, String audience, String key) {
    public TrustedIssuer {
      if (issuer == null || issuer.isEmpty()) {
        throw new ConfigException(key + ".issuer", "is required: the iss its tokens carry");
      }
      if ((jwksUrl == null) == (jwksFile == null)) {
        throw new ConfigException(key, "set one of jwks_url or jwks_file for issuer " + issuer);
      }
    }

    /** The {@code aud} its tokens must carry: its own audience, else {@code auth.audience} (null = any). */
    public String audienceOr(String global) {
      return audience != null ? audience : global;
    }

    /** The config key of its key source, which start-up names when it cannot be read. */
    public String sourceKey() {
      return key + (jwksUrl != null ? ".jwks_url" : ".jwks_file");
    }
  }

  /**
   * @param keys API keys accepted as {@code Authorization: Bearer <key>} on /api and /admin
   * @param demoTokens serve {@code GET /demo/token?user=…}, which mints a token for anyone who asks (for the
   *     demo page at /); default false, never turn it on in production
   */
  public record Api(List<String> keys, boolean demoTokens) {
    public Api(List<String> keys) {
      this(keys, false);
    }
  }

  /**
   * Per-session settings.
   *
   * @param heartbeat interval of server pings, a whole number of seconds from 1; default 25 s
   * @param idleTimeout a session that sends nothing (no frame, no pong) this long is closed (found by a check once
   *     a second); at least heartbeat + 1 s; default 60 s
   * @param maxMessageSize largest inbound message in bytes; larger closes with 1009; default 65536
   * @param maxSubscriptions per session, automatic ones included; default 128
   * @param outboundQueueBytes write queue bound; over it the session is closed with 4009; default 1 MiB
   */
  public record SessionSettings(Duration heartbeat, Duration idleTimeout, int maxMessageSize,
                                int maxSubscriptions, int outboundQueueBytes) {
    public SessionSettings {
      if (heartbeat.toMillis() < 1000) {
        throw new ConfigException("session.heartbeat", "must be at least 1s");
      }
      // auth_success tells clients the interval in whole seconds, and pings go out on the gateway's one-second
      // tick: 1500ms was announced as 1 and pinged every 2 s.
      if (heartbeat.toMillis() % 1000 != 0) {
        throw new ConfigException("session.heartbeat", "must be a whole number of seconds, was "
            + heartbeat.toMillis() + "ms");
      }
      if (heartbeat.toSeconds() > Integer.MAX_VALUE) {
        throw new ConfigException("session.heartbeat", "must be at most " + Integer.MAX_VALUE + "s, was "
            + heartbeat.toSeconds() + "s");
      }
      // Idleness is checked on the same once-a-second tick, just before the ping: a session's first ping can come
      // half a tick after the heartbeat (its interval starts mid-tick), so a timeout less than a tick longer than
      // the heartbeat could close a client that answers every ping before it was ever pinged.
      if (idleTimeout.compareTo(heartbeat.plusSeconds(1)) < 0) {
        throw new ConfigException("session.idle_timeout", "must be at least session.heartbeat + 1s ("
            + heartbeat.plusSeconds(1).toSeconds() + "s), was " + idleTimeout.toMillis() + "ms");
      }
    }
  }

  /**
   * Inbound and admission limits (SPEC §6).
   *
   * @param messagesPerSecond token-bucket refill per session; default 20
   * @param burst token-bucket size; default 40
   * @param rateAbuseLimit rate-limited messages within 10 s after which the session is closed with 4008
   * @param connectionsPerIp default 1000; over it → 4029
   * @param connectionsPerUser cluster-wide; default 20; over it → 4029
   * @param connectRatePerIp new connections per IP per second; default 50; over it → 4029
   */
  public record Limits(double messagesPerSecond, int burst, int rateAbuseLimit, int connectionsPerIp,
                       int connectionsPerUser, int connectRatePerIp) {}

  /** Who may subscribe to a namespace's channels. */
  public enum SubscribePolicy {
    /** Only the user the channel is named for (user:&lt;id&gt;). */
    OWNER,
    /** Sessions whose token's rooms claim lists the name, or "*". */
    CLAIM,
    /** Any authenticated session. */
    AUTHENTICATED,
    /** No client (backends only, or automatic). */
    NONE
  }

  /** Who may publish to a namespace's channels from a client. Backends may always publish. */
  public enum PublishPolicy {
    /** Sessions that may subscribe to the channel. */
    MEMBERS,
    /** Any authenticated session. */
    AUTHENTICATED,
    /** No client. */
    NONE
  }

  /**
   * Rules of one namespace.
   *
   * @param historySize messages kept per channel; 0 = no history
   * @param historyTtl how long an idle channel's history is kept
   * @param maxMessageSize largest message published into its channels, in bytes of its UTF-8 JSON, on every
   *     path (client, HTTP, event bus, Redis); 0 = none of its own, {@code session.max_message_size} alone
   * @param publishRate client publishes ({@code broadcast}, {@code send}) per second per session into its
   *     channels, in a token bucket of {@link #publishBurst()}; 0 = no limit of its own
   */
  public record NamespaceRules(SubscribePolicy subscribe, PublishPolicy publish, boolean presence,
                               int historySize, Duration historyTtl, int maxMessageSize, double publishRate) {
    public boolean keepsHistory() {
      return historySize > 0;
    }

    /** Twice the rate, rounded up and at least one: a client may send a short run at once, then the rate. */
    public int publishBurst() {
      return (int) Math.max(1, Math.ceil(2 * publishRate));
    }
  }

  /**
   * Channels and their rules (SPEC §3).
   *
   * @param directMessages whether clients may {@code send} to other users
   * @param segments claims that put sessions into segment:&lt;claim&gt;=&lt;value&gt; channels
   * @param namespaces rules per namespace; a namespace absent here is refused as bad_request
   */
  public record Channels(boolean directMessages, List<String> segments, Map<String, NamespaceRules> namespaces) {}

  /** @param allowed event-bus address patterns clients may {@code request} (* matches any run of characters) */
  public record Rpc(List<String> allowed, Duration timeout) {
    public Rpc {
      if (timeout.isZero()) {
        throw new ConfigException("rpc.timeout", "must be positive");
      }
    }
  }

  /**
   * Clustering over Hazelcast.
   *
   * @param standalone no cluster manager (SWITCHBOARD_STANDALONE=true)
   * @param host interface Hazelcast binds to; default 127.0.0.1
   * @param port Hazelcast port; default 5701
   * @param members TCP-IP join members, host:port, or a bare host: joined on this node's own {@code port}
   * @param config path of cluster.xml; a missing file falls back to the one in the jar
   * @param name cluster name; nodes with different names never join
   * @param kubernetesServiceDns headless service DNS name; when set, members are found through Hazelcast's
   *     Kubernetes discovery instead of the TCP-IP member list
   * @param busPort TCP port of the clustered event bus (the messages themselves) on {@code host}; 0 = any free
   * @param minNodes Switchboard nodes (backend JVMs not counted) a node must see, itself included, to serve;
   *     below it the node is not ready and refuses connections and publishes (split-brain protection).
   *     Default 1: off
   */
  public record Cluster(boolean standalone, String host, int port, List<String> members, String config,
                        String name, String kubernetesServiceDns, int busPort, int minNodes) {

    /** Without a quorum ({@code min_nodes} 1), as backend JVMs and most tests build it. */
    public Cluster(boolean standalone, String host, int port, List<String> members, String config, String name,
                   String kubernetesServiceDns, int busPort) {
      this(standalone, host, port, members, config, name, kubernetesServiceDns, busPort, 1);
    }

    public Cluster {
      if (minNodes < 1) {
        throw new ConfigException("cluster.min_nodes", "must be at least 1 (1 turns the quorum off), was " + minNodes);
      }
      if (standalone && minNodes > 1) {
        throw new ConfigException("cluster.min_nodes", "is " + minNodes + ", but a standalone node "
            + "(cluster.standalone) has no cluster to count: leave min_nodes at 1, or run clustered");
      }
      for (String m : members) {
        int colon = m.lastIndexOf(':');
        String memberHost = colon < 0 ? m : m.substring(0, colon);
        // A bare host is Hazelcast's own form: its TCP-IP join tries that host on this node's cluster.port (one
        // port, as ClusterSetup turns auto-increment off), which is what a cluster whose nodes all use the same
        // port wants. Only a port that is there and wrong is refused.
        boolean portOk = colon < 0;
        if (colon >= 0) {
          try {
            int p = Integer.parseInt(m.substring(colon + 1));
            portOk = p >= 1 && p <= 65535;
          } catch (NumberFormatException e) {
            portOk = false;
          }
        }
        if (memberHost.isBlank() || !portOk) {
          throw new ConfigException("cluster.members", "each member is host:port with a port from 1 to 65535 (or a "
              + "bare host, joined on cluster.port), was '" + m + "'");
        }
      }
    }
  }

  /** @param url redis://host:port (or rediss://, unix://); null = no Redis bridge */
  public record Redis(String url) {
    public Redis {
      if (url != null) {
        java.net.URI u;
        try {
          u = new java.net.URI(url);
        } catch (java.net.URISyntaxException e) {
          throw new ConfigException("redis.url", "is not a URL: " + e.getMessage());
        }
        String scheme = u.getScheme() == null ? "" : u.getScheme().toLowerCase(java.util.Locale.ROOT);
        boolean ok = switch (scheme) {
          case "redis", "rediss" -> u.getHost() != null;
          case "unix" -> u.getPath() != null && !u.getPath().isEmpty();
          default -> false;
        };
        if (!ok) {
          throw new ConfigException("redis.url", "must look like redis://host:6379 (or rediss://, unix:///path), was '" + url + "'");
        }
      }
    }
  }

  /** @param period sessions are closed with 1001 spread over this period on SIGTERM; default 10 s */
  public record Drain(Duration period) {}

  /** @param messageSampleRate fraction of message bodies logged (truncated); default 0.01 */
  public record Logging(double messageSampleRate) {}
}
