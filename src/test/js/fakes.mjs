// Test doubles for switchboard.js: a manual clock and a scriptable WebSocket, injected through the
// client's options so reconnect timing can be asserted exactly.

/** Timers that only fire when the test advances time; microtasks run between timers. */
export class FakeClock {
  constructor() {
    this.now = 0;
    this.timers = new Map();
    this.nextId = 1;
    this.setTimeout = (fn, ms) => {
      const id = this.nextId++;
      this.timers.set(id, { fn, due: this.now + Math.max(0, ms), ms });
      return id;
    };
    this.clearTimeout = (id) => {
      this.timers.delete(id);
    };
  }

  /** Delays (as requested) of the timers still waiting, smallest first. */
  pending() {
    return [...this.timers.values()].map((t) => t.ms).sort((a, b) => a - b);
  }

  /** Runs every timer due within `ms`, in order, letting promises settle after each. */
  async advance(ms) {
    const end = this.now + ms;
    await flush();
    for (;;) {
      let nextId = null;
      let next = null;
      for (const [id, t] of this.timers) {
        if (t.due <= end && (next === null || t.due < next.due)) {
          nextId = id;
          next = t;
        }
      }
      if (next === null) {
        break;
      }
      this.timers.delete(nextId);
      this.now = next.due;
      next.fn();
      await flush();
    }
    this.now = end;
  }
}

/** Lets queued promise callbacks (and the client's async connect) run. */
export async function flush() {
  for (let i = 0; i < 5; i++) {
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** A WebSocket class whose instances the test drives as the server; returns the class and its instances. */
export function fakeWebSocket() {
  const sockets = [];
  class FakeWebSocket {
    constructor(url) {
      this.url = url;
      this.readyState = 0;
      this.sent = [];
      this.closedWith = null;
      this.onopen = this.onmessage = this.onclose = this.onerror = null;
      sockets.push(this);
    }

    send(data) {
      if (this.readyState !== 1) {
        throw new Error('send on a socket that is not open');
      }
      this.sent.push(JSON.parse(data));
    }

    close(code, reason) {
      this.closedWith = { code, reason };
      this.readyState = 3;
    }

    // ---- the server's side ----

    open() {
      this.readyState = 1;
      this.onopen?.({});
    }

    receive(frame) {
      this.onmessage?.({ data: JSON.stringify(frame) });
    }

    /** Opens and answers the auth frame the client sends. */
    accept(extra = {}) {
      this.open();
      this.receive({ type: 'auth_success', user_id: 'alice', session_id: 's' + sockets.indexOf(this), node: 'n1',
        channels: ['user:alice', 'broadcast'], heartbeat: 25, ...extra });
    }

    serverClose(code, reason = '') {
      this.readyState = 3;
      this.onclose?.({ code, reason });
    }

    /** Sent frames of a type. */
    frames(type) {
      return this.sent.filter((f) => f.type === type);
    }

    /** Answers a sent request frame with an ack (or any frame type) carrying its id. */
    answer(frame, extra = {}) {
      this.receive({ type: 'ack', id: frame.id, ...extra });
    }
  }
  return { FakeWebSocket, sockets };
}

/**
 * Imports the shipped client. It is a plain .js file served to browsers, and no package.json marks it as
 * a module, so it is imported through an .mjs copy (works on every Node with a test runner).
 */
export async function loadClient() {
  const { readFile, writeFile, mkdtemp } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { pathToFileURL, fileURLToPath } = await import('node:url');
  const src = fileURLToPath(new URL('../../main/resources/webroot/switchboard.js', import.meta.url));
  const dir = await mkdtemp(join(tmpdir(), 'switchboard-js-'));
  const copy = join(dir, 'switchboard.mjs');
  await writeFile(copy, await readFile(src));
  return import(pathToFileURL(copy).href);
}
