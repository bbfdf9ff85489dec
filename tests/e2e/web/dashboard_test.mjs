// The live view in real headless Chromium (Debian's), driven by playwright-core:
//   node dashboard_test.mjs URL VEHICLES SCREENSHOT
// Checks: no console errors; one marker per vehicle; the markers move; the charts and counters
// increase; a hover shows the vehicle's details; every active incident is drawn on top and opens
// its details on a click; a new incident raises an alert in the banner and list; at 1400, 1024 and
// 390 px no horizontal overflow and no overlapping labels (from the layout); screenshots are saved
// (SCREENSHOT and SCREENSHOT-<width>.png).
import fs from 'node:fs';
import path from 'node:path';

import { check, collectErrors, finish, launch, ranToTheEnd, until as waitFor } from './browser.mjs';

const [url, vehiclesText, screenshot] = process.argv.slice(2);
const vehicles = Number(vehiclesText);
const T = 90_000;  // generous: a loaded 2-core machine

const MIN_INCIDENTS = 3;  // active at once before the incident checks (--incident-rate in the script)
const until = (fn, what, timeout = T) => waitFor(fn, what, timeout, 300);

const { browser, close } = await launch();
const errors = [];
try {
  const page = await browser.newPage();
  collectErrors(page, errors);
  page.on('requestfailed', (r) => {
    // The event stream is cut when the page closes; anything else failing is an error.
    if (!r.url().endsWith('/api/events')) errors.push('request failed: ' + r.url());
  });

  await page.goto(url, { waitUntil: 'load', timeout: T });
  await page.waitForFunction((n) => document.querySelectorAll('#map-vehicles .vehicle-marker').length === n,
      vehicles, { timeout: T });
  const markers = await page.$$eval('#map-vehicles .vehicle-marker', (ms) => ms.length);
  check('one marker per vehicle', markers === vehicles, markers + ' markers, ' + vehicles + ' vehicles');
  const routePoints = await page.$eval('#map-route polyline', (p) => p.getAttribute('points').split(' ').length);
  check('the route is drawn', routePoints > 5, routePoints + ' points');

  const positions = () => page.$$eval('#map-vehicles .vehicle-marker',
      (ms) => Object.fromEntries(ms.map((m) => [m.dataset.device, [m.getAttribute('cx'), m.getAttribute('cy')]])));
  const counters = () => page.evaluate(() => ({
    events: Number(document.getElementById('events-total').textContent.replace(/,/g, '')),
    epochs: Number(document.getElementById('epochs').textContent.replace(/,/g, '')),
    chart: Array.from(document.querySelectorAll('#charts canvas')).reduce((a, c) => a + Number(c.dataset.sum || 0), 0),
    updates: window.dashboard.updates,
  }));
  const first = await positions();
  const before = await counters();
  // Every vehicle moves: wait until each marker's position differs from the first snapshot.
  await page.waitForFunction((snap) => {
    const ms = Array.from(document.querySelectorAll('#map-vehicles .vehicle-marker'));
    return ms.length === Object.keys(snap).length && ms.every((m) => {
      const p = snap[m.dataset.device];
      return p && (p[0] !== m.getAttribute('cx') || p[1] !== m.getAttribute('cy'));
    });
  }, first, { timeout: T, polling: 250 });
  const second = await positions();
  const moved = Object.keys(first).filter((d) => second[d] && (second[d][0] !== first[d][0] || second[d][1] !== first[d][1]));
  check('every marker moved between two snapshots', moved.length === vehicles, moved.length + '/' + vehicles);

  await page.waitForFunction((b) => {
    const events = Number(document.getElementById('events-total').textContent.replace(/,/g, ''));
    const chart = Array.from(document.querySelectorAll('#charts canvas')).reduce((a, c) => a + Number(c.dataset.sum || 0), 0);
    return events > b.events && chart > b.chart && window.dashboard.updates > b.updates;
  }, before, { timeout: T, polling: 250 });
  const after = await counters();
  check('the event counter increases', after.events > before.events, before.events + ' -> ' + after.events);
  check('the rate charts increase', after.chart > before.chart, before.chart + ' -> ' + after.chart);
  check('live updates arrive without a reload', after.updates > before.updates, before.updates + ' -> ' + after.updates);
  const health = await page.$eval('#health', (h) => h.className + ' ' + h.textContent);
  check('the health indicator shows the pipeline running', /ok running/.test(health), health);
  const tables = await page.$$eval('#tables tbody tr', (r) => r.length);
  check('rows per table are listed', tables === 8, tables + ' tables');

  // Hover: the marker's details.
  const device = Object.keys(second)[0];
  await page.hover('#map-vehicles .vehicle-marker[data-device="' + device + '"]', { force: true });
  await page.waitForSelector('#tooltip:not([hidden])', { timeout: T });
  const tip = await page.$eval('#tooltip', (t) => t.textContent);
  check('hovering a marker shows device, speed, weather and last update',
      tip.includes(device) && tip.includes('km/h') && tip.includes('weather') && tip.includes('last update'), tip);

  // Incidents: every active one of /api/incidents has its own map element, on top at its centre
  // (by element, not by pixels), and a click shows its details. An incident active at two fetches
  // was active in between, so the page's drawing from an update taken between them must show it.
  const activeIds = () => page.evaluate(async () => {
    const j = await (await fetch('/api/incidents', { cache: 'no-store' })).json();
    return j.incidents.filter((i) => i.active).map((i) => i.incidentId);
  });
  await until(async () => (await activeIds()).length >= MIN_INCIDENTS, 'at least ' + MIN_INCIDENTS + ' active incidents');
  const ids1 = await activeIds();
  const u1 = await page.evaluate(() => window.dashboard.updates);
  await page.waitForFunction((u) => window.dashboard.updates >= u + 2, u1, { timeout: T, polling: 100 });
  const onMap = await page.evaluate(() => Array.from(document.querySelectorAll('#map-incidents [data-incident-id]')).map((m) => {
    const r = m.getBoundingClientRect();
    const cx = r.left + r.width / 2, cy = r.top + r.height / 2 + r.height * 0.1;  // the triangle's middle
    const top = document.elementFromPoint(cx, cy);
    const hit = top && top.closest('[data-incident-id]');
    return { id: m.dataset.incidentId, visible: r.width > 0 && r.height > 0 && getComputedStyle(m).visibility !== 'hidden',
      onTop: hit === m, label: m.getAttribute('aria-label') };
  }));
  const ids2 = await activeIds();
  const both = ids1.filter((id) => ids2.includes(id));
  const drawn = new Map(onMap.map((m) => [m.id, m]));
  const missing = both.filter((id) => !drawn.has(id) || !drawn.get(id).visible);
  const hidden = both.filter((id) => drawn.has(id) && !drawn.get(id).onTop);
  check('every active incident has a visible map element', both.length > 0 && missing.length === 0,
      both.length + ' active, missing ' + JSON.stringify(missing));
  check('every incident marker is on top at its centre', hidden.length === 0, 'covered: ' + JSON.stringify(hidden));
  check('incident markers carry type and age', onMap.every((m) => /incident .+ · \d/.test(m.label)), onMap.map((m) => m.label).join(' | '));
  const listed = await page.$$eval('#incidents tbody tr', (rs) => rs.map((r) => r.dataset.incidentId));
  check('the incidents panel lists every active incident', both.every((id) => listed.includes(id)),
      listed.length + ' listed, ' + both.length + ' active');
  // Click one (a real mouse click at its centre): the popup shows its details.
  const target = both[0];
  const box = await page.evaluate((id) => {
    const m = document.querySelector('#map-incidents [data-incident-id="' + id + '"]');
    const r = m.getBoundingClientRect();
    return { x: r.left + r.width / 2, y: r.top + r.height * 0.6 };
  }, target);
  await page.mouse.click(box.x, box.y);
  await page.waitForSelector('#incident-popup:not([hidden])', { timeout: 10_000 });
  const popup = await page.$eval('#incident-popup', (p) => p.textContent);
  check('clicking an incident shows its details', popup.includes(target) && /raised/.test(popup), popup);

  // Alerts: a newly raised incident raises an alert, visible in the banner and the list.
  const seen = new Set(ids2);
  const raisedAt = Date.now();
  const freshId = await until(async () => {
    const fresh = (await activeIds()).filter((id) => !seen.has(id));
    return page.evaluate((ids) => ids.find((id) => document.querySelector(
        '#alerts tbody tr[data-alert-kind="incident"][data-alert-subject="' + id + '"]')), fresh);
  }, 'a new incident shown as an alert');
  check('a new incident shows as an alert in the list', !!freshId, freshId + ' after ' + (Date.now() - raisedAt) + ' ms');
  const banner = await page.$eval('#alert-banner', (b) => ({ hidden: b.hidden, text: b.textContent }));
  check('a new incident raises an alert shown in the banner', !banner.hidden && /incident/.test(banner.text), banner.text);
  const alertRow = await page.$$eval('#alerts tbody tr[data-alert-kind="incident"]', (rs) => rs.length && rs[0].textContent);
  check('the alert list shows the incident alert with its time', /\d\d:\d\d:\d\d/.test(alertRow || ''), alertRow);
  const apiAlerts = await page.evaluate(async () => (await fetch('/api/alerts')).json());
  check('/api/alerts lists it', apiAlerts.alerts.some((a) => a.kind === 'incident' && a.active), apiAlerts.active + ' active');

  fs.mkdirSync(path.dirname(screenshot), { recursive: true });
  await page.screenshot({ path: screenshot, fullPage: true });

  // Layout at 1400, 1024 and 390 px: no horizontal overflow, no two visible labels overlapping
  // (map labels, counter labels, panel titles, legend), checked from the layout; a screenshot each.
  for (const width of [1400, 1024, 390]) {
    await page.setViewportSize({ width, height: 1000 });
    const u = await page.evaluate(() => window.dashboard.updates);
    await page.waitForFunction((n) => window.dashboard.updates >= n + 2, u, { timeout: T, polling: 100 });
    const layout = await page.evaluate(() => {
      const boxes = [];
      for (const e of document.querySelectorAll('#map text.waypoint-label, #map text.incident-label, .counter .label, h2, .legend > span')) {
        if (e.closest('[display="none"]') || e.getAttribute('display') === 'none') continue;
        const r = e.getBoundingClientRect();
        if (r.width === 0 || r.height === 0) continue;
        boxes.push({ text: e.textContent.slice(0, 30), x: r.left + window.scrollX, y: r.top + window.scrollY, w: r.width, h: r.height });
      }
      const clash = [];
      for (let i = 0; i < boxes.length; i++) {
        for (let j = i + 1; j < boxes.length; j++) {
          const a = boxes[i], b = boxes[j], eps = 0.5;
          if (a.x + eps < b.x + b.w && b.x + eps < a.x + a.w && a.y + eps < b.y + b.h && b.y + eps < a.y + a.h)
            clash.push(a.text + ' / ' + b.text);
        }
      }
      return { scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth, labels: boxes.length, clash };
    });
    check('no horizontal overflow at ' + width + ' px', layout.scrollWidth <= layout.innerWidth, layout.scrollWidth + ' <= ' + layout.innerWidth);
    check('no overlapping labels at ' + width + ' px', layout.clash.length === 0,
        layout.labels + ' labels' + (layout.clash.length ? ', overlapping: ' + layout.clash.slice(0, 5).join(' | ') : ''));
    const shot = screenshot.replace(/\.png$/, '-' + width + '.png');
    await page.screenshot({ path: shot, fullPage: true });
    check('screenshot at ' + width + ' px saved', fs.statSync(shot).size > 10_000, shot);
  }
  check('screenshot saved', fs.statSync(screenshot).size > 10_000, screenshot);
  check('no console errors', errors.length === 0, errors.join(' | '));
} catch (e) {
  ranToTheEnd('dashboard', e, errors);
} finally {
  await close();
}
finish('dashboard');
