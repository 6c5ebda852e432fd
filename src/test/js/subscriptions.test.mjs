// Subscriptions and requests of /switchboard.js: resubscribe after reconnect (with since when offsets are
// known), recovered surfaced to the app, automatic channels, acks/errors matched by id, offline queueing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock, fakeWebSocket, flush, loadClient } from './fakes.mjs';

const sb = await loadClient();

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
    now: () => clock.now,
    ...options,
  });
  const events = [];
  for (const name of ['subscribed', 'error', 'message']) {
    client.on(name, (info) => events.push({ name, info }));
  }
  await flush();
  return { clock, sockets, client, events };
}

/** Reconnects after a network drop: closes the socket, waits the backoff, accepts the next one. */
async function drop(clock, sockets) {
  sockets.at(-1).serverClose(1006);
  await clock.advance(250);
  sockets.at(-1).accept();
}

test('every channel is resubscribed after a reconnect, with since once an offset is known', async () => {
  const { clock, sockets, client, events } = await setup();
  const got = { a: [], b: [] };
  const offA = client.subscribe('room:a', (m) => got.a.push(m));
  client.subscribe('room:b', (m) => got.b.push(m));
  assert.equal(sockets[0].sent.length, 0, 'nothing sent before the socket opens');
  sockets[0].accept();
  const subs0 = sockets[0].frames('subscribe');
  assert.deepEqual(subs0.map((f) => [f.channel, f.since]), [['room:a', undefined], ['room:b', undefined]]);
  subs0.forEach((f) => sockets[0].answer(f));
  const first = await offA.ready;
  assert.deepEqual(first, { channel: 'room:a', recovered: null, resubscribed: false });

  sockets[0].receive({ type: 'message', channel: 'room:a', message: { n: 1 }, from_user: 'bob', timestamp: 't', offset: 7, epoch: 'e1' });
  sockets[0].receive({ type: 'message', channel: 'room:b', message: { n: 2 }, from_user: 'bob', timestamp: 't' });
  assert.deepEqual(client.position('room:a'), { offset: 7, epoch: 'e1' });
  assert.equal(client.position('room:b'), null);

  await drop(clock, sockets);
  assert.equal(sockets.length, 2);
  const subs1 = sockets[1].frames('subscribe');
  assert.deepEqual(subs1.map((f) => [f.channel, f.since]), [['room:a', { offset: 7, epoch: 'e1' }], ['room:b', undefined]]);

  // Missed messages come before the ack; a replay of one already seen is not delivered twice.
  sockets[1].receive({ type: 'message', channel: 'room:a', message: { n: 1 }, from_user: 'bob', timestamp: 't', offset: 7, epoch: 'e1' });
  sockets[1].receive({ type: 'message', channel: 'room:a', message: { n: 3 }, from_user: 'bob', timestamp: 't', offset: 8, epoch: 'e1' });
  sockets[1].answer(subs1[0], { recovered: true });
  sockets[1].answer(subs1[1]);
  await flush();
  const resubs = events.filter((e) => e.name === 'subscribed' && e.info.resubscribed).map((e) => e.info);
  assert.deepEqual(resubs, [
    { channel: 'room:a', recovered: true, resubscribed: true },
    { channel: 'room:b', recovered: null, resubscribed: true },
  ]);
  assert.deepEqual(got.a, [{ n: 1 }, { n: 3 }]);
  assert.deepEqual(got.b, [{ n: 2 }]);
  client.close();
});

test('recovered:false reaches the app so it can resync', async () => {
  const { clock, sockets, client, events } = await setup();
  client.subscribe('room:a', () => {}, { since: { offset: 3, epoch: 'old' } });
  sockets[0].accept();
  const f = sockets[0].frames('subscribe')[0];
  assert.deepEqual(f.since, { offset: 3, epoch: 'old' }, 'a position given by the app is used from the start');
  sockets[0].answer(f, { recovered: false });
  await flush();
  assert.equal(events.find((e) => e.name === 'subscribed').info.recovered, false);
  await drop(clock, sockets);
  client.close();
});

