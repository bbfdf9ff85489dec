// `smartcity serve --lake` in real headless Chromium (Debian's), driven by playwright-core:
//   node serve_test.mjs URL LOCK_NOW_FILE LOCKED_FILE SCREENSHOT
// Checks the tables (rows produced = committed, not 0), the lake's commits, the warehouse's loads
// (only loads with rows, and totals); then creates LOCK_NOW_FILE (the script's helper takes the
// warehouse file's lock and creates LOCKED_FILE while it holds it): the page says busy and keeps
// the loads; once the lock is let go, the note goes. No console errors.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const require = createRequire(import.meta.url);
const { chromium } = require(path.join(process.env.NODE_PATH, 'playwright-core'));
const [url, lockNow, locked, screenshot] = process.argv.slice(2);
const T = 60_000;

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
try {
  const page = await browser.newPage();
  page.on('console', (m) => { if (m.type() === 'error') errors.push('console: ' + m.text()); });
  page.on('pageerror', (e) => errors.push('page error: ' + e.message));
  page.on('requestfailed', (r) => { if (!r.url().endsWith('/api/events')) errors.push('request failed: ' + r.url()); });
  await page.goto(url, { waitUntil: 'load', timeout: T });
  await until(() => page.evaluate(() => window.dashboard.updates > 0), 'the first update');

  const tables = await page.$$eval('#tables tbody tr', (rs) => rs.map((r) => Array.from(r.cells).map((c) => c.textContent)));
  const vehicle = tables.find((r) => r[0] === 'vehicle_data');
  check('tables are listed with their rows', tables.length === 8 && vehicle && Number(vehicle[2].replace(/,/g, '')) > 0, JSON.stringify(vehicle));
  check('"produced" is what the lake holds, not 0', vehicle && vehicle[1] === vehicle[2], JSON.stringify(vehicle));
  const commits = await page.$$eval('#commits tbody tr', (rs) => rs.map((r) => r.textContent));
  check('the lake\'s commits are listed', commits.length > 0 && commits.some((c) => / v\d/.test(c)), commits.length + ' rows');
  const loads = await page.$$eval('#load-list tbody tr', (rs) => rs.map((r) => Array.from(r.cells).map((c) => c.textContent)));
  check('the warehouse\'s loads are listed, each with rows', loads.length > 0 && loads.every((l) => Number(l[3].replace(/,/g, '')) > 0), JSON.stringify(loads.slice(0, 3)));
  const totals = await page.$eval('#load-totals', (t) => ({ text: t.textContent, rows: Number(t.dataset.rows) }));
  check('load totals are shown', totals.rows > 0 && /rows loaded in/.test(totals.text), totals.text);
  const noLoad = await page.$eval('#loads', (t) => t.textContent);
  check('no "no warehouse load yet"', noLoad === '', noLoad);

  fs.writeFileSync(lockNow, '');
  await until(() => fs.existsSync(locked), 'the lock holder');
  const busy = await until(() => page.evaluate(() => {
    const t = document.getElementById('warehouse-lag').textContent;
    return /busy/.test(t) && t;
  }), 'the busy note', 10_000);
  const keptLoads = await page.$$eval('#load-list tbody tr', (rs) => rs.length);
  check('a locked warehouse shows as busy, loads kept', keptLoads === loads.length, busy + '; ' + keptLoads + ' loads');
  await until(() => !fs.existsSync(locked), 'the lock to be let go', 20_000);
  const after = await until(() => page.evaluate(() => {
    const t = document.getElementById('warehouse-lag').textContent;
    return !/busy/.test(t) && t;
  }), 'the busy note to go', 10_000);
  check('after the lock is let go the note goes', true, after);

  fs.mkdirSync(path.dirname(screenshot), { recursive: true });
  await page.screenshot({ path: screenshot, fullPage: true });
  check('screenshot saved', fs.statSync(screenshot).size > 10_000, screenshot);
  check('no console errors', errors.length === 0, errors.join(' | '));
} catch (e) {
  check('serve test ran to the end', false, e.message.split('\n')[0] + (errors.length ? ' | ' + errors.join(' | ') : ''));
} finally {
  await browser.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
console.log('serve: ' + (checks - failures) + '/' + checks + ' checks passed');
process.exit(failures === 0 ? 0 : 1);
