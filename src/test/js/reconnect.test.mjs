// Reconnect behaviour of /switchboard.js: backoff with full jitter, URL rotation, close codes (SPEC §4),
// liveness pings and token handling. Run: node --test src/test/js/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock, fakeWebSocket, flush, loadClient } from './fakes.mjs';

const sb = await loadClient();

/** A client on fake time and fake sockets; `events` records every event by name. */
async function setup(options = {}) {
  const clock = new FakeClock();
  const { FakeWebSocket, sockets } = fakeWebSocket();
  const client = sb.connect({
    urls: ['ws://a/ws', 'ws://b/ws'],
    token: 't1',
    WebSocket: FakeWebSocket,
    setTimeout: clock.setTimeout,
    clearTimeout: clock.clearTimeout,
    random: () => 0.5,
    ...options,
  });
  const events = [];
  for (const name of ['connecting', 'connected', 'disconnected', 'reconnecting', 'closed', 'error', 'subscribed']) {
    client.on(name, (info) => events.push({ name, info }));
  }
  await flush();
  return { clock, sockets, client, events, last: () => sockets[sockets.length - 1] };
}

const reconnects = (events) => events.filter((e) => e.name === 'reconnecting').map((e) => e.info);

test('backoffDelay is full jitter: uniform below min(cap, 500 ms * 2^attempt)', () => {
  assert.equal(sb.backoffDelay(0, 500, 30000, () => 0), 0);
  assert.equal(sb.backoffDelay(0, 500, 30000, () => 0.999999), 499);
  assert.equal(sb.backoffDelay(3, 500, 30000, () => 0.5), 2000);
  assert.equal(sb.backoffDelay(6, 500, 30000, () => 0.999999), 29999, 'capped at 30 s');
  assert.equal(sb.backoffDelay(1000, 500, 30000, () => 0.5), 15000, 'huge attempts stay at the cap');
  for (let attempt = 0; attempt < 12; attempt++) {
    for (let i = 0; i < 50; i++) {
      const d = sb.backoffDelay(attempt);
      assert.ok(d >= 0 && d < Math.min(30000, 500 * 2 ** attempt), `attempt ${attempt}: ${d}`);
    }
  }
});

test('close codes map to what SPEC §4 tells a client to do', () => {
  assert.equal(sb.closePolicy(1000), 'stop');
  assert.equal(sb.closePolicy(1001), 'now');
  assert.equal(sb.closePolicy(1006), 'backoff');
  assert.equal(sb.closePolicy(1008), 'token');
  assert.equal(sb.closePolicy(1009), 'stop');
  assert.equal(sb.closePolicy(1011), 'backoff');
  assert.equal(sb.closePolicy(4008), 'backoff');
  assert.equal(sb.closePolicy(4009), 'now');
  assert.equal(sb.closePolicy(4010), 'token');
  assert.equal(sb.closePolicy(4029), 'long');
});

test('failed attempts back off exponentially up to the cap, rotating through the URLs', async () => {
  const { clock, sockets, events, client } = await setup();
  assert.equal(sockets.length, 1);
  assert.equal(sockets[0].url, 'ws://a/ws');
  const expected = [250, 500, 1000, 2000, 4000, 8000, 15000, 15000];
  for (let i = 0; i < expected.length; i++) {
    sockets[sockets.length - 1].serverClose(1006);
    const r = reconnects(events).at(-1);
    assert.equal(r.delay, expected[i], `attempt ${i}`);
    assert.equal(r.attempt, i);
    assert.equal(client.state, 'reconnecting');
    await clock.advance(expected[i] - 1);
    assert.equal(sockets.length, i + 1, 'no attempt before the delay is over');
    await clock.advance(1);
    assert.equal(sockets.length, i + 2);
  }
  assert.deepEqual(sockets.map((s) => s.url).slice(0, 4), ['ws://a/ws', 'ws://b/ws', 'ws://a/ws', 'ws://b/ws']);
  client.close();
});

