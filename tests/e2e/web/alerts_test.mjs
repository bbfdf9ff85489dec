// The stall alert in real headless Chromium (Debian's), driven by playwright-core:
//   node alerts_test.mjs URL STOPPED_FILE MAX_SECONDS SCREENSHOT
// STOPPED_FILE gets the Unix time the vehicle_data producer stopped; the page must then show a
// stall alert for that topic (banner and list, with its time) within MAX_SECONDS, and
// /api/alerts and /metrics must agree. No console errors.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const require = createRequire(import.meta.url);
const { chromium } = require(path.join(process.env.NODE_PATH, 'playwright-core'));
const [url, stoppedFile, maxText, screenshot] = process.argv.slice(2);
const maxSeconds = Number(maxText);
const T = 120_000;

let checks = 0, failures = 0;
function check(name, ok, detail) {
  checks++;
  if (!ok) failures++;
  console.log((ok ? 'ok   ' : 'FAIL ') + name + (detail !== undefined ? ' (' + detail + ')' : ''));
}
async function until(fn, what, timeout = T) {
  const end = Date.now() + timeout;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out waiting for ' + what);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'smartcity-chromium-'));
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1400, height: 1000 },
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const errors = [];
const base = url.replace(/\/$/, '');
try {
  const page = await browser.newPage();
  page.on('console', (m) => { if (m.type() === 'error') errors.push('console: ' + m.text()); });
  page.on('pageerror', (e) => errors.push('page error: ' + e.message));
  page.on('requestfailed', (r) => { if (!r.url().endsWith('/api/events')) errors.push('request failed: ' + r.url()); });
  await page.goto(url, { waitUntil: 'load', timeout: T });

  // The steady input arrives: vehicle_data events counted, no stall alert yet.
  await until(() => page.evaluate(() => window.dashboard.lastStatus && window.dashboard.lastStatus.eventsIn.vehicle_data > 100),
      'vehicle_data events in the page');
  const early = await page.$$('#alerts tbody tr[data-alert-kind="stall"]');
  check('no stall alert while every topic flows', early.length === 0, early.length + ' stall rows');

  const selector = '#alerts tbody tr[data-alert-kind="stall"][data-alert-subject="topic vehicle_data"]';
  await until(() => fs.existsSync(stoppedFile) && fs.readFileSync(stoppedFile, 'utf8').trim(), 'the producer to stop vehicle_data');
  const stoppedAt = Number(fs.readFileSync(stoppedFile, 'utf8')) * 1000;
  await until(() => page.$(selector), 'the stall alert in the list', (maxSeconds + 30) * 1000);
  const delay = (Date.now() - stoppedAt) / 1000;
  check('a stall alert for the stopped topic shows within ' + maxSeconds + ' s', delay <= maxSeconds, delay.toFixed(1) + ' s');
  const row = await page.$eval(selector, (r) => r.textContent);
  check('the alert is listed with its time and message', /\d\d:\d\d:\d\d/.test(row) && /no vehicle_data event/.test(row), row);
  const banner = await page.$eval('#alert-banner', (b) => ({ hidden: b.hidden, text: b.textContent, cls: b.className }));
  check('the banner shows it', !banner.hidden && /vehicle_data/.test(banner.text) && /critical/.test(banner.cls), banner.text);
  const api = await page.evaluate(async () => (await fetch('/api/alerts')).json());
  check('/api/alerts has it active', api.alerts.some((a) => a.kind === 'stall' && a.subject === 'topic vehicle_data' && a.active),
      JSON.stringify(api.alerts.map((a) => a.kind + ':' + a.subject)));
  const metrics = await page.evaluate(async () => (await fetch('/metrics')).text());
  check('/metrics says smartcity_alert_active{kind="stall"} 1', metrics.includes('smartcity_alert_active{kind="stall"} 1'));

  fs.mkdirSync(path.dirname(screenshot), { recursive: true });
  await page.screenshot({ path: screenshot, fullPage: true });
  check('screenshot saved', fs.statSync(screenshot).size > 10_000, screenshot);
  check('no console errors', errors.length === 0, errors.join(' | '));
} catch (e) {
  check('alerts test ran to the end', false, e.message.split('\n')[0] + (errors.length ? ' | ' + errors.join(' | ') : ''));
} finally {
  await browser.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
console.log('alerts: ' + (checks - failures) + '/' + checks + ' checks passed');
process.exit(failures === 0 ? 0 : 1);
