// The demo page at / : chat in rooms, direct messages and presence on /switchboard.js.
// Query parameters (all optional): user=<name> joins at once; rooms=a,b (default lobby);
// urls=ws://…/ws,ws://…/ws (default: this server); token=<jwt> (default: GET /demo/token when /demo/config
// says demo tokens are on; otherwise the page asks for a pasted token).
import { connect } from '/switchboard.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const defaultUrl = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws';
const urls = (params.get('urls') || defaultUrl).split(',').map((u) => u.trim()).filter(Boolean);

let sb = null;
let me = null;
let current = null;
const rooms = new Map(); // room name → unsubscribe function
const lines = []; // { channel, from, text, kind }
let presenceTimer = null;

// ---- token: from the page, the query string or the server's demo endpoint -------------------------

/**
 * The token is fetched once and reused: a page whose own server died must still be able to reconnect
 * to another node with it. A fresh one is fetched only when it is about to expire.
 */
function tokenSource(user, initial) {
  let cached = initial ? { token: initial, until: Infinity } : null;
  return async () => {
    if (cached && Date.now() < cached.until) {
      return cached.token;
    }
    try {
      cached = await fetchDemoToken(user);
    } catch (e) {
      if (!cached) {
        throw e;
      }
    }
    return cached.token;
  };
}

/** Whether this server hands out demo tokens: asked once, so a server without them sees no token request. */
let demoConfig = null;
function demoTokensOn() {
  demoConfig ??= fetch('/demo/config', { cache: 'no-store' })
    .then((res) => (res.ok ? res.json() : { demo_tokens: false }))
    .then((c) => c.demo_tokens === true, () => false);
  return demoConfig;
}

async function fetchDemoToken(user) {
  if (!(await demoTokensOn())) {
    throw Object.assign(new Error('demo tokens are off on this server'), { noDemoTokens: true });
  }
  const res = await fetch('/demo/token?user=' + encodeURIComponent(user), { cache: 'no-store' });
  const body = await res.json();
  if (!res.ok) {
    throw new Error(body.error || 'token request failed: HTTP ' + res.status);
  }
  return { token: body.token, until: Date.now() + (body.expires_in - 120) * 1000 };
}

// ---- connection ---------------------------------------------------------------------------------

/** The user a pasted token is for, so the page subscribes to the right user: channel. */
function subjectOf(token) {
  try {
    return JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/'))).sub || null;
  } catch (e) {
    return null;
  }
}

async function start(name, pastedToken) {
  const given = pastedToken || params.get('token');
  const user = (given && subjectOf(given)) || name;
  const source = tokenSource(user, given);
  await source(); // fails here (not in a reconnect loop) when there is no way to get a token
  me = user;
  $('whoami').textContent = 'signed in as ' + user;
  $('login').hidden = true;
  $('app').hidden = false;

  sb = connect({ urls, token: source });
  sb.on('state', (state) => {
    $('state').textContent = state;
    $('state').dataset.state = state;
    if (state !== 'connected') {
      $('node').textContent = '–';
    }
  });
  sb.on('connected', (info) => {
    $('node').textContent = info.node;
    system('connected to ' + info.node);
    refreshPresence();
  });
  sb.on('reconnecting', (info) => system('connection lost (' + (info.code ?? 'no code') + '); retrying ' + info.url + ' in ' + info.delay + ' ms'));
  sb.on('subscribed', (info) => {
    if (info.resubscribed && info.channel.startsWith('room:')) {
      system('rejoined #' + info.channel.slice(5));
      refreshPresence();
    }
  });
  sb.on('error', (e) => system('error: ' + (e.code ? e.code + ': ' : '') + e.message));

  // Direct messages arrive on user:<me>, which the server subscribes every session to.
  sb.subscribe('user:' + me, (message, frame) => add({ channel: frame.channel, from: frame.from_user, text: textOf(message), kind: 'dm' }));

  const initial = (params.get('rooms') || 'lobby').split(',').map((r) => r.trim()).filter(Boolean);
  initial.forEach((r) => join(r));
  select(initial[0]);
  presenceTimer = setInterval(refreshPresence, 3000);
}

function join(room) {
  if (rooms.has(room)) {
    return;
  }
  const channel = 'room:' + room;
  const leave = sb.subscribe(channel, (message, frame) => add({ channel, from: frame.from_user, text: textOf(message), kind: 'room' }));
  rooms.set(room, leave);
  leave.ready.then(() => {
    system('joined #' + room);
    refreshPresence();
  }, (e) => {
    rooms.delete(room);
    renderRooms();
    system('cannot join #' + room + ': ' + e.message);
  });
  renderRooms();
}

