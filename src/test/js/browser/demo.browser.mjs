// Browser test of the demo page (/) on two clustered nodes, in headless Chromium through playwright-core.
//
//   node src/test/js/browser/demo.browser.mjs --node1 http://127.0.0.1:8081 --node2 http://127.0.0.1:8082 --out target/browser
//
// alice's page is served by node 1 and connects to node 1 first; bob's by node 2, connecting to node 2
// first; each page gets both WebSocket URLs. They chat in #lobby and exchange a direct message. Then the
// script prints "@@kill node2" and waits for a line "killed" on stdin: whoever started node 2
// (DemoBrowserIT) kills it. bob's page must reconnect to node 1 by itself, with #lobby restored, and keep
// receiving. Exit code 0 and a last line "OK …" on success; screenshots go to --out.
import { chromium } from 'playwright-core';
import { createInterface } from 'node:readline';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const args = parseArgs(process.argv.slice(2));
const node1 = required('node1');
const node2 = required('node2');
const out = args.out ?? 'target/browser';
const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const STEP = Number(args['step-timeout'] ?? 30000);
mkdirSync(out, { recursive: true });

const ws = (base) => base.replace(/^http/, 'ws') + '/ws';
const stdinLines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();

let browser;
const pages = {};
try {
  browser = await chromium.launch({
    executablePath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  const alice = pages.alice = await openPage('alice', node1, [ws(node1), ws(node2)]);
  const bob = pages.bob = await openPage('bob', node2, [ws(node2), ws(node1)]);

  const aliceNode = await connectedNode(alice);
  const bobNode = await connectedNode(bob);
  check(aliceNode !== bobNode, `the pages should be on different nodes, both are on ${aliceNode}`);
  step(`alice on ${aliceNode}, bob on ${bobNode}`);
  await systemLine(alice, 'joined #lobby');
  await systemLine(bob, 'joined #lobby');

  await say(alice, 'hello from alice');
  await roomLine(bob, 'alice', 'hello from alice');
  await say(bob, 'hi alice, bob here');
  await roomLine(alice, 'bob', 'hi alice, bob here');
  step('room chat across nodes works both ways');

  await alice.waitForSelector('#online li[data-user="bob"]', { timeout: STEP });
  await bob.waitForSelector('#online li[data-user="alice"]', { timeout: STEP });
  step('presence shows both users on both pages');

  await dm(bob, 'alice', 'psst from bob');
  await dmLine(alice, 'bob', 'psst from bob');
  step('direct message bob → alice delivered');

  await shot(alice, 'demo-alice.png');
  await shot(bob, 'demo-bob.png');

  console.log('@@kill node2');
  const answer = await stdinLines.next();
  check(!answer.done && answer.value.trim() === 'killed', 'expected "killed" on stdin, got ' + JSON.stringify(answer.value));
  const t0 = Date.now();

  await bob.waitForFunction((n) => document.getElementById('state').dataset.state === 'connected'
    && document.getElementById('node').textContent === n, aliceNode, { timeout: 45000 });
  step(`bob reconnected to ${aliceNode} in ${Date.now() - t0} ms`);
  await systemLine(bob, 'rejoined #lobby');
  check(await alice.$eval('#state', (e) => e.dataset.state) === 'connected', "alice's page should not have noticed");

  await say(alice, 'after failover');
  await roomLine(bob, 'alice', 'after failover');
  await say(bob, 'bob is back');
  await roomLine(alice, 'bob', 'bob is back');
  await dm(alice, 'bob', 'welcome back');
  await dmLine(bob, 'alice', 'welcome back');
  step('after the failover bob keeps receiving: room (resubscribed) and direct messages');
  await shot(bob, 'demo-bob-after-failover.png');

  console.log(`OK demo: chat, presence, direct message, failover ${bobNode} → ${aliceNode} in ${Date.now() - t0} ms`);
  await browser.close();
  process.exit(0);
} catch (e) {
  console.log('FAIL ' + (e && e.stack ? e.stack : e));
  for (const [name, page] of Object.entries(pages)) {
    try {
      await shot(page, `demo-${name}-failure.png`);
      console.log(`--- ${name}'s log:\n` + (await page.$eval('#log', (el) => el.innerText)));
    } catch (ignored) {
      // the page itself may be gone
    }
  }
  await browser?.close().catch(() => {});
  process.exit(1);
}

async function openPage(user, base, urls) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 700 } });
  const page = await context.newPage();
  page.on('pageerror', (e) => console.log(`[${user}] page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') {
      console.log(`[${user}] console.${m.type()}: ${m.text()}`);
    }
  });
  const url = `${base}/?user=${user}&rooms=lobby&urls=${encodeURIComponent(urls.join(','))}`;
  await page.goto(url, { timeout: STEP });
  return page;
}

async function connectedNode(page) {
  await page.waitForSelector('#state[data-state="connected"]', { timeout: STEP });
  return page.$eval('#node', (e) => e.textContent);
}

async function say(page, text) {
  await page.fill('#text', text);
  await page.press('#text', 'Enter');
}

async function dm(page, to, text) {
  await page.fill('#dm-to', to);
  await page.fill('#dm-text', text);
  await page.press('#dm-text', 'Enter');
}

function roomLine(page, from, text) {
  return page.waitForFunction(([f, t]) => [...document.querySelectorAll('.msg.room')]
    .some((e) => e.dataset.from === f && e.textContent.includes(t)), [from, text], { timeout: STEP });
}

function dmLine(page, from, text) {
  return page.waitForFunction(([f, t]) => [...document.querySelectorAll('.msg.dm')]
    .some((e) => e.dataset.from === f && e.textContent.includes(t)), [from, text], { timeout: STEP });
}

function systemLine(page, text) {
  return page.waitForFunction((t) => [...document.querySelectorAll('.msg.system')]
    .some((e) => e.textContent.includes(t)), text, { timeout: STEP });
}

async function shot(page, name) {
  await page.screenshot({ path: join(out, name), fullPage: true });
}

function step(text) {
  console.log('step: ' + text);
}

function check(cond, message) {
  if (!cond) {
    throw new Error(message);
  }
}

function parseArgs(argv) {
  const o = {};
  for (let i = 0; i < argv.length; i++) {
    if (argv[i].startsWith('--')) {
      o[argv[i].slice(2)] = argv[i + 1];
      i++;
    }
  }
  return o;
}

function required(name) {
  if (!args[name]) {
    console.log(`usage: demo.browser.mjs --node1 <http base> --node2 <http base> [--out dir]; missing --${name}`);
    process.exit(2);
  }
  return args[name].replace(/\/$/, '');
}
