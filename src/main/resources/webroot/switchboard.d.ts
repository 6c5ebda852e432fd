// Type declarations for /switchboard.js (the Switchboard browser client). Protocol: SPEC §4.

/** A JWT, or a function giving one (called again before every connection attempt and renewal). */
export type TokenSource = string | (() => string | Promise<string>);

export type ConnectionState = 'connecting' | 'connected' | 'disconnected' | 'reconnecting' | 'closed';

/** A delivery as the server sends it. */
export interface MessageFrame<T = unknown> {
  type: 'message';
  channel: string;
  message: T;
  from_user: string | null;
  /** ISO-8601 UTC */
  timestamp: string;
  /** Present on channels that keep history. */
  offset?: number;
  epoch?: string;
}

export interface StreamPosition {
  offset: number;
  epoch: string;
}

/**
 * Where a subscription starts: messages with a higher offset are replayed before the ack (channels that keep
 * history). Leave `epoch` out only when you do not have it: the subscribe then goes with the offset alone, which
 * the server checks against the channel's current epoch, so it cannot tell that the history began again since
 * (README "History and recovery"). A malformed since (offset not a non-negative integer, epoch not a string)
 * throws TypeError.
 */
export interface Since {
  offset: number;
  epoch?: string | null;
}

export interface ConnectOptions {
  /** One endpoint, e.g. "wss://push.example.com/ws". */
  url?: string;
  /** Several endpoints: each connection attempt takes the next one, so a lost node is left for another. */
  urls?: string[];
  token: TokenSource;
  /** Backoff base in ms (default 500). */
  backoffBase?: number;
  /** Backoff cap in ms (default 30000). */
  backoffCap?: number;
  /** Attempt number the backoff jumps to after close 4029 (default 6, i.e. the cap). */
  longBackoffAttempt?: number;
  /** App-level ping period in ms (default 20000, never longer than the server's heartbeat). */
  pingInterval?: number;
  /** Close and reconnect when nothing arrives this long after a ping (default 10000 ms). */
  pongTimeout?: number;
  /**
   * Give up on a connection attempt without auth_success after this long (default 10000 ms), counted from its
   * start, the token function's answer included; it then backs off like any failed attempt.
   */
  connectTimeout?: number;
  /** Default timeout of publish/send/presence/request/history in ms (default 15000). */
  requestTimeout?: number;
  /**
   * (Re)subscribes sent at once after connecting (default 30); the rest follow at `subscribeRate` a second
   * (default 15), under the server's inbound limit (burst 40, 20/s). The app's own requests are not paced.
   */
  subscribeBurst?: number;
  subscribeRate?: number;
  /** A subscribe refused `rate_limited` or `internal` is sent again after 0.5–1 × this many ms, doubling up to backoffCap (default 1000). */
  subscribeRetryBase?: number;
  /** How long a gap in a channel's offsets waits for a late message before the position moves past it (default 1000 ms). */
  reorderWindow?: number;
  /** Injection points for tests and other runtimes. */
  WebSocket?: new (url: string) => WebSocketLike;
  setTimeout?: (fn: () => void, ms: number) => unknown;
  clearTimeout?: (handle: unknown) => void;
  /** Uniform random in [0, 1); drives the backoff jitter. */
  random?: () => number;
  /** Milliseconds clock for the subscribe pacing (default Date.now). */
  now?: () => number;
}

/** The part of the WebSocket interface the client uses. */
export interface WebSocketLike {
  readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: string }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

export interface SubscribedInfo {
  channel: string;
  /**
   * After a resubscribe with `since`: true when every missed message was delivered before the ack,
   * false when some are gone (resync from your own source of truth; the position becomes the ack's, so the
   * next outage is recovered); null when not applicable.
   */
  recovered: boolean | null;
  /** True when this ack followed a reconnect. */
  resubscribed: boolean;
  /**
   * True for channels the server subscribes automatically (user:<me>, broadcast, segment:…). For user:<me> the
   * client still sends a subscribe, for the position (and a since after a reconnect, so direct messages sent
   * meanwhile are recovered when the user namespace keeps history); broadcast and segment:… are not subscribed.
   */
  automatic?: boolean;
}

export interface Unsubscribe {
  (): void;
  /**
   * Settles with the first ack, or rejects: when the server refuses the subscription for good (forbidden,
   * bad_request, too_large, unauthorized; also emitted as 'error'), with 'unsubscribed' when this handler was
   * removed before the ack, or with 'closed' when the connection closed for good first. A subscribe refused
   * `rate_limited` (or `internal`) is retried and does not settle it. Never an unhandled rejection.
   */
  ready: Promise<SubscribedInfo>;
}

/**
 * Why the client is disconnected. Reported once per closed socket (by the server, a network error, a missing
 * pong, a connect timeout, or close() on a socket still open or opening), as both 'state' and 'disconnected'
 * with this same detail. One more report comes without a closed socket (`code` null, `waitingForToken`): a
 * token function gave back the token the server refused.
 */
export interface DisconnectInfo {
  /** The close code (4000: this client's missing-pong close, 1006: no close frame), or null when no socket closed. */
  code: number | null;
  reason: string;
  url: string | null;
  wasConnected: boolean;
  /** True when the client now waits for setToken() (after 1008/4010 with a fixed token): it will not reconnect by itself. */
  waitingForToken?: boolean;
}

