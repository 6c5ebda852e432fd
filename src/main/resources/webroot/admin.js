// Switchboard admin dashboard. No dependencies: the data arrives over the gateway's own WebSocket on the
// $sys:stats channel (each node publishes its stats there once a second), charts are plain canvas.
//
// Auth: {"type":"auth","api_key":"…"} instead of a token gives an admin session that may subscribe to
// system channels and nothing else. The key lives in sessionStorage only (gone when the tab closes).

const STATS = '$sys:stats';
const KEY_STORE = 'switchboard.admin.key';
const MAX_POINTS = 120;          // two minutes at one point per second
const MIN_WINDOW = 30;           // seconds shown before there is more history
const STALE_MS = 3500;           // a node that has not reported for this long is stale
const FORGET_MS = 60_000;        // and after this long it leaves the table
const BUCKETS_PER_DECADE = 20;   // must match MetricsVerticle

const NODE_COLORS = ['#5794f2', '#73bf69', '#ff9830', '#b877d9', '#f2cc0c', '#8ab8ff', '#ff7383', '#56d6c4'];
const DROP_COLORS = { rate_limited: '#ff9830', slow_consumer: '#f2495c', no_session: '#b877d9', too_large: '#5794f2' };
const TYPE_COLORS = { broadcast: '#8ab8ff', send: '#f2cc0c', ping: '#56d6c4', subscribe: '#b877d9', unsubscribe: '#8b93a7',
  auth: '#ff9830', presence: '#73bf69', request: '#ff7383', history: '#5794f2', invalid: '#f2495c', binary: '#f2495c' };
const EXTRA_COLORS = ['#f2cc0c', '#8ab8ff', '#56d6c4', '#ff7383'];

const $ = (id) => document.getElementById(id);

// ---- state -------------------------------------------------------------------------------------

const nodes = new Map();          // name -> { stats, seenAt, color }
const times = [];                 // epoch seconds of the chart points
const series = {                  // name -> array aligned with times
  conn: new Map(), in: new Map(), out: new Map(), lat: new Map(), drop: new Map(), lag: new Map(),
};
let ws = null;
let via = null;
let retry = 0;
let refused = false;
let ticker = null;
let lastFrameAt = 0;

// ---- connection --------------------------------------------------------------------------------

function wsUrl() {
  return (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws';
}

function connect(key) {
  refused = false;
  setLive('connecting', '');
  ws = new WebSocket(wsUrl());
  ws.onopen = () => ws.send(JSON.stringify({ type: 'auth', id: 'auth', api_key: key }));
  ws.onmessage = (e) => onFrame(JSON.parse(e.data), key);
  ws.onclose = (e) => {
    ws = null;
    if (refused || e.code === 1008) {
      sessionStorage.removeItem(KEY_STORE);
      showLogin('The API key was refused.');
      return;
    }
    if (!$('dash').hidden) {
      // Full jitter, 0.5 s base, 10 s cap: a restarted node is not stampeded by its dashboards.
      const delay = Math.random() * Math.min(10_000, 500 * 2 ** retry++);
      setLive('reconnecting', 'off');
      setTimeout(() => connect(key), delay);
    } else {
      showLogin(`Could not connect (close ${e.code}).`);
    }
  };
}

function onFrame(f, key) {
  switch (f.type) {
    case 'auth_success':
      retry = 0;
      via = f.node;
      sessionStorage.setItem(KEY_STORE, key);
      ws.send(JSON.stringify({ type: 'subscribe', id: 'sub', channel: STATS }));
      showDashboard();
      break;
    case 'ack':
      if (f.id === 'sub') setLive('live', 'on');
      break;
    case 'error':
      if (f.code === 'unauthorized') refused = true;
      else console.warn('switchboard:', f.code, f.message);
      break;
    case 'message':
      if (f.channel === STATS && f.message) onStats(f.message);
      break;
    default:
      break;
  }
}

function onStats(s) {
  lastFrameAt = Date.now();
  let n = nodes.get(s.node);
  if (!n) {
    n = { color: null };  // assigned in name order at the next tick
    nodes.set(s.node, n);
  }
  n.stats = s;
  n.seenAt = Date.now();
}

// ---- views -------------------------------------------------------------------------------------

function showLogin(error) {
  stopTicker();
  $('dash').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = error || '';
  $('key').value = '';
  $('key').focus();
}

function showDashboard() {
  $('login').hidden = true;
  $('dash').hidden = false;
  $('via').textContent = via || '–';
  if (!ticker) {
    tick();
    ticker = setInterval(tick, 1000);
  }
}

function stopTicker() {
  if (ticker) clearInterval(ticker);
  ticker = null;
}

function setLive(text, cls) {
  $('live').className = 'live ' + cls;
  $('live-text').textContent = text;
}

$('login-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const key = $('key').value.trim();
  if (!key) return;
  $('login-error').textContent = '';
  connect(key);
});