test('a new epoch replaces the remembered position', async () => {
  const { sockets, client } = await setup();
  const seen = [];
  client.subscribe('room:a', (m) => seen.push(m));
  sockets[0].accept();
  sockets[0].receive({ type: 'message', channel: 'room:a', message: 1, offset: 9, epoch: 'e1' });
  sockets[0].receive({ type: 'message', channel: 'room:a', message: 2, offset: 1, epoch: 'e2' });
  assert.deepEqual(seen, [1, 2]);
  assert.deepEqual(client.position('room:a'), { offset: 1, epoch: 'e2' });
  client.close();
});

test('automatic channels: user:<self> is subscribed for its position and recovered after a reconnect; broadcast is not', async () => {
  const { clock, sockets, client } = await setup();
  const dms = [];
  const off = client.subscribe('user:alice', (m, frame) => dms.push([frame.from_user, m]));
  const offAll = client.subscribe('broadcast', () => {});
  sockets[0].accept({ channels: ['broadcast', 'user:alice'] });
  assert.deepEqual(sockets[0].frames('subscribe').map((f) => [f.channel, f.since]), [['user:alice', undefined]],
    'broadcast and segment:… keep no history and the server refuses subscribing them');
  assert.equal((await offAll.ready).automatic, true);
  sockets[0].answer(sockets[0].frames('subscribe')[0], { offset: 5, epoch: 'u1' });
  const info = await off.ready;
  assert.equal(info.automatic, true);
  assert.deepEqual(client.position('user:alice'), { offset: 5, epoch: 'u1' });
  sockets[0].receive({ type: 'message', channel: 'user:alice', message: 'psst', from_user: 'bob', timestamp: 't', offset: 6, epoch: 'u1' });
  assert.deepEqual(dms, [['bob', 'psst']]);
  await drop(clock, sockets);
  const again = sockets[1].frames('subscribe');
  assert.deepEqual(again.map((f) => [f.channel, f.since]), [['user:alice', { offset: 6, epoch: 'u1' }]]);
  sockets[1].receive({ type: 'message', channel: 'user:alice', message: 'while away', from_user: 'bob', timestamp: 't', offset: 7, epoch: 'u1' });
  sockets[1].answer(again[0], { recovered: true, offset: 7, epoch: 'u1' });
  assert.deepEqual(dms, [['bob', 'psst'], ['bob', 'while away']]);
  off();
  offAll();
  assert.equal(sockets[1].frames('unsubscribe').length, 0, 'automatic channels cannot be left');
  client.close();
});

test('an automatic channel whose subscribe the server refuses keeps its handler, without an error', async () => {
  const { clock, sockets, client, events } = await setup();
  const dms = [];
  const off = client.subscribe('user:alice', (m) => dms.push(m));
  sockets[0].accept();
  const f = sockets[0].frames('subscribe')[0];
  sockets[0].receive({ type: 'error', id: f.id, code: 'forbidden', message: 'clients may not subscribe to user: channels' });
  assert.equal((await off.ready).automatic, true);
  assert.ok(!events.some((e) => e.name === 'error'));
  sockets[0].receive({ type: 'message', channel: 'user:alice', message: 'psst', from_user: 'bob', timestamp: 't' });
  assert.deepEqual(dms, ['psst']);
  await drop(clock, sockets);
  assert.equal(sockets[1].frames('subscribe').length, 0, 'not asked again');
  client.close();
});

test('unsubscribe leaves the channel when its last handler goes, and it is not restored', async () => {
  const { clock, sockets, client } = await setup();
  sockets[0].accept();
  const h1 = [];
  const h2 = [];
  const off1 = client.subscribe('room:a', (m) => h1.push(m));
  const off2 = client.subscribe('room:a', (m) => h2.push(m));
  assert.equal(sockets[0].frames('subscribe').length, 1, 'one subscribe per channel');
  sockets[0].answer(sockets[0].frames('subscribe')[0]);
  sockets[0].receive({ type: 'message', channel: 'room:a', message: 1 });
  off1();
  assert.equal(sockets[0].frames('unsubscribe').length, 0);
  sockets[0].receive({ type: 'message', channel: 'room:a', message: 2 });
  off2();
  assert.deepEqual(sockets[0].frames('unsubscribe').map((f) => f.channel), ['room:a']);
  assert.deepEqual(h1, [1]);
  assert.deepEqual(h2, [1, 2]);
  assert.deepEqual(client.channels(), []);
  await drop(clock, sockets);
  assert.equal(sockets[1].frames('subscribe').length, 0);
  client.close();
});