export interface ReconnectInfo {
  attempt: number;
  /** ms until the next attempt */
  delay: number;
  url: string;
  code: number | null;
  reason: string;
}

export interface ConnectedInfo {
  url: string;
  node: string;
  userId: string;
  sessionId: string;
  channels: string[];
}

export interface Presence {
  channel: string;
  users: string[];
  count: number;
}

export interface History<T = unknown> {
  channel: string;
  messages: MessageFrame<T>[];
  offset: number;
  epoch: string;
}

export class SwitchboardError extends Error {
  /** bad_request, unauthorized, forbidden, rate_limited, too_large, timeout, internal (server) or disconnected, closed, unsubscribed, token, connect (client). */
  code: string;
  frame?: unknown;
  constructor(code: string, message: string, frame?: unknown);
}

export interface EventMap {
  /** Every change of state, once (never the same state twice in a row); 'disconnected' carries a DisconnectInfo. */
  state: [state: ConnectionState, detail: unknown];
  connecting: [info: { url: string; attempt: number }];
  connected: [info: ConnectedInfo];
  disconnected: [info: DisconnectInfo];
  reconnecting: [info: ReconnectInfo];
  /** Once per closing for good: by the server (1000, 1009) or by close() (code 1000, reason 'client closed'). */
  closed: [info: DisconnectInfo];
  subscribed: [info: SubscribedInfo];
  message: [frame: MessageFrame];
  error: [error: SwitchboardError | Error];
}

export class SwitchboardClient {
  constructor(options: ConnectOptions);
  readonly state: ConnectionState;
  readonly connected: boolean;
  userId: string | null;
  sessionId: string | null;
  /** The node this client is connected to (from auth_success). */
  node: string | null;
  url: string | null;
  on<E extends keyof EventMap>(event: E, listener: (...args: EventMap[E]) => void): () => void;
  off<E extends keyof EventMap>(event: E, listener: (...args: EventMap[E]) => void): void;
  /**
   * Starts connecting; `connect()` calls it. Starts again after close(), after the server closed for good
   * (1000, 1009) and while waiting for a new token after 1008/4010; otherwise does nothing.
   */
  open(): this;
  /**
   * Replaces the token. Connected: renews the session with it, one renewal at a time (a newer token replaces
   * one still waiting; its promise settles with the newer one's outcome). If the server refuses it (forbidden:
   * another user's token; unauthorized), the promise rejects, an 'error' is emitted and the session keeps the
   * token it has, also for reconnecting. Not connected: the next attempt uses it (after 1008/4010, at once).
   */
  setToken(token: TokenSource): Promise<void>;
  /**
   * Adds a handler to a channel, subscribing it if it is the channel's first. `since` (e.g. a position() saved
   * earlier) counts for the first handler only; later ones share the channel's subscription and position.
   * Throws TypeError for a missing handler or a malformed since.
   */
  subscribe<T = unknown>(channel: string, handler: (message: T, frame: MessageFrame<T>) => void,
                         options?: { since?: Since }): Unsubscribe;
  channels(): string[];
  /**
   * The channel's position (channels that keep history): taken from every ack that carries one and from the
   * messages, never backwards within an epoch; a gap in the offsets waits `reorderWindow` for a late message.
   * Without `epoch` only while it is still an epoch-less `since` the app gave, before the first ack or message
   * with one.
   */
  position(channel: string): StreamPosition | { offset: number } | null;
  publish(channel: string, message: unknown): Promise<void>;
  send(user: string, message: unknown): Promise<void>;
  presence(channel: string): Promise<Presence>;
  request<R = unknown>(address: string, message: unknown, options?: { timeout?: number }): Promise<R>;
  history<T = unknown>(channel: string, options?: { limit?: number }): Promise<History<T>>;
  /**
   * Closes for good (1000). A socket still open or opening is reported 'disconnected' first; then 'closed', unless
   * the server had already closed the client for good. Pending requests reject with 'closed'.
   */
  close(): void;
}

export function connect(options: ConnectOptions): SwitchboardClient;

/** Full-jitter exponential backoff: uniform in [0, min(cap, base * 2^attempt)). */
export function backoffDelay(attempt: number, base?: number, cap?: number, random?: () => number): number;

/** What to do after a close code: stay closed, reconnect now, with backoff, with long backoff, or only with a new token. */
export function closePolicy(code: number): 'stop' | 'now' | 'backoff' | 'long' | 'token';

export const CloseCodes: Readonly<{
  NORMAL: 1000; GOING_AWAY: 1001; ABNORMAL: 1006; POLICY_VIOLATION: 1008; MESSAGE_TOO_BIG: 1009;
  INTERNAL_ERROR: 1011; RATE_LIMIT_EXCEEDED: 4008; SLOW_CONSUMER: 4009; TOKEN_EXPIRED: 4010;
  TOO_MANY_CONNECTIONS: 4029; NO_PONG: 4000;
}>;

export const States: Readonly<{
  CONNECTING: 'connecting'; CONNECTED: 'connected'; DISCONNECTED: 'disconnected';
  RECONNECTING: 'reconnecting'; CLOSED: 'closed';
}>;
