// The demo page on a server with demo tokens off (the shipped default), in headless Chromium:
//
//   node src/test/js/browser/signin.browser.mjs <page url> <token for carol>
//
// The page must show the paste-a-token box at once (it asks /demo/config, never a token request that
// fails), sign carol in with the pasted token, and log no console error or page error on the way.
// Exit code 0 and a last line "OK …" on success.
import { chromium } from 'playwright-core';

const [url, token] = process.argv.slice(2);
if (!url || !token) {
  console.error('usage: node signin.browser.mjs <page url> <token>');
  process.exit(2);
}
const STEP = 15_000;
const problems = [];
let browser;
try {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  const page = await browser.newPage();
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push('console error: ' + m.text());
  });
  const requested = [];
  page.on('request', (r) => requested.push(new URL(r.url()).pathname));

  await page.goto(url, { waitUntil: 'load', timeout: STEP });
  await page.waitForSelector('#token-box', { state: 'visible', timeout: STEP });
  console.log('step: the token box is shown before any join');
  await page.fill('#name', 'carol');
  await page.fill('#token', token);
  await page.click('#join');
  await page.waitForFunction(() => /signed in as carol/.test(document.getElementById('whoami').textContent),
    null, { timeout: STEP });
  await page.waitForFunction(() => document.getElementById('state').dataset.state === 'connected', null, { timeout: STEP });
  console.log('step: carol signed in with the pasted token');
  if (requested.includes('/demo/token')) problems.push('the page asked /demo/token on a server without demo tokens');
  if (problems.length) throw new Error(problems.join('; '));
  console.log('OK signin: token box shown, pasted token signed in, no console errors');
} catch (e) {
  console.log('FAIL ' + (e && e.message ? e.message : e) + (problems.length ? ' | ' + problems.join('; ') : ''));
  process.exitCode = 1;
} finally {
  await browser?.close();
}