test('an error with no close event after it (Node 20 on a refused connection) still backs off and retries', async () => {
  const { clock, sockets, events, client } = await setup();
  sockets[0].readyState = 3;
  sockets[0].onerror?.({});
  await clock.advance(999);
  assert.equal(reconnects(events).length, 0, 'the close event gets a moment to arrive');
  await clock.advance(1);
  const r = reconnects(events).at(-1);
  assert.equal(r.delay, 250, 'backoff, not the 10 s connect timeout');
  await clock.advance(250);
  assert.equal(sockets.length, 2);
  assert.equal(sockets[1].url, 'ws://b/ws');
  client.close();
});

test('an error followed by its close event is handled once', async () => {
  const { clock, sockets, events, client } = await setup();
  sockets[0].onerror?.({});
  sockets[0].serverClose(1006);
  await clock.advance(2000);
  assert.equal(events.filter((e) => e.name === 'disconnected').length, 1);
  assert.equal(sockets.length, 2, 'one reconnect, not two');
  client.close();
});

test('jitter draws a fresh random for every attempt', async () => {
  const draws = [0.1, 0.9, 0.3];
  const { sockets, events, clock, client } = await setup({ random: () => draws.shift() });
  for (let i = 0; i < 3; i++) {
    sockets.at(-1).serverClose(1006);
    await clock.advance(reconnects(events).at(-1).delay);
  }
  assert.deepEqual(reconnects(events).map((r) => r.delay), [50, 900, 600]);
  client.close();
});

test('a successful connection resets the backoff', async () => {
  const { clock, sockets, events, client } = await setup();
  sockets[0].serverClose(1006);
  await clock.advance(250);
  sockets[1].serverClose(1006);
  await clock.advance(500);
  sockets[2].accept();
  assert.equal(client.state, 'connected');
  sockets[2].serverClose(1006);
  assert.equal(reconnects(events).at(-1).delay, 250);
  assert.equal(reconnects(events).at(-1).attempt, 0);
  client.close();
});

test('1001 (node going away) reconnects at once to the next URL', async () => {
  const { clock, sockets, events, client } = await setup();
  sockets[0].accept();
  sockets[0].serverClose(1001, 'node going away');
  const r = reconnects(events).at(-1);
  assert.equal(r.delay, 0);
  assert.equal(r.url, 'ws://b/ws');
  await clock.advance(0);
  assert.equal(sockets.length, 2);
  assert.equal(sockets[1].url, 'ws://b/ws');
  client.close();
});

test('4029 (too many connections) waits the long backoff', async () => {
  const { sockets, events, client } = await setup();
  sockets[0].accept();
  sockets[0].serverClose(4029, 'too many connections');
  assert.equal(reconnects(events).at(-1).delay, 15000, 'starts at the cap (random 0.5 of 30 s)');
  client.close();
});

test('1000 closes for good: no reconnect, pending requests fail with closed', async () => {
  const { clock, sockets, events, client } = await setup();
  sockets[0].accept();
  const pub = client.publish('room:lobby', { text: 'hi' });
  sockets[0].serverClose(1000, 'disconnected by server');
  await assert.rejects(pub, (e) => e.code === 'disconnected');
  const queued = client.publish('room:lobby', { text: 'later' });
  await assert.rejects(queued, (e) => e.code === 'closed');
  assert.equal(client.state, 'closed');
  assert.equal(reconnects(events).length, 0);
  await clock.advance(120000);
  assert.equal(sockets.length, 1);
});

test('1008 with a fixed token: no reconnect until setToken gives a new one', async () => {
  const { clock, sockets, events, client } = await setup();
  sockets[0].open();
  assert.deepEqual(sockets[0].sent[0], { type: 'auth', token: 't1' });
  sockets[0].receive({ type: 'error', code: 'unauthorized', message: 'bad signature' });
  sockets[0].serverClose(1008, 'auth failure');
  assert.equal(client.state, 'disconnected');
  assert.equal(reconnects(events).length, 0);
  assert.ok(events.some((e) => e.name === 'error' && e.info.code === 'unauthorized'));
  await clock.advance(120000);
  assert.equal(sockets.length, 1, 'still no attempt two minutes later');

  client.setToken('t2');
  await flush();
  assert.equal(sockets.length, 2);
  sockets[1].open();
  assert.deepEqual(sockets[1].sent[0], { type: 'auth', token: 't2' });
  sockets[1].accept();
  assert.equal(client.state, 'connected');
  client.close();
});

