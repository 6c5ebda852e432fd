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
  /** Give up on a connection attempt without auth_success after this long (default 10000 ms). */
  connectTimeout?: number;
  /** Default timeout of publish/send/presence/request/history in ms (default 15000). */
  requestTimeout?: number;
  /** Injection points for tests and other runtimes. */
  WebSocket?: new (url: string) => WebSocketLike;
  setTimeout?: (fn: () => void, ms: number) => unknown;
  clearTimeout?: (handle: unknown) => void;
  /** Uniform random in [0, 1); drives the backoff jitter. */
  random?: () => number;
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
   * false when some are gone (resync from your own source of truth); null when not applicable.
   */
  recovered: boolean | null;
  /** True when this ack followed a reconnect. */
  resubscribed: boolean;
  /** True for channels the server subscribes automatically (user:<me>, broadcast, segment:…). */
  automatic?: boolean;
}

export interface Unsubscribe {
  (): void;
  /** Settles with the first ack, or rejects when the server refuses the subscription. */
  ready: Promise<SubscribedInfo>;
}

export interface DisconnectInfo {
  code: number | null;
  reason: string;
  url: string | null;
  wasConnected: boolean;
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
  /** bad_request, unauthorized, forbidden, rate_limited, too_large, timeout, internal (server) or disconnected, closed, token, connect (client). */
  code: string;
  frame?: unknown;
  constructor(code: string, message: string, frame?: unknown);
}

export interface EventMap {
  state: [state: ConnectionState, detail: unknown];
  connecting: [info: { url: string; attempt: number }];
  connected: [info: ConnectedInfo];
  disconnected: [info: DisconnectInfo];
  reconnecting: [info: ReconnectInfo];
  closed: [info: DisconnectInfo | { code: number; reason: string }];
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
  open(): this;
  setToken(token: TokenSource): void;
  subscribe<T = unknown>(channel: string, handler: (message: T, frame: MessageFrame<T>) => void,
                         options?: { since?: StreamPosition }): Unsubscribe;
  channels(): string[];
  position(channel: string): StreamPosition | null;
  publish(channel: string, message: unknown): Promise<void>;
  send(user: string, message: unknown): Promise<void>;
  presence(channel: string): Promise<Presence>;
  request<R = unknown>(address: string, message: unknown, options?: { timeout?: number }): Promise<R>;
  history<T = unknown>(channel: string, options?: { limit?: number }): Promise<History<T>>;
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