$('signout').addEventListener('click', () => {
  sessionStorage.removeItem(KEY_STORE);
  refused = false;
  $('dash').hidden = true;
  if (ws) ws.close(1000);
  nodes.clear();
  showLogin('');
});

// ---- once a second: aggregate what the nodes reported, push a chart point, redraw ---------------

function tick() {
  const now = Date.now();
  for (const [name, n] of nodes) {
    if (now - n.seenAt > FORGET_MS) nodes.delete(name);
  }
  const live = [...nodes.values()].filter((n) => now - n.seenAt <= STALE_MS);
  const sorted = [...nodes.entries()].sort((a, b) => a[0].localeCompare(b[0], undefined, { numeric: true }));
  for (const [, n] of sorted) {
    if (!n.color) {
      const used = new Set([...nodes.values()].map((x) => x.color));
      n.color = NODE_COLORS.find((c) => !used.has(c)) || NODE_COLORS[nodes.size % NODE_COLORS.length];
    }
  }
  if (ws && lastFrameAt && now - lastFrameAt > STALE_MS) setLive('no data', 'off');
  else if (ws && lastFrameAt) setLive('live', 'on');

  const sum = (f) => live.reduce((a, n) => a + (f(n.stats) || 0), 0);
  const conns = sum((s) => s.connections);
  // Each node counts its own users; one user on two nodes is in both counts. The cluster's distinct users lie
  // between the largest node's count and the sum, so the tile shows that range rather than a sum posing as exact.
  const usersAtLeast = Math.max(0, ...live.map((n) => n.stats.users || 0));
  const usersAtMost = sum((s) => s.users);
  const inRate = sum((s) => s.in.rate);
  const outRate = sum((s) => s.out.rate);
  const dropRate = sum((s) => s.dropped.rate);
  const members = Math.max(0, ...live.map((n) => n.stats.members));
  const lat = mergedLatency(live);

  const dropsByReason = {};
  for (const n of live) {
    for (const [reason, v] of Object.entries(n.stats.dropped.by_reason || {})) {
      dropsByReason[reason] = (dropsByReason[reason] || 0) + v.rate;
    }
  }

  // chart points
  times.push(Math.floor(now / 1000));
  const inByType = {};
  for (const n of live) {
    for (const [type, r] of Object.entries(n.stats.in.by_type || {})) inByType[type] = (inByType[type] || 0) + r;
  }
  for (const [name, n] of sorted) {
    const up = live.includes(n);
    point(series.conn, name, up ? n.stats.connections : null);
    point(series.out, name, up ? n.stats.out.rate : null);
    point(series.lag, name, up ? n.stats.loop_lag_ms : null);
  }
  for (const type of new Set([...series.in.keys(), ...Object.keys(inByType)])) {
    point(series.in, type, inByType[type] || 0);
  }
  point(series.lat, 'p50', lat ? lat.p50 : null);
  point(series.lat, 'p90', lat ? lat.p90 : null);
  point(series.lat, 'p99', lat ? lat.p99 : null);
  for (const reason of new Set([...series.drop.keys(), ...Object.keys(dropsByReason)])) {
    point(series.drop, reason, dropsByReason[reason] || 0);
  }
  alignAll();

  // tiles
  const ready = live.filter((n) => n.stats.ready).length;
  kpi('kpi-nodes', live.length, fmtInt(live.length),
    members > live.length ? `${members} members, ${members - live.length} silent` : `${ready} ready`,
    members > live.length || ready < live.length ? 'warn' : '');
  kpi('kpi-conn', conns, fmtInt(conns), usersAtLeast === usersAtMost ? `${fmtInt(usersAtMost)} users`
    : `${fmtInt(usersAtLeast)}–${fmtInt(usersAtMost)} users (a user on several nodes counts on each)`);
  kpi('kpi-in', inRate, fmtRate(inRate) + '<small>/s</small>', topOf(live, (s) => s.in.by_type, 'client frames'));
  kpi('kpi-out', outRate, fmtRate(outRate) + '<small>/s</small>', 'deliveries to sockets');
  const topDrop = Object.entries(dropsByReason).filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1])[0];
  kpi('kpi-drops', dropRate, fmtRate(dropRate) + '<small>/s</small>',
    topDrop ? `mostly ${topDrop[0]}` : 'none', dropRate > 0 ? 'warn' : '');
  kpi('kpi-lat', lat ? lat.p99 : 0, lat ? fmtMs(lat.p99) : '–',
    lat ? `p50 ${fmtMs(lat.p50, true)} · ${fmtInt(lat.count)} in last s` : 'no deliveries in the last second');

  $('members').textContent = members ? `${live.length}/${members} nodes reporting` : '';
  renderNodes(sorted, now);
  renderCounts(live);
  drawAll(sorted);
}