test('1008 with a token function: asks it again, stops if it returns the refused token', async () => {
  const tokens = ['bad', 'bad', 'good'];
  let calls = 0;
  const { clock, sockets, client } = await setup({ token: async () => { calls++; return tokens.shift(); } });
  assert.equal(calls, 1);
  sockets[0].open();
  sockets[0].serverClose(1008, 'auth failure');
  await clock.advance(250);
  assert.equal(calls, 2);
  assert.equal(sockets.length, 1, 'the function returned the same token: no new socket');
  assert.equal(client.state, 'disconnected');
  await clock.advance(120000);
  assert.equal(calls, 2);

  client.setToken(async () => { calls++; return tokens.shift(); });
  await flush();
  assert.equal(sockets.length, 2);
  sockets[1].open();
  assert.equal(sockets[1].sent[0].token, 'good');
  client.close();
});

test('4010 (token expired) with a token function reconnects with a fresh token', async () => {
  let n = 0;
  const { clock, sockets, client } = await setup({ token: () => 'tok' + (++n) });
  sockets[0].accept();
  sockets[0].serverClose(4010, 'token expired');
  await clock.advance(250);
  assert.equal(sockets.length, 2);
  sockets[1].open();
  assert.equal(sockets[1].sent[0].token, 'tok2');
  client.close();
});

test('a token function that never settles: connectTimeout ends the attempt, the next asks again, the late token is ignored', async () => {
  let settleFirst;
  let calls = 0;
  const token = () => (++calls === 1 ? new Promise((resolve) => { settleFirst = resolve; }) : 'tok' + calls);
  const { clock, sockets, events, client } = await setup({ token, connectTimeout: 3000 });
  const states = [];
  client.on('state', (s) => states.push(s));
  await clock.advance(2999);
  assert.equal(sockets.length, 0, 'still waiting for the token');
  await clock.advance(1);
  assert.deepEqual(events.filter((e) => e.name === 'error').map((e) => e.info.code), ['token']);
  assert.deepEqual(reconnects(events).map((r) => [r.code, r.reason]), [[null, 'no token within 3000 ms']]);
  await clock.advance(reconnects(events)[0].delay);
  assert.equal(calls, 2);
  assert.equal(sockets.length, 1);
  sockets[0].accept();
  assert.equal(sockets[0].sent[0].token, 'tok2');

  settleFirst('tok1');
  await flush();
  assert.equal(sockets.length, 1, 'the late token opens nothing');
  assert.deepEqual(states, ['reconnecting', 'connecting', 'connected']);
  client.close();
});

test('the token function is called again before every attempt', async () => {
  let n = 0;
  const { clock, sockets, events, client } = await setup({ token: () => 'tok' + (++n) });
  for (let i = 0; i < 3; i++) {
    sockets.at(-1).open();
    assert.equal(sockets.at(-1).sent[0].token, 'tok' + (i + 1));
    sockets.at(-1).serverClose(1006);
    await clock.advance(reconnects(events).at(-1).delay);
  }
  assert.equal(sockets.length, 4);
  client.close();
});

test('app-level ping: no pong in time closes the socket and reconnects', async () => {
  const { clock, sockets, events, client } = await setup();
  sockets[0].accept({ heartbeat: 25 });
  await clock.advance(20000);
  assert.equal(sockets[0].frames('ping').length, 1, 'pings every 20 s (below the 25 s heartbeat)');
  sockets[0].receive({ type: 'pong' });
  await clock.advance(20000);
  assert.equal(sockets[0].frames('ping').length, 2);
  assert.equal(client.state, 'connected');
  await clock.advance(10000);
  assert.equal(sockets[0].closedWith.code, 4000, 'dead socket closed by the client');
  assert.equal(events.find((e) => e.name === 'disconnected').info.code, 4000);
  assert.equal(reconnects(events).length, 1);
  await clock.advance(250);
  assert.equal(sockets.length, 2);
  client.close();
});

