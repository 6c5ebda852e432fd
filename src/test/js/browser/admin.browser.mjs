// Drives /admin in headless Chromium (the system's /usr/bin/chromium; playwright-core never downloads one).
//
//   node admin.browser.mjs <admin url> <api key> [screenshot.png] [expected nodes, comma-separated]
//
// 1. a wrong key is refused on the sign-in form;
// 2. the right key shows the dashboard, and every expected node appears in the members table
//    (then "READY" is printed: the caller starts its traffic ramp on that cue);
// 3. the cluster's "messages in" rate rises: some later reading is at least twice an earlier positive
//    one, and at least 20/s; deliveries ("messages out") are flowing;
// 4. a screenshot is saved, and one JSON line "OK {...}" sums up what was seen. Exit 0 on success, 1 on any
//    failure (with a screenshot ending in -failed.png).
import { chromium } from 'playwright-core';

const [url, apiKey, shot = 'target/admin-dashboard.png', expected = ''] = process.argv.slice(2);
if (!url || !apiKey) {
  console.error('usage: node admin.browser.mjs <admin url> <api key> [screenshot.png] [node1,node2]');
  process.exit(2);
}
const expectedNodes = expected ? expected.split(',') : [];
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-dev-shm-usage'],
});
const page = await browser.newPage({ viewport: { width: 1440, height: 900 }, deviceScaleFactor: 1 });
const consoleErrors = [];
page.on('pageerror', (e) => consoleErrors.push(String(e)));
page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const kpi = async (id) => Number(await page.getAttribute(`#${id}`, 'data-value'));

try {
  await page.goto(url, { waitUntil: 'load', timeout: 15_000 });

  // 1. a wrong key is refused
  await page.fill('#key', 'not-' + apiKey);
  await page.click('#connect');
  await page.waitForFunction(() => /refused/i.test(document.getElementById('login-error').textContent),
    null, { timeout: 10_000 });
  if (await page.isVisible('#dash')) throw new Error('dashboard shown for a wrong key');

  // 2. the right key: every expected node reports
  await page.fill('#key', apiKey);
  await page.click('#connect');
  await page.waitForSelector('#dash', { state: 'visible', timeout: 10_000 });
  const want = expectedNodes.length ? expectedNodes : null;
  await page.waitForFunction((names) => {
    const rows = [...document.querySelectorAll('#nodes tr[data-node]')].map((r) => r.dataset.node);
    return names ? names.every((n) => rows.includes(n)) : rows.length >= 2;
  }, want, { timeout: 20_000 });
  const nodes = await page.$$eval('#nodes tr[data-node]', (rows) => rows.map((r) => ({ node: r.dataset.node, status: r.dataset.status })));
  console.log('READY ' + JSON.stringify(nodes));

  // 3. a rising message rate
  const samples = [];
  let rising = null;
  const deadline = Date.now() + 30_000;
  while (!rising && Date.now() < deadline) {
    await sleep(500);
    const v = await kpi('kpi-in');
    samples.push(v);
    const firstPositive = samples.find((x) => x > 0);
    if (firstPositive !== undefined && v >= 20 && v >= 2 * firstPositive) rising = { from: firstPositive, to: v };
  }
  if (!rising) throw new Error('messages-in rate did not rise; samples: ' + JSON.stringify(samples));
  const out = await kpi('kpi-out');
  if (!(out > 0)) throw new Error('no deliveries shown (messages out = ' + out + ')');

  // let the charts gather a little more history for the picture
  await sleep(Number(process.env.ADMIN_SHOT_DELAY_MS || 5000));
  const finalNodes = await page.$$eval('#nodes tr[data-node]', (rows) => rows.map((r) => r.dataset.node));
  for (const n of expectedNodes) if (!finalNodes.includes(n)) throw new Error('node ' + n + ' disappeared');
  await page.screenshot({ path: shot });
  if (consoleErrors.length) throw new Error('page errors: ' + consoleErrors.join(' | '));
  console.log('OK ' + JSON.stringify({
    nodes: finalNodes, rising, out, connections: await kpi('kpi-conn'), drops: await kpi('kpi-drops'),
    p99_ms: await kpi('kpi-lat'), users: await page.textContent('#kpi-conn .sub'), screenshot: shot,
  }));
  await browser.close();
  process.exit(0);
} catch (e) {
  console.log('FAIL ' + (e && e.message ? e.message : e));
  try {
    await page.screenshot({ path: shot.replace(/\.png$/, '') + '-failed.png' });
  } catch (ignored) { /* the page may be gone */ }
  await browser.close();
  process.exit(1);
}
