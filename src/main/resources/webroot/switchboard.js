// Switchboard client for browsers (and any runtime with a WebSocket): a dependency-free ES module.
// Protocol: SPEC §4. Served by every gateway at /switchboard.js; types in /switchboard.d.ts.
//
//   import { connect } from '/switchboard.js';
//   const sb = connect({ urls: ['wss://a.example/ws', 'wss://b.example/ws'], token: async () => fetchToken() });
//   const leave = sb.subscribe('room:lobby', (message, frame) => show(frame.from_user, message));
//   await sb.publish('room:lobby', { text: 'hi' });
//
// The WebSocket constructor, the timer functions and the random source are options, so the reconnect
// logic can be driven deterministically by tests (src/test/js/*.test.mjs).

/** Close codes the gateway sends (SPEC §4). */
export const CloseCodes = Object.freeze({
  NORMAL: 1000,
  GOING_AWAY: 1001,
  ABNORMAL: 1006,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  INTERNAL_ERROR: 1011,
  RATE_LIMIT_EXCEEDED: 4008,
  SLOW_CONSUMER: 4009,
  TOKEN_EXPIRED: 4010,
  TOO_MANY_CONNECTIONS: 4029,
  /** Sent by this client when the server stopped answering pings. */
  NO_PONG: 4000,
});

/** Connection states, in the order a connection usually goes through them. */
export const States = Object.freeze({
  CONNECTING: 'connecting',
  CONNECTED: 'connected',
  DISCONNECTED: 'disconnected',
  RECONNECTING: 'reconnecting',
  CLOSED: 'closed',
});

const DEFAULTS = Object.freeze({
  backoffBase: 500,
  backoffCap: 30_000,
  // 4029 (too many connections) starts the backoff this many doublings up: 0.5 s * 2^6 = 32 s → the cap.
  longBackoffAttempt: 6,
  pingInterval: 20_000,
  pongTimeout: 10_000,
  connectTimeout: 10_000,
  requestTimeout: 15_000,
  // The server lets a session send 40 frames at once and 20/s after (SPEC §6). The client's own (re)subscribes
  // stay under that, leaving room for what the app sends meanwhile.
  subscribeBurst: 30,
  subscribeRate: 15,
  // A subscribe refused rate_limited (or internal) is sent again after 0.5–1 × this, doubling up to backoffCap.
  subscribeRetryBase: 1000,
  // How long a gap in a channel's offsets may wait for its late message (two publishing nodes can overtake
  // each other by a few ms) before the position moves past it.
  reorderWindow: 1000,
});

/**
 * Exponential backoff with full jitter: a uniformly random delay in [0, min(cap, base * 2^attempt)).
 * Full jitter spreads a crowd of clients that lost the same node over the whole window instead of
 * letting them return in waves.
 */