test('the ping follows a short server heartbeat', async () => {
  const { clock, sockets, client } = await setup();
  sockets[0].accept({ heartbeat: 5 });
  await clock.advance(5000);
  assert.equal(sockets[0].frames('ping').length, 1);
  client.close();
});

test('an attempt that never authenticates is abandoned after connectTimeout', async () => {
  const { clock, sockets, events, client } = await setup({ connectTimeout: 3000 });
  sockets[0].open();
  await clock.advance(3000);
  assert.equal(reconnects(events).length, 1);
  assert.ok(sockets[0].closedWith);
  client.close();
});

test('state events follow the connection: connecting, connected, disconnected, reconnecting, closed', async () => {
  const { clock, sockets, client } = await setup();
  const states = [];
  client.on('state', (s) => states.push(s));
  sockets[0].accept();
  sockets[0].serverClose(1006);
  await clock.advance(250);
  sockets[1].accept();
  client.close();
  assert.deepEqual(states, ['connected', 'disconnected', 'reconnecting', 'connecting', 'connected', 'disconnected', 'closed']);
  assert.equal(sockets[1].closedWith.code, 1000);
});

test('a token living longer than setTimeout can wait is renewed once, at 80 % of its life, not at once', async () => {
  let n = 0;
  const clock = new FakeClock();
  // Browsers and Node keep the delay in 32 bits: anything longer fires almost at once.
  const overflowing = (fn, ms) => clock.setTimeout(fn, ms > 2 ** 31 - 1 ? 1 : ms);
  const { sockets, client } = await setup({ token: () => 'tok' + (++n), setTimeout: overflowing, clearTimeout: clock.clearTimeout,
    pingInterval: 1e12, requestTimeout: 1e12 });
  sockets[0].accept({ expires_in: 10_000_000, heartbeat: 1e9 }); // ~116 days
  await clock.advance(10_000);
  const renewals = () => sockets[0].sent.filter((f) => f.type === 'auth' && f.id != null);
  assert.equal(renewals().length, 0, 'no renewal within the first seconds');
  assert.ok(clock.pending().every((ms) => ms <= 2 ** 31 - 1), 'no timer asks for more than 2^31-1 ms');
  await clock.advance(8_000_000_000 - 10_000 - 1);
  assert.equal(renewals().length, 0, 'not before 80 % of the life');
  await clock.advance(1);
  assert.deepEqual(renewals().map((f) => f.token), ['tok2']);
  client.close();
});

test('open() starts again after the server closed for good (1000, 1009) or refused the token (1008)', async () => {
  for (const code of [1000, 1009, 1008]) {
    const { sockets, client } = await setup();
    const got = [];
    client.subscribe('room:a', (m) => got.push(m));
    sockets[0].accept();
    sockets[0].answer(sockets[0].frames('subscribe')[0]);
    sockets[0].serverClose(code, 'closed by the server');
    assert.notEqual(client.state, 'connected');
    client.open();
    const pub = client.publish('room:a', 'after open');
    await flush();
    assert.equal(sockets.length, 2, 'close ' + code + ': open() makes a new attempt');
    sockets[1].accept();
    assert.equal(client.state, 'connected');
    assert.deepEqual(sockets[1].frames('subscribe').map((f) => f.channel), ['room:a'], 'subscriptions are restored');
    assert.deepEqual(sockets[1].frames('broadcast').map((f) => f.message), ['after open']);
    sockets[1].answer(sockets[1].frames('broadcast')[0]);
    await pub;
    client.close();
  }
});

const renewalsOn = (ws) => ws.sent.filter((f) => f.type === 'auth' && f.id != null);
const renewed = (ws, f) => ws.receive({ type: 'auth_success', id: f.id, user_id: 'alice', session_id: 's0', node: 'n1', channels: [], heartbeat: 25 });