function point(map, name, value) {
  if (!map.has(name)) map.set(name, new Array(times.length - 1).fill(null));
  map.get(name).push(value);
}

function alignAll() {
  for (const map of Object.values(series)) {
    for (const [name, arr] of map) {
      while (arr.length < times.length) arr.push(null);
      if (arr.length > MAX_POINTS) arr.splice(0, arr.length - MAX_POINTS);
      if (arr.every((v) => v === null)) map.delete(name);
    }
  }
  if (times.length > MAX_POINTS) times.splice(0, times.length - MAX_POINTS);
}

/** Cluster-wide percentiles of the last second: merge every node's log buckets, then walk them. */
function mergedLatency(live) {
  const merged = new Map();
  let total = 0;
  for (const n of live) {
    for (const [i, c] of n.stats.latency.buckets || []) {
      merged.set(i, (merged.get(i) || 0) + c);
      total += c;
    }
  }
  if (!total) return null;
  const idx = [...merged.keys()].sort((a, b) => a - b);
  const at = (q) => {
    let seen = 0;
    for (const i of idx) {
      seen += merged.get(i);
      if (seen >= q * total) return 10 ** ((i + 0.5) / BUCKETS_PER_DECADE) / 1000; // geometric mid, ms
    }
    return 10 ** ((idx[idx.length - 1] + 0.5) / BUCKETS_PER_DECADE) / 1000;
  };
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), count: total };
}

function kpi(id, value, html, sub, cls = '') {
  const el = $(id);
  el.dataset.value = String(Math.round(value * 1000) / 1000);
  el.className = 'kpi ' + cls;
  el.querySelector('.value').innerHTML = html;
  el.querySelector('.sub').textContent = sub;
}

function topOf(live, pick, fallback) {
  const acc = {};
  for (const n of live) for (const [k, v] of Object.entries(pick(n.stats) || {})) acc[k] = (acc[k] || 0) + v;
  const parts = Object.entries(acc).sort((a, b) => b[1] - a[1]).slice(0, 3).map(([k, v]) => `${k} ${fmtRate(v)}`);
  return parts.length ? parts.join(' · ') : fallback;
}