export function backoffDelay(attempt, base = DEFAULTS.backoffBase, cap = DEFAULTS.backoffCap, random = Math.random) {
  const ceiling = Math.min(cap, base * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

/**
 * What a client does after the socket closed with this code (SPEC §4):
 * 'stop' (stay closed), 'now' (reconnect at once, elsewhere), 'backoff', 'long' (long backoff) or
 * 'token' (reconnect only with a new token).
 */
export function closePolicy(code) {
  switch (code) {
    case CloseCodes.NORMAL:
    case CloseCodes.MESSAGE_TOO_BIG:
      return 'stop';
    case CloseCodes.GOING_AWAY:
    case CloseCodes.SLOW_CONSUMER:
      return 'now';
    case CloseCodes.POLICY_VIOLATION:
    case CloseCodes.TOKEN_EXPIRED:
      return 'token';
    case CloseCodes.TOO_MANY_CONNECTIONS:
      return 'long';
    default:
      return 'backoff';
  }
}

/** An error answer from the server (`code` is one of SPEC §4's error codes) or from the client itself. */
export class SwitchboardError extends Error {
  constructor(code, message, frame) {
    super(message);
    this.name = 'SwitchboardError';
    this.code = code;
    this.frame = frame;
  }
}

/** Creates a client and starts connecting (on the next microtask, so listeners added now see every event). */
export function connect(options) {
  const client = new SwitchboardClient(options);
  client.open();
  return client;
}

const OPEN = 1;
// setTimeout keeps its delay in a signed 32-bit integer: a longer one (a token living ~25 days or more)
// fires at once. Longer waits are chained in steps of at most this.
const MAX_TIMER_MS = 2 ** 31 - 1;
/** How long an error may go without its close event before the socket is given up. */
const ERROR_CLOSE_GRACE_MS = 1000;
// Server errors that mean a subscription can never succeed as asked; anything else is retried on reconnect.
const FINAL_SUBSCRIBE_ERRORS = new Set(['forbidden', 'bad_request', 'too_large', 'unauthorized']);

export class SwitchboardClient {
  constructor(options = {}) {
    const urls = options.urls ?? (options.url ? [options.url] : []);
    if (!Array.isArray(urls) || urls.length === 0) {
      throw new TypeError('switchboard: give url or urls (e.g. "wss://host/ws")');
    }
    if (options.token === undefined || options.token === null) {
      throw new TypeError('switchboard: give token (a JWT string, or a function returning one or a promise of one)');
    }
    this._urls = urls.map(String);
    this._tokenSource = options.token;
    this._opts = { ...DEFAULTS, ...options };
    this._WebSocket = options.WebSocket ?? globalThis.WebSocket;
    if (typeof this._WebSocket !== 'function') {
      throw new TypeError('switchboard: no WebSocket in this runtime; pass options.WebSocket');
    }
    this._setTimeout = options.setTimeout ?? ((fn, ms) => globalThis.setTimeout(fn, ms));
    this._clearTimeout = options.clearTimeout ?? ((t) => globalThis.clearTimeout(t));
    this._random = options.random ?? Math.random;
    this._now = options.now ?? (() => Date.now());

    this._state = States.DISCONNECTED;
    this._listeners = new Map();
    this._subs = new Map(); // channel → { handlers, offset, epoch, acked, waiters }
    this._automatic = new Set(); // channels the server subscribed this session to (user:, broadcast, segment:)
    this._pending = new Map(); // request id → { frame, resolve, reject, timer, sent, kind }
    this._queue = []; // ids of requests made while not connected, sent in order once connected
    this._subQueue = []; // entries whose (re)subscribe waits for the pace below, in order
    this._subBucket = { tokens: 0, at: 0 };
    this._connId = 0; // counts sessions, so a subscribe retry armed on an earlier one does nothing
    this._nextId = 1;
    this._urlIndex = 0;
    this._attempt = 0;
    this._ws = null;
    this._socketSeq = 0;
    this._timers = {};
    this._lastToken = null;
    // The server answers one auth at a time ('authentication already in progress' otherwise): renewals queue here.
    this._renewal = { inFlight: null, next: null };
    this._tokenSeq = 0; // numbers setToken() calls, so an older renewal finishing late cannot undo a newer token
    this._tokenInUse = 0;
    this._tokenRefusal = null; // {code} of the close that refused _lastToken, while a token function must give another
    this._waitingForToken = false;
    this._userClosed = false;
    this._started = false;
    this.userId = null;
    this.sessionId = null;
    this.node = null;
    this.url = null;
  }

  /** The current connection state: connecting, connected, disconnected, reconnecting or closed. */
  get state() {
    return this._state;
  }

  get connected() {
    return this._state === States.CONNECTED;
  }

  /**
   * Listens to 'state' (state, detail), 'connecting', 'connected', 'disconnected', 'reconnecting',
   * 'closed', 'subscribed', 'message' and 'error'. Returns a function that removes the listener.
   */
  on(event, listener) {
    if (!this._listeners.has(event)) {
      this._listeners.set(event, new Set());
    }
    this._listeners.get(event).add(listener);
    return () => this.off(event, listener);
  }

  off(event, listener) {
    this._listeners.get(event)?.delete(listener);
  }

  /**
   * Starts connecting if not already; `connect()` calls it for you. Also starts again after close(), after a
   * close by the server that stopped reconnecting (1000, 1009), and while waiting for a new token after 1008/4010.
   */
  open() {
    const stopped = this._userClosed || this._state === States.CLOSED || this._waitingForToken;
    if (this._started && !stopped) {
      return this;
    }
    this._started = true;
    this._userClosed = false;
    this._waitingForToken = false;
    this._attempt = 0;
    if (this._state === States.CLOSED) {
      // Requests made before the attempt below starts wait for it rather than fail with 'closed'.
      this._state = States.DISCONNECTED;
    }
    Promise.resolve().then(() => this._connectNow());
    return this;
  }

  /**
   * Replaces the token; the promise settles once it is in use. Connected: renews the session with it, one
   * renewal at a time (a newer token replaces one still waiting its turn); if the server refuses it, the session
   * keeps the token it has, the promise rejects and an 'error' is emitted. Waiting after a 1008/4010 close:
   * reconnects with it. Otherwise the next connection attempt uses it.
   */
  setToken(token) {
    const seq = ++this._tokenSeq;
    if (this._state === States.CONNECTED && !this._userClosed) {
      return this._queueRenewal(token, seq);
    }
    this._useToken(token, seq);
    if (!this._userClosed && this._waitingForToken) {
      this._waitingForToken = false;
      this._attempt = 0;
      this._connectNow();
    }
    return Promise.resolve();
  }

  /** Makes a token the one connection attempts use, unless a newer setToken() already took its place. */
  _useToken(source, seq) {
    if (seq >= this._tokenInUse) {
      this._tokenInUse = seq;
      this._tokenSource = source;
      this._tokenRefusal = null;
    }
  }

  /**
   * Subscribes `handler(message, frame)` to a channel; every subscription is restored after a reconnect,
   * from its position when the channel keeps history. Returns a function that unsubscribes the handler; its
   * `ready` promise settles with the first ack ({channel, recovered}), a final refusal, or 'unsubscribed' when
   * the handler goes first. Subscribes are paced, and one refused rate_limited is sent again later.
   * `options.since` ({offset, epoch}, the epoch optional) is where the channel's first handler starts from; a
   * malformed one throws TypeError.
   */
  subscribe(channel, handler, options = {}) {
    if (typeof handler !== 'function') {
      throw new TypeError('switchboard: subscribe(channel, handler) needs a handler function');
    }
    const since = checkSince(options.since);
    let entry = this._subs.get(channel);
    const isNew = !entry;
    if (isNew) {
      entry = { channel, handlers: new Set(), offset: null, epoch: null, ahead: new Set(), delivered: new Set(), gap: null,
        acked: false, last: null, waiters: [] };
      if (since) {
        // Without an epoch the offset goes as it is, as the server takes it: checked by its offset alone (README
        // "History and recovery"). The first ack or message with an epoch replaces it.
        entry.offset = since.offset;
        entry.epoch = since.epoch ?? null;
      }
      this._subs.set(channel, entry);
    }
    entry.handlers.add(handler);
    let waiter = null;
    const ready = entry.acked
      ? Promise.resolve(entry.last ?? { channel, recovered: null })
      : new Promise((resolve, reject) => {
        waiter = { resolve, reject };
        entry.waiters.push(waiter);
      });
    ready.catch(() => {}); // the refusal is also reported as an 'error' event; do not make it unhandled
    if (isNew && this._state === States.CONNECTED) {
      this._enqueueSubscribe(entry, false);
    }
    const unsubscribe = () => {
      entry.handlers.delete(handler);
      const w = waiter === null ? -1 : entry.waiters.indexOf(waiter);
      if (w >= 0) {
        // Left before the first ack: this handler will never be subscribed, so its ready must not hang.
        entry.waiters.splice(w, 1);
        waiter.reject(new SwitchboardError('unsubscribed', channel + ': unsubscribed before the subscription was acknowledged'));
      }
      if (entry.handlers.size === 0 && this._subs.get(channel) === entry) {
        this._subs.delete(channel);
        this._cancel(entry.retry);
        this._cancel(entry.gap);
        // Still queued or waiting to retry: the server never heard of it on this session, so nothing to leave.
        const sent = entry.sentOn === this._connId;
        if (this._state === States.CONNECTED && sent && !this._automatic.has(channel)) {
          this._request({ type: 'unsubscribe', channel }).catch(() => {});
        }
      }
    };
    unsubscribe.ready = ready;
    return unsubscribe;
  }

  /** The channels this client has handlers for. */
  channels() {
    return [...this._subs.keys()];
  }

  /**
   * The channel's stream position, from its acks and messages (channels that keep history), or null: every
   * message up to it was delivered or published before the subscription. A resubscribe sends it as `since`.
   */
  position(channel) {
    const e = this._subs.get(channel);
    return e ? positionOf(e) : null;
  }

  /** Publishes to a channel; resolves once the router accepted it. */
  publish(channel, message) {
    return this._request({ type: 'broadcast', channel, message }).then(() => undefined);
  }

  /** A direct message to every session of `user` (delivered on user:<user> with from_user set). */
  send(user, message) {
    return this._request({ type: 'send', to: user, message }).then(() => undefined);
  }

  /** Who is subscribed to the channel, cluster-wide: {channel, users, count}. */
  presence(channel) {
    return this._request({ type: 'presence', channel }).then((f) => ({ channel: f.channel, users: f.users, count: f.count }));
  }

  /** Asks a backend service on the event bus; resolves with its reply message, rejects with code 'timeout' etc. */
  request(address, message, options = {}) {
    return this._request({ type: 'request', address, message }, options).then((f) => f.message);
  }

  /** The kept history of a channel: {channel, messages, offset, epoch}. */
  history(channel, options = {}) {
    const frame = { type: 'history', channel };
    if (options.limit != null) {
      frame.limit = options.limit;
    }
    return this._request(frame).then((f) => ({ channel: f.channel, messages: f.messages, offset: f.offset, epoch: f.epoch }));
  }

  /**
   * Closes for good (code 1000); pending requests fail with code 'closed'. `open()` starts again. A socket still
   * open or opening is reported 'disconnected' first, as when the server closes; a client the server already
   * closed for good is not reported 'closed' again.
   */
  close() {
    if (this._userClosed) {
      return;
    }
    this._userClosed = true;
    this._waitingForToken = false;
    this._clearAllTimers();
    this._resetSubscribes();
    const ws = this._ws;
    const detail = { code: CloseCodes.NORMAL, reason: 'client closed', url: this.url, wasConnected: this._state === States.CONNECTED };
    this._detach();
    if (ws) {
      try {
        ws.close(CloseCodes.NORMAL, 'client closed');
      } catch (e) {
        // already closing
      }
    }
    this._failAll('closed', 'the client was closed');
    if (ws) {
      this._disconnected(detail);
      if (!this._userClosed) {
        return; // a listener opened it again
      }
    }
    if (this._state !== States.CLOSED) {
      this._setState(States.CLOSED, detail);
      this._emit('closed', detail);
    }
  }

  // ---- connection ------------------------------------------------------------------------------

  async _connectNow() {
    if (this._userClosed) {
      return;
    }
    this._clearTimer('reconnect');
    const seq = ++this._socketSeq;
    const url = this._urls[this._urlIndex % this._urls.length];
    this._urlIndex = (this._urlIndex + 1) % this._urls.length;
    this.url = url;
    this._setState(States.CONNECTING, { url, attempt: this._attempt });
    this._emit('connecting', { url, attempt: this._attempt });
    if (seq !== this._socketSeq || this._userClosed) {
      return; // a listener closed the client
    }

    // One deadline for the whole attempt, so a token function that never settles cannot hold it for good.
    let awaitingToken = true;
    this._startTimer('connect', this._opts.connectTimeout, () => {
      if (seq !== this._socketSeq) {
        return;
      }
      if (!awaitingToken) {
        this._abandon(CloseCodes.ABNORMAL, 'no auth_success within ' + this._opts.connectTimeout + ' ms');
        return;
      }
      this._socketSeq++; // its token, should it still come, is for an attempt that is over
      this._emit('error', new SwitchboardError('token', 'the token function gave no token within ' + this._opts.connectTimeout + ' ms'));
      if (seq + 1 === this._socketSeq && !this._userClosed) { // an 'error' listener may have closed the client
        this._scheduleReconnect('backoff', { code: null, reason: 'no token within ' + this._opts.connectTimeout + ' ms' });
      }
    });
    let token;
    try {
      token = typeof this._tokenSource === 'function' ? await this._tokenSource() : this._tokenSource;
    } catch (e) {
      if (seq !== this._socketSeq || this._userClosed) {
        return;
      }
      awaitingToken = false;
      this._emit('error', new SwitchboardError('token', 'the token function failed: ' + (e && e.message ? e.message : e)));
      this._scheduleReconnect('backoff', { code: null, reason: 'token function failed' });
      return;
    }
    if (seq !== this._socketSeq || this._userClosed) {
      return;
    }
    awaitingToken = false;
    if (this._tokenRefusal && token === this._lastToken) {
      this._clearTimer('connect');
      // The server refused this very token: wait for setToken() instead of hammering it. No socket closed now,
      // hence no code; the refusal's close was reported when it happened.
      const refusedBy = this._tokenRefusal.code;
      this._waitingForToken = true;
      this._disconnected({ code: null, reason: 'the token function returned the token the server refused (close ' + refusedBy + ')',
        url, wasConnected: false, waitingForToken: true });
      if (this._waitingForToken) {
        this._reportWaitingForToken(refusedBy);
      }
      return;
    }
    this._tokenRefusal = null;
    this._lastToken = token;

    let ws;
    try {
      ws = new this._WebSocket(url);
    } catch (e) {
      this._emit('error', new SwitchboardError('connect', 'cannot open ' + url + ': ' + (e && e.message ? e.message : e)));
      this._scheduleReconnect('backoff', { code: null, reason: 'bad url' });
      return;
    }
    this._ws = ws;
    ws.onopen = () => {
      if (seq === this._socketSeq) {
        this._write({ type: 'auth', token });
      }
    };
    ws.onmessage = (ev) => {
      if (seq === this._socketSeq) {
        this._onText(ev.data);
      }
    };
    ws.onerror = () => {
      // Browsers follow an error with a close event, which carries the code that decides what to do. Some
      // runtimes never send it (Node 20's WebSocket on a refused connection): after a moment, go on without
      // it, or each attempt against a down node would wait out the whole connect timeout.
      this._setTimeout(() => {
        if (seq === this._socketSeq) {
          this._abandon(CloseCodes.ABNORMAL, 'connection failed');
        }
      }, ERROR_CLOSE_GRACE_MS);
    };
    ws.onclose = (ev) => {
      if (seq === this._socketSeq) {
        this._onClose(ev.code ?? CloseCodes.ABNORMAL, ev.reason ?? '');
      }
    };
  }

  /** Gives up on the current socket without waiting for a close handshake that may never come. */
  _abandon(code, reason) {
    const ws = this._ws;
    this._detach();
    if (ws) {
      try {
        ws.close(CloseCodes.NO_PONG, reason.slice(0, 120));
      } catch (e) {
        // nothing more to do with it
      }
    }
    this._onClose(code, reason);
  }

  _detach() {
    const ws = this._ws;
    this._socketSeq++;
    this._ws = null;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onerror = ws.onclose = null;
    }
  }

  _onClose(code, reason) {
    const wasConnected = this._state === States.CONNECTED;
    this._ws = null;
    this._socketSeq++;
    this._clearTimer('connect');
    this._clearTimer('ping');
    this._clearTimer('pong');
    this._clearTimer('renew');
    this._resetSubscribes();
    this._dropInFlight();
    const detail = { code, reason, url: this.url, wasConnected };
    let policy = closePolicy(code);
    if (policy === 'now' && !wasConnected) {
      // 1001 before a session was even established: the node is draining; do not spin on it.
      policy = 'backoff';
    }
    const fixedToken = typeof this._tokenSource !== 'function';
    if (policy === 'token' && fixedToken && !this._userClosed) {
      // Decided before 'disconnected' goes out, so the one report of this close says what comes next, and a
      // listener that calls setToken() on it reconnects at once.
      this._waitingForToken = true;
      detail.waitingForToken = true;
    }
    this._disconnected(detail);
    if (this._userClosed || this._state !== States.DISCONNECTED) {
      return; // closed, or given a new token, by a listener
    }
    if (policy === 'stop') {
      this._failAll('closed', 'connection closed by the server (' + code + (reason ? ' ' + reason : '') + ')');
      if (code === CloseCodes.MESSAGE_TOO_BIG) {
        this._emit('error', new SwitchboardError('too_large', 'the server closed the connection: a frame was larger than its max_message_size'));
      }
      if (this._state === States.DISCONNECTED) { // an 'error' listener may have closed it already
        this._setState(States.CLOSED, detail);
        this._emit('closed', detail);
      }
      return;
    }
    if (policy === 'token') {
      if (fixedToken) {
        if (this._waitingForToken) {
          this._reportWaitingForToken(code);
        }
      } else {
        // Ask the function again; if it hands back the refused token, wait for setToken().
        this._tokenRefusal = { code };
        this._scheduleReconnect('backoff', detail);
      }
      return;
    }
    this._scheduleReconnect(policy, detail);
  }

  /** Enters the disconnected state: the one place that reports it, so 'state' and 'disconnected' go together. */
  _disconnected(detail) {
    this._setState(States.DISCONNECTED, detail);
    this._emit('disconnected', detail);
  }

  _reportWaitingForToken(code) {
    this._emit('error', new SwitchboardError('unauthorized',
      'the server refused the token (close ' + code + '); call setToken() with a new one to reconnect'));
  }

  _scheduleReconnect(policy, detail) {
    this._clearTimer('connect'); // an attempt that failed before it had a socket to close
    if (policy === 'long') {
      this._attempt = Math.max(this._attempt, this._opts.longBackoffAttempt);
    }
    const delay = policy === 'now' ? 0 : backoffDelay(this._attempt, this._opts.backoffBase, this._opts.backoffCap, this._random);
    const attempt = this._attempt;
    this._attempt++;
    const next = this._urls[this._urlIndex % this._urls.length];
    const info = { attempt, delay, url: next, code: detail.code, reason: detail.reason };
    this._setState(States.RECONNECTING, info);
    this._emit('reconnecting', info);
    this._startTimer('reconnect', delay, () => this._connectNow());
  }

  // ---- inbound ---------------------------------------------------------------------------------

  _onText(text) {
    // Any frame proves the connection is alive.
    this._clearTimer('pong');
    let frame;
    try {
      frame = JSON.parse(text);
    } catch (e) {
      this._emit('error', new SwitchboardError('bad_frame', 'the server sent a frame that is not JSON'));
      return;
    }
    switch (frame.type) {
      case 'auth_success':
        this._onAuthSuccess(frame);
        return;
      case 'message':
        this._onMessage(frame);
        return;
      case 'pong':
        return;
      default:
        break;
    }
    const p = frame.id != null ? this._pending.get(frame.id) : undefined;
    if (p) {
      this._settle(frame.id, p, frame);
    } else if (frame.type === 'error') {
      this._emit('error', new SwitchboardError(frame.code, frame.message, frame));
    }
  }

  _onAuthSuccess(frame) {
    const p = frame.id != null ? this._pending.get(frame.id) : undefined;
    if (p) {
      // A renewal on a live session.
      this._settle(frame.id, p, frame);
      this._scheduleRenew(frame.expires_in);
      return;
    }
    if (this._state === States.CONNECTED) {
      this._scheduleRenew(frame.expires_in);
      return;
    }
    this._clearTimer('connect');
    this._attempt = 0;
    this.userId = frame.user_id;
    this.sessionId = frame.session_id;
    this.node = frame.node;
    this._automatic = new Set(frame.channels ?? []);
    // Queued before the app hears 'connected', so a subscribe it makes on that event joins this pass (one frame,
    // one ack) instead of going out ahead of it and again in it.
    this._connId++;
    this._resetSubscribes();
    // The server's budget for this session starts full; ours is the smaller share of it.
    this._subBucket = { tokens: this._opts.subscribeBurst, at: this._now() };
    for (const entry of this._subs.values()) {
      // An entry acked on an earlier connection is a resubscribe; the app may need its recovered flag.
      this._enqueueSubscribe(entry, entry.acked, false);
    }
    this._setState(States.CONNECTED, { url: this.url, node: frame.node });
    this._emit('connected', { url: this.url, node: frame.node, userId: frame.user_id, sessionId: frame.session_id, channels: frame.channels ?? [] });
    if (this._state !== States.CONNECTED) {
      return; // a listener closed the client
    }
    this._schedulePing(frame.heartbeat);
    this._scheduleRenew(frame.expires_in);
    this._pumpSubscribes();
    const queued = this._queue;
    this._queue = [];
    for (const id of queued) {
      const q = this._pending.get(id);
      if (q && !q.sent) {
        q.sent = true;
        this._write(q.frame);
      }
    }
  }

  _onMessage(frame) {
    const entry = this._subs.get(frame.channel);
    if (entry && typeof frame.offset === 'number' && frame.epoch != null && !this._track(entry, frame)) {
      return; // already delivered (a replay after a reconnect)
    }
    if (entry) {
      for (const h of [...entry.handlers]) {
        try {
          h(frame.message, frame);
        } catch (e) {
          this._emit('error', e);
        }
      }
    }
    this._emit('message', frame);
  }

  _enqueueSubscribe(entry, resubscribe, pump = true) {
    entry.resubscribe = resubscribe;
    if (!entry.queued) {
      entry.queued = true;
      this._subQueue.push(entry);
    }
    if (pump) {
      this._pumpSubscribes();
    }
  }

  /**
   * Sends queued subscribes within a token bucket (subscribeBurst at once, then subscribeRate a second), so
   * 60 channels after a reconnect are not answered rate_limited for the half the server's bucket cannot take.
   */
  _pumpSubscribes() {
    if (this._state !== States.CONNECTED) {
      return;
    }
    const b = this._subBucket;
    const now = this._now();
    b.tokens = Math.min(this._opts.subscribeBurst, b.tokens + Math.max(0, now - b.at) * this._opts.subscribeRate / 1000);
    b.at = now;
    while (this._subQueue.length > 0) {
      const entry = this._subQueue[0];
      const needsFrame = this._subs.get(entry.channel) === entry && this._needsSubscribeFrame(entry);
      if (needsFrame && b.tokens < 1) {
        break;
      }
      this._subQueue.shift();
      entry.queued = false;
      if (this._subs.get(entry.channel) !== entry) {
        continue; // unsubscribed while it waited
      }
      if (needsFrame) {
        b.tokens -= 1;
      }
      this._sendSubscribe(entry, entry.resubscribe);
      if (this._state !== States.CONNECTED) {
        return; // a 'subscribed' listener closed the client
      }
    }
    if (this._subQueue.length > 0 && this._timers.subscribes == null) {
      const wait = Math.max(1, Math.ceil((1 - b.tokens) * 1000 / this._opts.subscribeRate));
      this._startTimer('subscribes', wait, () => this._pumpSubscribes());
    }
  }

  /** Forgets what was queued or waiting to retry on the session that ended; the next one resubscribes all. */
  _resetSubscribes() {
    this._clearTimer('subscribes');
    for (const entry of this._subQueue) {
      entry.queued = false;
    }
    this._subQueue = [];
    for (const entry of this._subs.values()) {
      this._cancel(entry.retry);
      entry.retry = null;
      // A gap open when the session ended is left to the resubscribe's since, which replays what is missing.
      this._cancel(entry.gap);
      entry.gap = null;
    }
  }

  /**
   * The server puts every session on user:<self>, broadcast and segment:… itself. A subscribe for user:<self>
   * is still sent when the app listens to it: its ack carries the position, and a since after a reconnect
   * recovers the direct messages sent meanwhile, when the user namespace keeps history. The server refuses it
   * for broadcast and segment:…, which keep no history.
   */
  _needsSubscribeFrame(entry) {
    if (!this._automatic.has(entry.channel)) {
      return true;
    }
    return entry.channel.startsWith('user:') && !entry.automaticRefused;
  }

  _sendSubscribe(entry, resubscribe) {
    const { channel } = entry;
    if (!this._needsSubscribeFrame(entry)) {
      this._subscribed(entry, { channel, recovered: null, automatic: true, resubscribed: resubscribe });
      return;
    }
    const frame = { type: 'subscribe', channel };
    const since = positionOf(entry);
    if (since) {
      frame.since = since;
    }
    entry.sentOn = this._connId;
    // No client-side timeout: a subscription stays wanted until unsubscribed; liveness is the ping's job.
    this._request(frame, { kind: 'subscribe', timeout: 0 }).then(
      (ack) => {
        if (this._subs.get(channel) === entry) {
          entry.retries = 0;
          this._positionFromAck(entry, ack);
          const info = { channel, recovered: ack.recovered ?? null, resubscribed: resubscribe };
          if (this._automatic.has(channel)) {
            info.automatic = true;
          }
          this._subscribed(entry, info);
        }
      },
      (err) => {
        if (this._subs.get(channel) !== entry) {
          return;
        }
        if (FINAL_SUBSCRIBE_ERRORS.has(err.code) && this._automatic.has(channel)) {
          // The session is on it anyway; only the position is not to be had (a config that refuses the subscribe).
          entry.automaticRefused = true;
          this._subscribed(entry, { channel, recovered: null, automatic: true, resubscribed: resubscribe });
          return;
        }
        if (FINAL_SUBSCRIBE_ERRORS.has(err.code)) {
          this._subs.delete(channel);
          for (const w of entry.waiters.splice(0)) {
            w.reject(err);
          }
          this._emit('error', new SwitchboardError(err.code, channel + ': ' + err.message, err.frame));
          return;
        }
        if (err.code === 'rate_limited') {
          // The server's bucket is empty (the app's own frames count too): let ours wait for it to refill.
          this._subBucket.tokens = 0;
          this._subBucket.at = this._now();
        } else {
          this._emit('error', new SwitchboardError(err.code, channel + ': ' + err.message, err.frame));
        }
        this._retrySubscribe(entry, resubscribe);
      },
    );
  }

  /** Sends a refused-for-now subscribe again, after a growing delay, half of it jitter, on the same session only. */
  _retrySubscribe(entry, resubscribe) {
    const attempt = entry.retries ?? 0;
    entry.retries = attempt + 1;
    const ceiling = Math.min(this._opts.backoffCap, this._opts.subscribeRetryBase * 2 ** Math.min(attempt, 30));
    const delay = Math.floor(ceiling / 2 + this._random() * (ceiling / 2));
    const conn = this._connId;
    this._cancel(entry.retry);
    entry.retry = this._later(() => {
      entry.retry = null;
      if (this._subs.get(entry.channel) === entry && this._connId === conn && this._state === States.CONNECTED) {
        this._enqueueSubscribe(entry, resubscribe);
      }
    }, delay);
  }

  _subscribed(entry, info) {
    entry.acked = true;
    entry.last = info;
    for (const w of entry.waiters.splice(0)) {
      w.resolve(info);
    }
    this._emit('subscribed', info);
  }

  // ---- positions ------------------------------------------------------------------------------
  //
  // A channel's position (entry.offset) is the offset up to which every message was delivered or published
  // before the subscription; entry.ahead holds the offsets delivered above it. Several nodes may publish to
  // one channel, so 46 can arrive before 42: resuming from the highest offset seen would lose 42..45. A gap
  // that stays open longer than reorderWindow is taken as lost, and an ack with a position closes what it
  // covers, so the position never sticks below the live stream.

  /** Returns false for a message already delivered (a replay after a reconnect). */
  _track(entry, frame) {
    const o = frame.offset;
    if (entry.epoch !== frame.epoch) {
      // The channel's history was lost and began again: the old position means nothing in the new epoch.
      this._resetPosition(entry, frame.epoch, null);
    }
    if (entry.delivered.has(o)) {
      return false;
    }
    remember(entry.delivered, o);
    // At or below the position yet never delivered: published just before the ack's position was read, and
    // late. Deliver it; the position already covers it.
    if (entry.offset === null || o > entry.offset) {
      entry.ahead.add(o);
      this._settlePosition(entry);
    }
    return true;
  }

  /** Takes the position an ack carries (plain subscribe, recovered true or false); never backwards in an epoch. */
  _positionFromAck(entry, ack) {
    if (typeof ack.offset === 'number' && ack.epoch != null) {
      if (entry.epoch !== ack.epoch) {
        this._resetPosition(entry, ack.epoch, ack.offset);
      } else if (entry.offset === null || ack.offset > entry.offset) {
        entry.offset = ack.offset; // what is below was replayed, or published before the subscription
      }
      this._settlePosition(entry);
    } else if (ack.recovered === false) {
      // The server cannot send what is missing: do not wait for it.
      this._closeGap(entry);
    }
  }

  _resetPosition(entry, epoch, offset) {
    entry.epoch = epoch;
    entry.offset = offset;
    entry.ahead = new Set();
    entry.delivered = new Set();
    this._cancel(entry.gap);
    entry.gap = null;
  }

  _settlePosition(entry) {
    if (entry.offset !== null) {
      for (const o of entry.ahead) {
        if (o <= entry.offset) {
          entry.ahead.delete(o);
        }
      }
      while (entry.ahead.delete(entry.offset + 1)) {
        entry.offset++;
      }
    }
    if (entry.ahead.size === 0) {
      this._cancel(entry.gap);
      entry.gap = null;
    } else if (entry.ahead.size > 1000) {
      this._closeGap(entry);
    } else if (entry.gap === null || entry.gap.id == null) {
      entry.gap = this._later(() => {
        entry.gap = null;
        if (this._subs.get(entry.channel) === entry) {
          this._closeGap(entry);
        }
      }, this._opts.reorderWindow);
    }
  }

  /** Moves the position past a gap whose messages are not coming: the highest offset delivered. */
  _closeGap(entry) {
    this._cancel(entry.gap);
    entry.gap = null;
    if (entry.ahead.size > 0) {
      entry.offset = Math.max(entry.offset ?? -Infinity, ...entry.ahead);
      entry.ahead.clear();
    }
  }

  // ---- requests --------------------------------------------------------------------------------

  _request(frame, options = {}) {
    if (this._userClosed || this._state === States.CLOSED) {
      return Promise.reject(new SwitchboardError('closed', 'the client is closed; open() it again first'));
    }
    const id = this._nextId++;
    const out = { ...frame, id };
    return new Promise((resolve, reject) => {
      const p = { frame: out, resolve, reject, timer: null, sent: false, kind: options.kind ?? 'request' };
      const timeout = options.timeout ?? this._opts.requestTimeout;
      if (timeout > 0) {
        p.timer = this._later(() => {
          if (this._pending.get(id) === p) {
            this._pending.delete(id);
            this._queue = this._queue.filter((q) => q !== id);
            reject(new SwitchboardError('timeout', 'no answer to ' + frame.type + ' within ' + timeout + ' ms'));
          }
        }, timeout);
      }
      this._pending.set(id, p);
      if (this._state === States.CONNECTED) {
        p.sent = true;
        this._write(out);
      } else {
        this._queue.push(id);
      }
    });
  }

  _settle(id, p, frame) {
    this._pending.delete(id);
    this._cancel(p.timer);
    if (frame.type === 'error') {
      p.reject(new SwitchboardError(frame.code, frame.message, frame));
    } else {
      p.resolve(frame);
    }
  }

  /** Requests already written to the lost socket may or may not have been handled: fail them, keep the queued ones. */
  _dropInFlight() {
    for (const [id, p] of [...this._pending]) {
      if (!p.sent) {
        continue;
      }
      this._pending.delete(id);
      this._cancel(p.timer);
      if (p.kind !== 'subscribe') {
        p.reject(new SwitchboardError('disconnected', 'the connection was lost before the answer to ' + p.frame.type + ' arrived'));
      }
      // A subscribe is simply sent again after the reconnect.
    }
  }

  _failAll(code, message) {
    for (const [id, p] of [...this._pending]) {
      this._pending.delete(id);
      this._cancel(p.timer);
      p.reject(new SwitchboardError(code, message));
    }
    this._queue = [];
    for (const entry of this._subs.values()) {
      for (const w of entry.waiters.splice(0)) {
        w.reject(new SwitchboardError(code, message));
      }
    }
  }

  _write(frame) {
    const ws = this._ws;
    if (ws && ws.readyState === OPEN) {
      ws.send(JSON.stringify(frame));
    }
  }

  // ---- liveness and renewal --------------------------------------------------------------------

  _schedulePing(heartbeatSeconds) {
    // Ping at least as often as the server's heartbeat, so its idle timer never fires on a quiet client.
    const interval = heartbeatSeconds > 0 ? Math.min(this._opts.pingInterval, heartbeatSeconds * 1000) : this._opts.pingInterval;
    this._startTimer('ping', interval, () => {
      if (this._state !== States.CONNECTED) {
        return;
      }
      this._write({ type: 'ping' });
      if (this._timers.pong == null) {
        this._startTimer('pong', this._opts.pongTimeout, () => {
          this._abandon(CloseCodes.NO_PONG, 'no pong within ' + this._opts.pongTimeout + ' ms');
        });
      }
      this._schedulePing(heartbeatSeconds);
    });
  }

  _scheduleRenew(expiresIn) {
    this._clearTimer('renew');
    if (typeof this._tokenSource !== 'function' || !(expiresIn > 0)) {
      return;
    }
    // Renew at 80 % of the token's remaining life, well inside the server's expiry grace.
    this._startTimer('renew', Math.max(1000, expiresIn * 800), () => {
      if (!this._renewal.inFlight && !this._renewal.next && typeof this._tokenSource === 'function') {
        this._queueRenewal(this._tokenSource, null);
      }
    });
  }

  /** seq null: the renewal timer asking the token function again, which changes no token in use. */
  _queueRenewal(source, seq) {
    let job = this._renewal.next;
    if (!job) {
      job = { waiters: [] };
      this._renewal.next = job;
    }
    // Not sent yet, so a newer token simply takes its place: the older one would be replaced at once anyway.
    job.source = source;
    job.seq = seq;
    const done = new Promise((resolve, reject) => job.waiters.push({ resolve, reject }));
    done.catch(() => {}); // a refusal is also emitted as 'error'; do not make it unhandled
    this._pumpRenewal();
    return done;
  }

  async _pumpRenewal() {
    const r = this._renewal;
    if (r.inFlight || !r.next) {
      return;
    }
    const job = r.next;
    r.next = null;
    r.inFlight = job;
    try {
      await this._renew(job);
      job.waiters.forEach((w) => w.resolve());
    } catch (e) {
      this._emit('error', e);
      job.waiters.forEach((w) => w.reject(e));
    } finally {
      r.inFlight = null;
      this._pumpRenewal();
    }
  }

  async _renew(job) {
    let token;
    try {
      token = typeof job.source === 'function' ? await job.source() : job.source;
    } catch (e) {
      throw new SwitchboardError('token', 'the token function failed: ' + (e && e.message ? e.message : e));
    }
    if (this._state !== States.CONNECTED) {
      // The session went away first: like a token set while disconnected, the next attempt uses it.
      if (job.seq !== null) {
        this._useToken(job.source, job.seq);
      }
      return;
    }
    try {
      await this._request({ type: 'auth', token });
    } catch (e) {
      if (e.code === 'disconnected' || e.code === 'closed') {
        if (job.seq !== null) {
          this._useToken(job.source, job.seq);
        }
        return;
      }
      // Refused (forbidden: another user's token; unauthorized: invalid): the session still runs on the token
      // it has, so that one stays for reconnecting; taking the refused one would fail, or change the user.
      throw new SwitchboardError(e.code, 'the server refused the new token: ' + e.message, e.frame);
    }
    this._lastToken = token;
    if (job.seq !== null) {
      this._useToken(job.source, job.seq);
    }
  }

  // ---- plumbing --------------------------------------------------------------------------------

  _setState(state, detail) {
    if (this._state === state) {
      return;
    }
    this._state = state;
    this._emit('state', state, detail);
  }

  _emit(event, ...args) {
    const set = this._listeners.get(event);
    if (!set || set.size === 0) {
      if (event === 'error' && typeof console !== 'undefined') {
        console.warn('switchboard:', args[0]);
      }
      return;
    }
    for (const l of [...set]) {
      try {
        l(...args);
      } catch (e) {
        if (event !== 'error') {
          this._emit('error', e);
        }
      }
    }
  }

  _startTimer(name, ms, fn) {
    this._clearTimer(name);
    this._timers[name] = this._later(() => {
      this._timers[name] = null;
      fn();
    }, ms);
  }

  _clearTimer(name) {
    if (this._timers[name] != null) {
      this._cancel(this._timers[name]);
      this._timers[name] = null;
    }
  }

  /** Runs fn after ms, however long: waits past MAX_TIMER_MS are re-armed for what is left. Cancel with _cancel. */
  _later(fn, ms) {
    const handle = { id: null };
    const arm = (left) => {
      const step = Math.min(left, MAX_TIMER_MS);
      handle.id = this._setTimeout(() => {
        if (left > step) {
          arm(left - step);
        } else {
          handle.id = null;
          fn();
        }
      }, step);
    };
    arm(Number.isFinite(ms) && ms > 0 ? ms : (ms === Infinity ? Number.MAX_VALUE : 0));
    return handle;
  }

  _cancel(handle) {
    if (handle && handle.id != null) {
      this._clearTimeout(handle.id);
      handle.id = null;
    }
  }

  _clearAllTimers() {
    for (const name of Object.keys(this._timers)) {
      this._clearTimer(name);
    }
  }
}

/**
 * The position a resubscribe resumes from, or null when none is known yet. Without an epoch only while it is
 * still the app's epoch-less since: every ack and message that sets an offset brings its epoch.
 */
function positionOf(entry) {
  if (entry.epoch == null) {
    return entry.offset === null ? null : { offset: entry.offset };
  }
  let offset = entry.offset;
  if (offset === null) {
    // No ack with a position yet: the run of messages seen so far, from the lowest.
    if (entry.ahead.size === 0) {
      return null;
    }
    offset = Math.min(...entry.ahead);
    while (entry.ahead.has(offset + 1)) {
      offset++;
    }
  }
  return { offset, epoch: entry.epoch };
}

/**
 * The app's `since`, checked as the server checks it (FrameDecoder): a malformed one would be refused
 * bad_request, and one silently dropped would start from now, both found out only later.
 */
function checkSince(since) {
  if (since === undefined || since === null) {
    return null;
  }
  if (typeof since !== 'object') {
    throw new TypeError('switchboard: since must be an object {offset, epoch}, e.g. a position() saved earlier');
  }
  if (!Number.isSafeInteger(since.offset) || since.offset < 0) {
    throw new TypeError('switchboard: since.offset must be a non-negative integer (got ' + String(since.offset) + ')');
  }
  if (since.epoch != null && typeof since.epoch !== 'string') {
    throw new TypeError('switchboard: since.epoch must be a string, or left out to have the offset checked alone');
  }
  return since.epoch == null ? { offset: since.offset } : { offset: since.offset, epoch: since.epoch };
}

/** Remembers the offsets delivered lately, so a replay of one of them is not delivered twice. */
function remember(delivered, offset) {
  delivered.add(offset);
  if (delivered.size > 2048) {
    delivered.delete(delivered.values().next().value);
  }
}