test('a refused subscription rejects ready, reports an error and is not retried', async () => {
  const { clock, sockets, client, events } = await setup();
  sockets[0].accept();
  const off = client.subscribe('room:secret', () => {});
  const f = sockets[0].frames('subscribe')[0];
  sockets[0].receive({ type: 'error', id: f.id, code: 'forbidden', message: "your token's rooms claim does not list secret" });
  await assert.rejects(off.ready, (e) => e.code === 'forbidden');
  assert.ok(events.some((e) => e.name === 'error' && e.info.code === 'forbidden'));
  await drop(clock, sockets);
  assert.equal(sockets[1].frames('subscribe').length, 0);
  client.close();
});

test('publish, send, presence, request and history resolve from the answer carrying their id', async () => {
  const { sockets, client } = await setup();
  sockets[0].accept();
  const pub = client.publish('room:a', { text: 'hi' });
  const dm = client.send('bob', { text: 'psst' });
  const who = client.presence('room:a');
  const rpc = client.request('service.echo', { q: 1 });
  const hist = client.history('room:a', { limit: 2 });
  const [p, s, pr, rq, h] = ['broadcast', 'send', 'presence', 'request', 'history'].map((t) => sockets[0].frames(t)[0]);
  assert.deepEqual({ ...p, id: 0 }, { type: 'broadcast', channel: 'room:a', message: { text: 'hi' }, id: 0 });
  assert.deepEqual({ ...s, id: 0 }, { type: 'send', to: 'bob', message: { text: 'psst' }, id: 0 });
  assert.equal(h.limit, 2);
  // Answers in a different order than the requests.
  sockets[0].receive({ type: 'reply', id: rq.id, message: { echo: 1 } });
  sockets[0].receive({ type: 'history', id: h.id, channel: 'room:a', messages: [], offset: 4, epoch: 'e' });
  sockets[0].receive({ type: 'presence', id: pr.id, channel: 'room:a', users: ['alice', 'bob'], count: 2 });
  sockets[0].answer(s);
  sockets[0].answer(p);
  assert.equal(await pub, undefined);
  assert.equal(await dm, undefined);
  assert.deepEqual(await who, { channel: 'room:a', users: ['alice', 'bob'], count: 2 });
  assert.deepEqual(await rpc, { echo: 1 });
  assert.deepEqual(await hist, { channel: 'room:a', messages: [], offset: 4, epoch: 'e' });
  client.close();
});

test('error answers reject with the server code; silence rejects with timeout', async () => {
  const { clock, sockets, client } = await setup({ requestTimeout: 5000 });
  sockets[0].accept();
  const rpc = client.request('service.slow', {});
  const f = sockets[0].frames('request')[0];
  sockets[0].receive({ type: 'error', id: f.id, code: 'timeout', message: 'no reply from service.slow within 5000 ms' });
  await assert.rejects(rpc, (e) => e.code === 'timeout' && /service\.slow/.test(e.message));
  const pub = assert.rejects(client.publish('topic:x', 1), (e) => e.code === 'timeout');
  await clock.advance(5000);
  await pub;
  client.close();
});

test('requests made while offline wait for the connection; in-flight ones fail with disconnected', async () => {
  const { clock, sockets, client } = await setup();
  const early = assert.rejects(client.publish('room:a', 'early'), (e) => e.code === 'disconnected');
  sockets[0].accept();
  const sent = sockets[0].frames('broadcast');
  assert.deepEqual(sent.map((f) => f.message), ['early']);
  const inFlight = assert.rejects(client.send('bob', 'lost?'), (e) => e.code === 'disconnected');
  sockets[0].serverClose(1006);
  await inFlight;
  const queued = client.publish('room:a', 'while away');
  await clock.advance(250);
  sockets[1].accept();
  const again = sockets[1].frames('broadcast');
  assert.deepEqual(again.map((f) => f.message), ['while away']);
  sockets[1].answer(again[0]);
  await queued;
  sockets[0].answer(sent[0]); // an answer on the dead socket is ignored
  client.close();
  await early;
});