test('setToken on a live session: one renewal at a time, a newer token replaces one still waiting', async () => {
  const { clock, sockets, client } = await setup();
  sockets[0].accept();
  const p2 = client.setToken('t2');
  const p3 = client.setToken('t3');
  const p4 = client.setToken('t4');
  await flush();
  assert.deepEqual(renewalsOn(sockets[0]).map((f) => f.token), ['t2'], 'the server takes one auth at a time');
  renewed(sockets[0], renewalsOn(sockets[0])[0]);
  await p2;
  await flush();
  assert.deepEqual(renewalsOn(sockets[0]).map((f) => f.token), ['t2', 't4'], 't3 was replaced before it was sent');
  renewed(sockets[0], renewalsOn(sockets[0])[1]);
  await p3;
  await p4;
  sockets[0].serverClose(1006);
  await clock.advance(250);
  sockets[1].open();
  assert.equal(sockets[1].sent[0].token, 't4', 'the reconnect uses the last token the server took');
  client.close();
});

test('a renewal the server refuses (another user\'s token) rejects, is reported, and does not replace the token', async () => {
  const { clock, sockets, client, events } = await setup();
  sockets[0].accept();
  const p = client.setToken('token-of-mallory');
  await flush();
  const f = renewalsOn(sockets[0])[0];
  sockets[0].receive({ type: 'error', id: f.id, code: 'forbidden', message: 'a session renews with a token for the same user (alice)' });
  await assert.rejects(p, (e) => e.code === 'forbidden');
  assert.ok(events.some((e) => e.name === 'error' && e.info.code === 'forbidden'));
  sockets[0].serverClose(1006);
  await clock.advance(250);
  sockets[1].open();
  assert.equal(sockets[1].sent[0].token, 't1', 'still alice');
  client.close();
});

test('a token set while a renewal is in flight and the connection drops is used by the next attempt', async () => {
  const { clock, sockets, client } = await setup();
  sockets[0].accept();
  client.setToken('t2');
  client.setToken('t3');
  await flush();
  sockets[0].serverClose(1006);
  await clock.advance(250);
  sockets[1].open();
  assert.equal(sockets[1].sent[0].token, 't3');
  client.close();
});

/** Records every 'state' change and every 'disconnected' and 'closed' event from now on. */
function record(client) {
  const seen = { states: [], disconnected: [], closed: [] };
  client.on('state', (state, detail) => seen.states.push({ state, detail }));
  client.on('disconnected', (info) => seen.disconnected.push(info));
  client.on('closed', (info) => seen.closed.push(info));
  seen.names = () => seen.states.map((s) => s.state);
  return seen;
}

test('each close code gives one disconnected (state and event), carrying the final detail', async () => {
  // What follows the disconnect: reconnecting, closed for good, or staying disconnected until setToken().
  const after = { 1000: 'closed', 1001: 'reconnecting', 1006: 'reconnecting', 1008: null, 1009: 'closed', 1011: 'reconnecting',
    4008: 'reconnecting', 4009: 'reconnecting', 4010: null, 4029: 'reconnecting' };
  for (const [key, next] of Object.entries(after)) {
    const code = Number(key);
    const { sockets, client } = await setup();
    sockets[0].accept();
    const seen = record(client);
    sockets[0].serverClose(code, 'by the server');
    await flush(); // the clock stands still: no new attempt (whose socket close() would report) starts
    const expected = { code, reason: 'by the server', url: 'ws://a/ws', wasConnected: true };
    if (next === null) {
      expected.waitingForToken = true;
    }
    assert.deepEqual(seen.disconnected, [expected], 'close ' + code + ': one disconnected event');
    const disconnects = seen.states.filter((s) => s.state === 'disconnected');
    assert.deepEqual(disconnects.map((s) => s.detail), [expected], 'close ' + code + ': one disconnected state, same detail');
    assert.deepEqual(seen.names().slice(0, 2), next === null ? ['disconnected'] : ['disconnected', next], 'close ' + code);
    assert.equal(seen.closed.length, next === 'closed' ? 1 : 0, 'close ' + code);

    client.close();
    assert.equal(seen.disconnected.length, 1, 'close ' + code + ': close() after it disconnects nothing more');
    assert.equal(seen.closed.length, 1, 'close ' + code + ': one closed, also when the server had closed for good');
    assert.equal(seen.names().filter((s) => s === 'disconnected').length, 1, 'close ' + code);
  }
});