function renderNodes(sorted, now) {
  const body = $('nodes');
  if (!sorted.length) return;
  const rows = sorted.map(([name, n]) => {
    const s = n.stats;
    const stale = now - n.seenAt > STALE_MS;
    const status = stale ? 'stale' : s.draining ? 'draining' : s.ready ? 'ready' : 'down';
    const l = s.latency || {};
    return `<tr data-node="${esc(name)}" data-status="${status}">
      <td class="node"><i style="display:inline-block;width:8px;height:8px;border-radius:50%;background:${n.color};margin-right:8px"></i>${esc(name)}${name === via ? '<span class="via">this page</span>' : ''}</td>
      <td><span class="pill ${status}">${status}</span></td>
      <td class="num">${fmtInt(s.connections)}</td>
      <td class="num">${fmtInt(s.users)}</td>
      <td class="num">${fmtRate(s.in.rate)}</td>
      <td class="num">${fmtRate(s.out.rate)}</td>
      <td class="num">${fmtRate(s.dropped.rate)}</td>
      <td class="num">${l.count ? fmtMs(l.p50, true) : '–'}</td>
      <td class="num">${l.count ? fmtMs(l.p99, true) : '–'}</td>
      <td class="num">${fmtMs(s.loop_lag_ms, true)}</td>
      <td class="num">${fmtBytes(s.heap_used)} / ${fmtBytes(s.heap_max)}</td>
      <td class="num">${fmtDuration(s.uptime_s)}</td></tr>`;
  });
  body.innerHTML = rows.join('');
}

function renderCounts(live) {
  const add = (acc, obj) => { for (const [k, v] of Object.entries(obj || {})) acc[k] = (acc[k] || 0) + v; return acc; };
  const connects = live.reduce((a, n) => add(a, n.stats.connects), {});
  const disconnects = live.reduce((a, n) => add(a, n.stats.disconnects), {});
  const list = (obj, label) => {
    const e = Object.entries(obj).sort((a, b) => b[1] - a[1]);
    return e.length ? e.map(([k, v]) => `<li><span>${esc(label(k))}</span><span class="num">${fmtInt(v)}</span></li>`).join('')
      : '<li><span>none yet</span><span></span></li>';
  };
  $('connects').innerHTML = list(connects, (k) => k);
  $('disconnects').innerHTML = list(disconnects, (k) => `${k} ${CLOSE_NAMES[k] || ''}`);
}

const CLOSE_NAMES = {
  1000: 'normal', 1001: 'going away', 1006: 'abnormal', 1008: 'policy', 1009: 'too big', 1011: 'internal',
  4008: 'rate limit', 4009: 'slow consumer', 4010: 'token expired', 4029: 'too many',
};

// ---- charts ------------------------------------------------------------------------------------

const charts = {};

function drawAll(sorted) {
  const nodeColor = Object.fromEntries(sorted.map(([name, n]) => [name, n.color]));
  draw('conn', series.conn, (name) => nodeColor[name] || '#8b93a7', fmtInt, {}, true);
  draw('in', series.in, (name) => TYPE_COLORS[name] || '#8b93a7', fmtRate, {}, true);
  draw('out', series.out, (name) => nodeColor[name] || '#8b93a7', fmtRate, {}, true);
  draw('lag', series.lag, (name) => nodeColor[name] || '#8b93a7', (v) => fmtMs(v, true));
  draw('lat', series.lat, (name) => ({ p50: '#73bf69', p90: '#f2cc0c', p99: '#f2495c' }[name]), (v) => fmtMs(v, true));
  let extra = 0;
  const dropColor = {};
  draw('drop', series.drop, (name) => dropColor[name] || (dropColor[name] = DROP_COLORS[name] || EXTRA_COLORS[extra++ % EXTRA_COLORS.length]), fmtRate);
}

