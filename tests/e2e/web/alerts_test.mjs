// The stall alert in real headless Chromium (Debian's), driven by playwright-core:
//   node alerts_test.mjs URL STOPPED_FILE MAX_SECONDS SCREENSHOT
// STOPPED_FILE gets the Unix time the vehicle_data producer stopped; the page must then show a
// stall alert for that topic (banner and list, with its time) within MAX_SECONDS, and
// /api/alerts and /metrics must agree. No console errors.
import fs from 'node:fs';
import path from 'node:path';

import { check, collectErrors, finish, launch, ranToTheEnd, until as waitFor } from './browser.mjs';

const [url, stoppedFile, maxText, screenshot] = process.argv.slice(2);
const maxSeconds = Number(maxText);
const T = 120_000;

const until = (fn, what, timeout = T) => waitFor(fn, what, timeout, 200);

const { browser, close } = await launch();
const errors = [];
const base = url.replace(/\/$/, '');
try {
  const page = await browser.newPage();
  collectErrors(page, errors);
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
  ranToTheEnd('alerts', e, errors);
} finally {
  await close();
}
finish('alerts');