function select(room) {
  current = room;
  $('online-room').textContent = '#' + room;
  $('text').placeholder = 'Message #' + room;
  renderRooms();
  renderLog();
  refreshPresence();
}

async function refreshPresence() {
  if (!sb || !sb.connected || !current) {
    return;
  }
  try {
    const room = current;
    const { users, count } = await sb.presence('room:' + room);
    if (room !== current) {
      return;
    }
    $('online-count').textContent = String(count);
    $('online').replaceChildren(...users.sort().map((u) => li(u === me ? u + ' (you)' : u, { user: u })));
  } catch (e) {
    // shown on the next refresh; presence is best-effort in the demo
  }
}

// ---- rendering ----------------------------------------------------------------------------------

function textOf(message) {
  if (message && typeof message === 'object' && 'text' in message) {
    return String(message.text);
  }
  return JSON.stringify(message);
}

function add(line) {
  lines.push(line);
  if (lines.length > 500) {
    lines.shift();
  }
  renderLog();
}

function system(text) {
  add({ channel: null, from: null, text, kind: 'system' });
}

function visible(line) {
  return line.kind !== 'room' || line.channel === 'room:' + current;
}

function renderLog() {
  const log = $('log');
  log.replaceChildren(...lines.filter(visible).map((l) => {
    const div = document.createElement('div');
    div.className = 'msg ' + l.kind + (l.from === me ? ' mine' : '');
    if (l.channel) {
      div.dataset.channel = l.channel;
    }
    if (l.from) {
      div.dataset.from = l.from;
      const from = document.createElement('span');
      from.className = 'from';
      from.textContent = l.kind === 'dm' ? l.from + ' → you' : l.from;
      div.append(from);
    }
    div.append(document.createTextNode(l.text));
    return div;
  }));
  log.scrollTop = log.scrollHeight;
}

function renderRooms() {
  $('rooms').replaceChildren(...[...rooms.keys()].map((r) => {
    const item = li('#' + r, { room: r });
    item.classList.toggle('active', r === current);
    item.addEventListener('click', () => select(r));
    return item;
  }));
}

function li(text, data) {
  const item = document.createElement('li');
  item.textContent = text;
  Object.assign(item.dataset, data);
  return item;
}

// ---- forms --------------------------------------------------------------------------------------

$('login').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  $('join').disabled = true;
  $('login-error').textContent = '';
  try {
    await start($('name').value.trim(), $('token').value.trim());
  } catch (e) {
    if (e.noDemoTokens) {
      $('token-box').hidden = false;
      $('login-error').textContent = 'Paste a token for this name.';
    } else {
      $('login-error').textContent = e.message;
    }
    $('join').disabled = false;
  }
});

$('join-room').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const room = $('room-name').value.trim();
  if (room) {
    join(room);
    select(room);
    $('room-name').value = '';
  }
});

$('say').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const text = $('text').value;
  $('text').value = '';
  try {
    await sb.publish('room:' + current, { text });
  } catch (e) {
    system('not sent: ' + e.message);
  }
});

$('dm').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const to = $('dm-to').value.trim();
  const text = $('dm-text').value;
  $('dm-text').value = '';
  try {
    await sb.send(to, { text });
    add({ channel: 'user:' + to, from: me, text: '(to ' + to + ') ' + text, kind: 'dm-sent' });
  } catch (e) {
    system('direct message not sent: ' + e.message);
  }
});

$('ask-time').addEventListener('click', async () => {
  try {
    const reply = await sb.request('service.time', {});
    system('service.time replied ' + JSON.stringify(reply));
  } catch (e) {
    system('service.time: ' + (e.code ? e.code + ': ' : '') + e.message);
  }
});

window.addEventListener('beforeunload', () => {
  clearInterval(presenceTimer);
  sb?.close();
});

if (params.get('user')) {
  $('name').value = params.get('user');
  $('login').requestSubmit();
} else if (!params.get('token')) {
  // Without demo tokens the page needs a pasted one: show the box at once rather than after a failed join.
  demoTokensOn().then((on) => {
    $('token-box').hidden = on;
  });
}

// For the browser tests and the curious: the live client.
window.switchboardDemo = { get client() { return sb; } };