function draw(id, map, colorOf, fmt, labels = {}, stacked = false) {
  const canvas = $('ch-' + id);
  // a series that stayed at zero for the whole window is noise: leave it out of chart and legend
  const list = [...map.entries()].map(([name, values]) => ({ name, values, color: colorOf(name) }))
    .filter((s) => s.values.some((v) => v !== null && v > 0));
  $('lg-' + id).innerHTML = list.length === 0 ? '<em>none</em>' : list.map((s) => {
    const last = lastValue(s.values);
    return `<span><i style="background:${s.color}"></i>${esc(labels[s.name] || s.name)} <b class="num">${last === null ? '–' : fmt(last)}</b></span>`;
  }).join('');
  (charts[id] ||= new LineChart(canvas)).draw(times, list, stacked);
}

function lastValue(values) {
  for (let i = values.length - 1; i >= 0; i--) if (values[i] !== null && values[i] !== undefined) return values[i];
  return null;
}

class LineChart {
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d');
  }

  /** With stacked, each series is drawn on top of the ones before it (areas add up to the total). */
  draw(ts, list, stacked) {
    if (stacked) {
      let below = ts.map(() => 0);
      list = list.map((s) => {
        const base = below;
        const values = s.values.map((v, i) => (v === null ? null : base[i] + v));
        below = values.map((v, i) => (v === null ? base[i] : v));
        return { ...s, values, base };
      });
    }
    const dpr = window.devicePixelRatio || 1;
    const w = this.canvas.clientWidth;
    const h = this.canvas.clientHeight;
    if (this.canvas.width !== Math.round(w * dpr) || this.canvas.height !== Math.round(h * dpr)) {
      this.canvas.width = Math.round(w * dpr);
      this.canvas.height = Math.round(h * dpr);
    }
    const c = this.ctx;
    c.setTransform(dpr, 0, 0, dpr, 0, 0);
    c.clearRect(0, 0, w, h);
    const pad = { l: 52, r: 8, t: 8, b: 22 };
    const pw = w - pad.l - pad.r;
    const ph = h - pad.t - pad.b;
    const now = ts.length ? ts[ts.length - 1] : Math.floor(Date.now() / 1000);
    const span = Math.max(MIN_WINDOW, Math.min(MAX_POINTS, ts.length ? now - ts[0] : 0));
    const x = (t) => pad.l + pw * (1 - (now - t) / span);

    let max = 0;
    for (const s of list) for (const v of s.values) if (v !== null && v > max) max = v;
    const { top, step } = niceScale(max);
    const y = (v) => pad.t + ph * (1 - v / top);

    c.font = '11px system-ui, sans-serif';
    c.textBaseline = 'middle';
    c.lineWidth = 1;
    for (let v = 0; v <= top + step / 2; v += step) {
      const yy = Math.round(y(v)) + 0.5;
      c.strokeStyle = '#2a3246';
      c.beginPath(); c.moveTo(pad.l, yy); c.lineTo(w - pad.r, yy); c.stroke();
      c.fillStyle = '#8b93a7';
      c.textAlign = 'right';
      c.fillText(fmtTick(v, step), pad.l - 8, yy);
    }
    c.textAlign = 'center';
    c.textBaseline = 'alphabetic';
    const tickEvery = span > 60 ? 30 : span > 30 ? 15 : 10;
    for (let ago = 0; ago <= span; ago += tickEvery) {
      const xx = x(now - ago);
      c.fillStyle = '#8b93a7';
      c.fillText(ago === 0 ? 'now' : `-${ago}s`, Math.min(Math.max(xx, pad.l + 12), w - pad.r - 12), h - 6);
    }

    for (const s of list) {
      const pts = [];
      s.values.forEach((v, i) => { if (v !== null && ts[i] !== undefined && now - ts[i] <= span) pts.push([x(ts[i]), y(v)]); });
      if (!pts.length) continue;
      const grad = c.createLinearGradient(0, pad.t, 0, pad.t + ph);
      grad.addColorStop(0, s.color + '40');
      grad.addColorStop(1, s.color + '00');
      c.fillStyle = s.base ? s.color + '44' : grad;
      c.beginPath();
      if (s.base) {
        // stacked: fill down to the series below, not to zero
        const idx = s.values.map((v, i) => i).filter((i) => s.values[i] !== null && ts[i] !== undefined && now - ts[i] <= span);
        idx.forEach((i, k) => (k ? c.lineTo(x(ts[i]), y(s.values[i])) : c.moveTo(x(ts[i]), y(s.values[i]))));
        for (let k = idx.length - 1; k >= 0; k--) c.lineTo(x(ts[idx[k]]), y(s.base[idx[k]]));
      } else {
        c.moveTo(pts[0][0], y(0));
        for (const [px, py] of pts) c.lineTo(px, py);
        c.lineTo(pts[pts.length - 1][0], y(0));
      }
      c.closePath();
      c.fill();
      c.strokeStyle = s.color;
      c.lineWidth = 2;
      c.lineJoin = 'round';
      c.beginPath();
      // break the line where a point is missing
      let drawing = false;
      s.values.forEach((v, i) => {
        if (v === null || ts[i] === undefined || now - ts[i] > span) { drawing = false; return; }
        const px = x(ts[i]); const py = y(v);
        if (drawing) c.lineTo(px, py); else c.moveTo(px, py);
        drawing = true;
      });
      c.stroke();
      const [lx, ly] = pts[pts.length - 1];
      c.fillStyle = s.color;
      c.beginPath(); c.arc(lx, ly, 3, 0, Math.PI * 2); c.fill();
    }
  }
}