test('an error frame without an id is reported as an error event', async () => {
  const { sockets, client, events } = await setup();
  sockets[0].accept();
  sockets[0].receive({ type: 'error', code: 'rate_limited', message: 'over 20 messages/s' });
  assert.equal(events.find((e) => e.name === 'error').info.code, 'rate_limited');
  client.close();
});

test('setToken on a live session renews it with an auth frame', async () => {
  const { sockets, client } = await setup();
  sockets[0].accept();
  client.setToken('t2');
  await flush();
  const auth = sockets[0].sent.filter((f) => f.type === 'auth' && f.id != null);
  assert.equal(auth.length, 1);
  assert.equal(auth[0].token, 't2');
  sockets[0].receive({ type: 'auth_success', id: auth[0].id, user_id: 'alice', session_id: 's0', node: 'n1', channels: [], heartbeat: 25 });
  assert.equal(client.state, 'connected');
  assert.equal(sockets.length, 1);
  client.close();
});

test('a token function renews the session before the token expires', async () => {
  let n = 0;
  const { clock, sockets, client } = await setup({ token: () => 'tok' + (++n), pingInterval: 1e9 });
  sockets[0].accept({ expires_in: 100, heartbeat: 1000 });
  await clock.advance(80000);
  const renewals = sockets[0].sent.filter((f) => f.type === 'auth' && f.id != null);
  assert.deepEqual(renewals.map((f) => f.token), ['tok2']);
  client.close();
});

test('a throwing handler does not stop the others', async () => {
  const { sockets, client, events } = await setup();
  const seen = [];
  client.subscribe('room:a', () => { throw new Error('boom'); });
  client.subscribe('room:a', (m) => seen.push(m));
  sockets[0].accept();
  sockets[0].receive({ type: 'message', channel: 'room:a', message: 1 });
  assert.deepEqual(seen, [1]);
  assert.ok(events.some((e) => e.name === 'error' && e.info.message === 'boom'));
  client.close();
});

test('offsets that arrive out of order (two publishing nodes) are all delivered, and the position waits for the gap', async () => {
  const { clock, sockets, client } = await setup();
  const got = [];
  client.subscribe('room:a', (m) => got.push(m.n));
  sockets[0].accept();
  sockets[0].frames('subscribe').forEach((f) => sockets[0].answer(f));
  await flush();
  const msg = (n, offset) => ({ type: 'message', channel: 'room:a', message: { n }, from_user: null, timestamp: 't', offset, epoch: 'e1' });
  sockets[0].receive(msg(1, 10));
  sockets[0].receive(msg(3, 12));   // 12 overtook 11
  assert.deepEqual(client.position('room:a'), { offset: 10, epoch: 'e1' }, 'resume below the gap');
  sockets[0].receive(msg(2, 11));   // the late one is delivered, not taken for a replay
  sockets[0].receive(msg(3, 12));   // a real replay is dropped
  assert.deepEqual(got, [1, 3, 2]);
  assert.deepEqual(client.position('room:a'), { offset: 12, epoch: 'e1' });
  await drop(clock, sockets);
  assert.deepEqual(sockets[1].frames('subscribe')[0].since, { offset: 12, epoch: 'e1' });
  client.close();
});

test('a subscribe made on \'connected\' goes out once per connection, with one \'subscribed\' each', async () => {
  const { clock, sockets, client, events } = await setup();
  let connections = 0;
  client.on('connected', () => client.subscribe('room:on-connect-' + ++connections, () => {}));
  client.subscribe('room:before', () => {});
  const answerAll = (ws) => ws.frames('subscribe').forEach((f) => ws.answer(f));
  sockets[0].accept();
  assert.deepEqual(sockets[0].frames('subscribe').map((f) => f.channel).sort(), ['room:before', 'room:on-connect-1']);
  answerAll(sockets[0]);
  await drop(clock, sockets);
  assert.deepEqual(sockets[1].frames('subscribe').map((f) => f.channel).sort(),
    ['room:before', 'room:on-connect-1', 'room:on-connect-2']);
  answerAll(sockets[1]);
  await flush();
  const subscribed = events.filter((e) => e.name === 'subscribed').map((e) => e.info.channel + (e.info.resubscribed ? ' again' : ''));
  assert.deepEqual(subscribed.sort(), ['room:before', 'room:before again', 'room:on-connect-1', 'room:on-connect-1 again',
    'room:on-connect-2']);
  client.close();
});