test('a network error, a missing pong and a connect timeout each give one disconnected', async () => {
  {
    const { clock, sockets, client } = await setup();
    const seen = record(client);
    sockets[0].onerror?.({});
    await clock.advance(1000);
    assert.deepEqual(seen.names(), ['disconnected', 'reconnecting'], 'error without a close event');
    assert.equal(seen.disconnected.length, 1);
    assert.equal(seen.disconnected[0].code, 1006);
    client.close();
  }
  {
    const { clock, sockets, client } = await setup();
    sockets[0].accept({ heartbeat: 25 });
    const seen = record(client);
    await clock.advance(30000);
    assert.deepEqual(seen.names(), ['disconnected', 'reconnecting'], 'no pong');
    assert.deepEqual(seen.disconnected.map((d) => [d.code, d.wasConnected]), [[4000, true]]);
    client.close();
  }
  {
    const { clock, sockets, client } = await setup({ connectTimeout: 3000 });
    sockets[0].open();
    const seen = record(client);
    await clock.advance(3000);
    assert.deepEqual(seen.names(), ['disconnected', 'reconnecting'], 'no auth_success');
    assert.deepEqual(seen.disconnected.map((d) => [d.code, d.wasConnected]), [[1006, false]]);
    client.close();
  }
});

test('close() on a live connection disconnects once, then closes; with no socket it only closes', async () => {
  {
    const { sockets, client } = await setup();
    sockets[0].accept();
    const seen = record(client);
    client.close();
    client.close();
    assert.deepEqual(seen.names(), ['disconnected', 'closed']);
    const detail = { code: 1000, reason: 'client closed', url: 'ws://a/ws', wasConnected: true };
    assert.deepEqual(seen.disconnected, [detail]);
    assert.deepEqual(seen.closed, [detail]);
  }
  {
    const { sockets, client } = await setup();
    sockets[0].serverClose(1006);
    const seen = record(client);
    client.close();
    assert.deepEqual(seen.names(), ['closed'], 'reconnecting: the disconnect was already reported');
    assert.equal(seen.disconnected.length, 0);
  }
  {
    const { sockets, client } = await setup();
    sockets[0].open();
    sockets[0].serverClose(1008, 'auth failure');
    const seen = record(client);
    client.close();
    assert.deepEqual(seen.names(), ['closed'], 'waiting for a token');
    assert.equal(seen.disconnected.length, 0);
  }
});

test('a disconnected listener that calls setToken() after 1008 reconnects with it, with no stale error', async () => {
  const { clock, sockets, client, events } = await setup();
  sockets[0].open();
  client.on('disconnected', (info) => {
    if (info.waitingForToken) {
      client.setToken('t2');
    }
  });
  sockets[0].serverClose(1008, 'auth failure');
  await clock.advance(0);
  assert.equal(sockets.length, 2);
  assert.equal(client.state, 'connecting');
  assert.ok(!events.some((e) => e.name === 'error'), 'the token it asks for is already there');
  sockets[1].open();
  assert.equal(sockets[1].sent[0].token, 't2');
  client.close();
});

test('a token function that returns the refused token again: disconnected once at the close, once when it stops', async () => {
  const { clock, sockets, client } = await setup({ token: async () => 'bad' });
  sockets[0].open();
  const seen = record(client);
  sockets[0].serverClose(1008, 'auth failure');
  await clock.advance(250);
  assert.deepEqual(seen.names(), ['disconnected', 'reconnecting', 'connecting', 'disconnected']);
  assert.deepEqual(seen.disconnected, [
    { code: 1008, reason: 'auth failure', url: 'ws://a/ws', wasConnected: false },
    { code: null, reason: 'the token function returned the token the server refused (close 1008)', url: 'ws://b/ws',
      wasConnected: false, waitingForToken: true },
  ]);
  assert.deepEqual(seen.states.filter((s) => s.state === 'disconnected').map((s) => s.detail), seen.disconnected);
  client.close();
});
