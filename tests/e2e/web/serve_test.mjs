// `smartcity serve --lake` in real headless Chromium (Debian's), driven by playwright-core:
//   node serve_test.mjs URL LOCK_NOW_FILE LOCKED_FILE SCREENSHOT
// Checks the tables (rows committed, "produced" not applicable rather than 0, each table's newest
// event time from its files' statistics), the partition groups' watermarks (from the processor's
// offsets logs in the lake), the lake's commits, the warehouse's loads
// (only loads with rows, and totals); then creates LOCK_NOW_FILE (the script's helper takes the
// warehouse file's lock and creates LOCKED_FILE while it holds it): the page says busy and keeps
// the loads; once the lock is let go, the note goes. No console errors.
import fs from 'node:fs';
import path from 'node:path';

import { check, collectErrors, finish, launch, ranToTheEnd, until as waitFor } from './browser.mjs';

const [url, lockNow, locked, screenshot] = process.argv.slice(2);
const T = 60_000;

const until = (fn, what, timeout = T) => waitFor(fn, what, timeout, 200);

const { browser, close } = await launch();
const errors = [];
try {
  const page = await browser.newPage();
  collectErrors(page, errors);
  page.on('requestfailed', (r) => { if (!r.url().endsWith('/api/events')) errors.push('request failed: ' + r.url()); });
  await page.goto(url, { waitUntil: 'load', timeout: T });
  await until(() => page.evaluate(() => window.dashboard.updates > 0), 'the first update');

  const tables = await page.$$eval('#tables tbody tr', (rs) => rs.map((r) => Array.from(r.cells).map((c) => c.textContent)));
  const vehicle = tables.find((r) => r[0] === 'vehicle_data');
  check('tables are listed with their rows', tables.length === 8 && vehicle && Number(vehicle[2].replace(/,/g, '')) > 0, JSON.stringify(vehicle));
  check('"produced" is shown as not applicable, not 0', vehicle && vehicle[1] === 'n/a', JSON.stringify(vehicle));
  check('each table with rows shows its newest event time', tables.filter((r) => Number(r[2].replace(/,/g, '')) > 0)
      .every((r) => /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/.test(r[3])), JSON.stringify(tables.map((r) => r[0] + ' ' + r[3])));
  const status = await page.evaluate(async () => (await fetch('/api/status')).json());
  const groups = await page.$$eval('#groups tbody tr', (rs) => rs.map((r) => ({ cells: Array.from(r.cells).map((c) => c.textContent), wm: r.dataset.watermark })));
  // (3 vehicles, 6 partition groups: a group no vehicle's events reach has no watermark.)
  const shown = groups.filter((g) => g.cells[2] !== '-');
  check('the partition groups show their committed epoch and watermark from the lake',
      groups.length > 0 && groups.length === status.groups.length && groups.every((g) => Number(g.cells[1]) >= 1) &&
      shown.length > 0 && shown.every((g) => /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/.test(g.cells[2])),
      JSON.stringify(groups.map((g) => g.cells)));
  const newestVehicle = status.newestEventTime.vehicle_data;
  const marks = status.groups.filter((g) => g.watermark).map((g) => g.watermark);
  check('a group\'s watermark is not after the newest event of the lake', marks.length === shown.length && marks.every((w) => w <= newestVehicle),
      JSON.stringify(marks) + ' <= ' + newestVehicle);
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
  ranToTheEnd('serve', e, errors);
} finally {
  await close();
}
finish('serve');