test('unsubscribing before the first ack settles that ready (rejects with unsubscribed), and only that one', async () => {
  const { sockets, client } = await setup();
  const offline = client.subscribe('room:early', () => {});
  offline();
  await assert.rejects(offline.ready, (e) => e.code === 'unsubscribed' && /room:early/.test(e.message));
  sockets[0].accept();
  const first = client.subscribe('room:a', () => {});
  const second = client.subscribe('room:a', () => {});
  first();
  await assert.rejects(first.ready, (e) => e.code === 'unsubscribed');
  sockets[0].answer(sockets[0].frames('subscribe').find((f) => f.channel === 'room:a'));
  assert.equal((await second.ready).channel, 'room:a');
  assert.deepEqual(client.channels(), ['room:a']);
  client.close();
});

/**
 * Answers what the client sent as a gateway with the default inbound limit would (SPEC §6: 20/s, burst 40):
 * subscribes and broadcasts within budget are acked, the rest refused rate_limited.
 */
function limitedServer(clock, rate = 20, burst = 40) {
  let tokens = burst;
  let at = clock.now;
  let answered = 0;
  return (ws) => {
    if (ws.answered === undefined) {
      ws.answered = 0;
      tokens = burst;
      at = clock.now;
    }
    for (; ws.answered < ws.sent.length; ws.answered++) {
      const f = ws.sent[ws.answered];
      tokens = Math.min(burst, tokens + (clock.now - at) * rate / 1000);
      at = clock.now;
      if (f.id == null) continue; // the auth frame and pings
      if (tokens >= 1) {
        tokens -= 1;
        ws.answer(f);
      } else {
        ws.receive({ type: 'error', id: f.id, code: 'rate_limited', message: 'over 20 messages/s (burst 40); message dropped' });
      }
      answered++;
    }
    return answered;
  };
}

test('70 channels: the (re)subscribe burst is paced under the server limit, rate_limited ones are retried, all end up subscribed', async () => {
  const { clock, sockets, client, events } = await setup();
  const server = limitedServer(clock);
  const channels = Array.from({ length: 70 }, (_, i) => 'room:r' + i);
  const offs = channels.map((ch) => client.subscribe(ch, () => {}));
  let ready = 0;
  offs.forEach((off) => off.ready.then(() => ready++));
  sockets[0].accept();
  assert.equal(sockets[0].frames('subscribe').length, 30, 'at most subscribeBurst at once');
  // The app's own frames are not paced, and spend the server's budget too.
  for (let i = 0; i < 15; i++) client.publish('room:r0', i).catch(() => {});
  server(sockets[0]);
  for (let t = 0; t < 100 && ready < 70; t++) {
    client.publish('room:r0', 'chatter').catch(() => {}); // 10/s more: together over the server's 20/s
    await clock.advance(100);
    server(sockets[0]);
  }
  assert.equal(ready, 70, 'every ready settled with an ack');
  assert.equal(client.channels().length, 70);
  const subs = sockets[0].frames('subscribe');
  assert.ok(subs.length > 70, 'some were refused rate_limited and sent again');
  assert.equal(new Set(subs.map((f) => f.channel)).size, 70);
  assert.ok(!events.some((e) => e.name === 'error'), 'a rate_limited subscribe that is retried is no error for the app');

  // After a reconnect, the same pace.
  sockets[0].serverClose(1006);
  await clock.advance(250);
  sockets[1].accept();
  assert.equal(sockets[1].frames('subscribe').length, 30);
  const resubscribed = new Set();
  client.on('subscribed', (info) => resubscribed.add(info.channel));
  for (let t = 0; t < 100 && resubscribed.size < 70; t++) {
    server(sockets[1]);
    await clock.advance(100);
  }
  assert.equal(resubscribed.size, 70);
  client.close();
});