function fmtTick(v, step) {
  if (v >= 10_000) return (v / 1000).toLocaleString('en-US', { maximumFractionDigits: 1 }) + 'k';
  const decimals = step >= 1 ? 0 : Math.min(3, Math.ceil(-Math.log10(step)));
  return v.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
}

/** A round step giving about four gridlines, and the first multiple of it above the data. */
function niceScale(max) {
  if (!(max > 0)) return { top: 1, step: 0.25 };
  const head = max * 1.1;
  const raw = head / 4;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  return { top: step * Math.ceil(head / step), step };
}

// ---- formatting --------------------------------------------------------------------------------

function fmtInt(v) {
  return v === null || v === undefined ? '–' : Math.round(v).toLocaleString('en-US');
}

function fmtRate(v) {
  if (v === null || v === undefined) return '–';
  if (v >= 10_000) return (v / 1000).toFixed(1) + 'k';
  if (v >= 100) return Math.round(v).toLocaleString('en-US');
  if (v >= 10) return v.toFixed(1);
  return v === 0 ? '0' : v.toFixed(2);
}

function fmtMs(v, compact) {
  if (v === null || v === undefined) return '–';
  const unit = compact ? ' ms' : '<small>ms</small>';
  if (v >= 1000) return (v / 1000).toFixed(2) + (compact ? ' s' : '<small>s</small>');
  if (v >= 100) return Math.round(v) + unit;
  if (v >= 10) return v.toFixed(1) + unit;
  return v.toFixed(2) + unit;
}

function fmtBytes(b) {
  if (!(b > 0)) return '–';
  const mb = b / (1024 * 1024);
  return mb >= 1024 ? (mb / 1024).toFixed(1) + ' GB' : Math.round(mb) + ' MB';
}

function fmtDuration(s) {
  if (s === null || s === undefined) return '–';
  if (s < 60) return s + 's';
  if (s < 3600) return Math.floor(s / 60) + 'm ' + (s % 60) + 's';
  if (s < 86400) return Math.floor(s / 3600) + 'h ' + Math.floor((s % 3600) / 60) + 'm';
  return Math.floor(s / 86400) + 'd ' + Math.floor((s % 86400) / 3600) + 'h';
}

function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

// ---- start -------------------------------------------------------------------------------------

const saved = sessionStorage.getItem(KEY_STORE);
if (saved) connect(saved);
else showLogin('');