test('a subscribe refused rate_limited is sent again after about a second, not dropped', async () => {
  const { clock, sockets, client } = await setup();
  sockets[0].accept();
  const off = client.subscribe('room:a', () => {});
  const f = sockets[0].frames('subscribe')[0];
  sockets[0].receive({ type: 'error', id: f.id, code: 'rate_limited', message: 'over 20 messages/s' });
  await clock.advance(499);
  assert.equal(sockets[0].frames('subscribe').length, 1, 'not at once');
  await clock.advance(1000);
  const again = sockets[0].frames('subscribe');
  assert.equal(again.length, 2);
  sockets[0].answer(again[1]);
  assert.equal((await off.ready).channel, 'room:a');
  assert.deepEqual(client.channels(), ['room:a']);
  client.close();
});

const at = (channel, offset, epoch = 'e1', n = offset) =>
  ({ type: 'message', channel, message: { n }, from_user: null, timestamp: 't', offset, epoch });

test('the ack of a plain subscribe gives the position, so a channel that was quiet still resumes after a reconnect', async () => {
  const { clock, sockets, client } = await setup();
  client.subscribe('room:quiet', () => {});
  client.subscribe('room:new', () => {});
  sockets[0].accept();
  const [q, n] = sockets[0].frames('subscribe');
  sockets[0].answer(q, { offset: 41, epoch: 'e1' });
  sockets[0].answer(n, { offset: 0, epoch: 'e9' });
  await flush();
  assert.deepEqual(client.position('room:quiet'), { offset: 41, epoch: 'e1' });
  assert.deepEqual(client.position('room:new'), { offset: 0, epoch: 'e9' });
  await drop(clock, sockets);
  assert.deepEqual(sockets[1].frames('subscribe').map((f) => f.since),
    [{ offset: 41, epoch: 'e1' }, { offset: 0, epoch: 'e9' }]);
  client.close();
});

test('positions keep the higher of the ack and the messages: live ones may come before the ack', async () => {
  const { sockets, client } = await setup();
  const got = [];
  client.subscribe('room:a', (m) => got.push(m.n));
  client.subscribe('room:b', (m) => got.push(m.n));
  sockets[0].accept();
  const [a, b] = sockets[0].frames('subscribe');
  for (const o of [42, 43, 44]) sockets[0].receive(at('room:a', o));
  sockets[0].answer(a, { offset: 41, epoch: 'e1' });
  await flush();
  assert.deepEqual(client.position('room:a'), { offset: 44, epoch: 'e1' }, 'not back to the ack\'s 41');
  // 46 overtook 42..45, all published after the subscription went live; the ack says 41.
  sockets[0].receive(at('room:b', 46));
  sockets[0].answer(b, { offset: 41, epoch: 'e1' });
  await flush();
  assert.deepEqual(client.position('room:b'), { offset: 41, epoch: 'e1' }, 'waits for 42..45');
  for (const o of [42, 43, 44, 45]) sockets[0].receive(at('room:b', o));
  assert.deepEqual(client.position('room:b'), { offset: 46, epoch: 'e1' });
  assert.deepEqual(got, [42, 43, 44, 46, 42, 43, 44, 45]);
  client.close();
});

test('after recovered:false the position is the ack\'s, so the next outage is recovered', async () => {
  const { clock, sockets, client } = await setup();
  client.subscribe('room:a', () => {}, { since: { offset: 3, epoch: 'old' } });
  sockets[0].accept();
  sockets[0].answer(sockets[0].frames('subscribe')[0], { recovered: false, offset: 57, epoch: 'e2' });
  await flush();
  assert.deepEqual(client.position('room:a'), { offset: 57, epoch: 'e2' });
  sockets[0].receive(at('room:a', 58, 'e2'));
  await drop(clock, sockets);
  assert.deepEqual(sockets[1].frames('subscribe')[0].since, { offset: 58, epoch: 'e2' });
  client.close();
});

test('a gap that never fills does not hold the position back: it moves on after the reorder window', async () => {
  const { clock, sockets, client } = await setup();
  client.subscribe('room:a', () => {});
  sockets[0].accept();
  sockets[0].answer(sockets[0].frames('subscribe')[0], { offset: 0, epoch: 'e1' });
  sockets[0].receive(at('room:a', 1));
  for (let o = 3; o <= 10; o++) sockets[0].receive(at('room:a', o)); // 2 was lost on the way
  assert.deepEqual(client.position('room:a'), { offset: 1, epoch: 'e1' }, 'a short wait for a late 2');
  await clock.advance(1000);
  assert.deepEqual(client.position('room:a'), { offset: 10, epoch: 'e1' });
  sockets[0].receive(at('room:a', 11));
  assert.deepEqual(client.position('room:a'), { offset: 11, epoch: 'e1' });
  client.close();
});

test('a gap open at a reconnect is left to since, and the ack\'s position closes it', async () => {
  const { clock, sockets, client } = await setup();
  const got = [];
  client.subscribe('room:a', (m) => got.push(m.n));
  sockets[0].accept();
  sockets[0].answer(sockets[0].frames('subscribe')[0], { offset: 0, epoch: 'e1' });
  sockets[0].receive(at('room:a', 1));
  sockets[0].receive(at('room:a', 3));
  await drop(clock, sockets);
  const f = sockets[1].frames('subscribe')[0];
  assert.deepEqual(f.since, { offset: 1, epoch: 'e1' }, 'resume below the gap, so 2 is replayed');
  sockets[1].receive(at('room:a', 2));
  sockets[1].receive(at('room:a', 3)); // already delivered
  sockets[1].receive(at('room:a', 4));
  sockets[1].answer(f, { recovered: true, offset: 4, epoch: 'e1' });
  await flush();
  assert.deepEqual(got, [1, 3, 2, 4]);
  assert.deepEqual(client.position('room:a'), { offset: 4, epoch: 'e1' });
  client.close();
});

test('a since without epoch is sent as it is (the server checks the offset alone) until an ack gives the epoch', async () => {
  const { clock, sockets, client } = await setup();
  const got = [];
  client.subscribe('room:a', (m) => got.push(m.n), { since: { offset: 41 } });
  assert.deepEqual(client.position('room:a'), { offset: 41 });
  sockets[0].accept();
  assert.deepEqual(sockets[0].frames('subscribe')[0].since, { offset: 41 }, 'not dropped');

  await drop(clock, sockets); // lost before the ack: the app's position still stands
  const f = sockets[1].frames('subscribe')[0];
  assert.deepEqual(f.since, { offset: 41 });
  sockets[1].receive(at('room:a', 42));
  sockets[1].receive(at('room:a', 43));
  sockets[1].answer(f, { recovered: true, offset: 43, epoch: 'e1' });
  await flush();
  assert.deepEqual(got, [42, 43]);
  assert.deepEqual(client.position('room:a'), { offset: 43, epoch: 'e1' });
  await drop(clock, sockets);
  assert.deepEqual(sockets[2].frames('subscribe')[0].since, { offset: 43, epoch: 'e1' });
  client.close();
});

test('messages replayed after an epoch-less since give the position when the ack never came', async () => {
  const { clock, sockets, client } = await setup();
  client.subscribe('room:a', () => {}, { since: { offset: 41, epoch: null } });
  sockets[0].accept();
  assert.deepEqual(sockets[0].frames('subscribe')[0].since, { offset: 41 });
  sockets[0].receive(at('room:a', 42));
  sockets[0].receive(at('room:a', 43));
  await drop(clock, sockets);
  assert.deepEqual(sockets[1].frames('subscribe')[0].since, { offset: 43, epoch: 'e1' });
  client.close();
});

test('a since the server could not take throws at the call, naming what is wrong, and subscribes nothing', async () => {
  const { sockets, client } = await setup();
  sockets[0].accept();
  const bad = [
    [{ epoch: 'e1' }, /since\.offset/],
    [{ offset: -1, epoch: 'e1' }, /since\.offset/],
    [{ offset: 1.5 }, /since\.offset/],
    [{ offset: '3' }, /since\.offset/],
    [{ offset: 3, epoch: 7 }, /since\.epoch/],
    [42, /since/],
  ];
  for (const [since, message] of bad) {
    assert.throws(() => client.subscribe('room:a', () => {}, { since }), (e) => e instanceof TypeError && message.test(e.message),
      JSON.stringify(since));
  }
  assert.deepEqual(client.channels(), []);
  assert.equal(sockets[0].frames('subscribe').length, 0);
  client.close();
});
