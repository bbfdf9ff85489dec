// The live view in real headless Chromium (Debian's), driven by playwright-core:
//   node dashboard_test.mjs URL VEHICLES SCREENSHOT
// Checks: no console errors; one marker per vehicle; the markers move; the charts and counters
// increase; a hover shows the vehicle's details; every active incident is drawn on top and opens
// its details on a click; a new incident raises an alert in the banner and list; at 1400, 1024 and
// 390 px no horizontal overflow and no overlapping labels (from the layout); screenshots are saved
// (SCREENSHOT and SCREENSHOT-<width>.png). The map: its context (cities, towns, junctions, roads from
// the route's own data) and a scale bar; pan and zoom by buttons, keyboard, wheel and drag change
// the view's transform; vehicles coloured by direction or speed; a selected vehicle's trail. The
// live watermark moves between two commits. Accessibility: names on the controls and the map,
// keyboard focus, and a contrast of at least 4.5:1 for every visible text (from computed styles).
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

  // Hover: the marker's details (a marker no incident covers: incidents are drawn on top).
  const device = await until(() => page.evaluate(() => {
    for (const m of document.querySelectorAll('#map-vehicles .vehicle-marker')) {
      const r = m.getBoundingClientRect();
      if (document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2) === m) return m.dataset.device;
    }
    return null;
  }), 'a vehicle marker not covered by an incident');
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


  // ---- the live watermark: it moves between two commits (same committed epoch, later watermark).
  const liveMove = await until(async () => {
    const a = await page.evaluate(async () => (await fetch('/api/status', { cache: 'no-store' })).json());
    await new Promise((r) => setTimeout(r, 300));
    const b = await page.evaluate(async () => (await fetch('/api/status', { cache: 'no-store' })).json());
    const moved = b.groups.find((g) => {
      const before = a.groups.find((x) => x.group === g.group);
      return before && before.committedEpoch === g.committedEpoch && before.liveWatermark && g.liveWatermark &&
          g.liveWatermark > before.liveWatermark && before.watermark === g.watermark;
    });
    return moved && { group: moved.group, epoch: moved.committedEpoch, from: a.groups.find((x) => x.group === moved.group).liveWatermark, to: moved.liveWatermark };
  }, 'the live watermark to move within one epoch');
  check('the live watermark moves between two commits', !!liveMove, JSON.stringify(liveMove));
  const shownWatermark = await page.$$eval('#groups tbody tr', (rs) => rs.map((r) => ({ live: r.dataset.live, text: r.cells[2].textContent, lag: r.cells[3].textContent })));
  // (A group no vehicle's events reach has no watermark yet: "-".)
  const withData = shownWatermark.filter((g) => g.text !== '-');
  check('the page shows the live watermark and its lag', withData.length > 0 && withData.every((g) => g.live === '1' && /\d\d:\d\d:\d\d/.test(g.text) && g.lag !== '-'),
      JSON.stringify(shownWatermark));

  // ---- the map's context: cities, towns, junctions and roads from the route's data; a scale bar.
  const context = await page.evaluate(() => {
    const visible = (e) => e.getAttribute('display') !== 'none' && e.getBoundingClientRect().width > 0;
    const labels = (kind) => Array.from(document.querySelectorAll('#map-labels text[data-kind="' + kind + '"]'));
    return {
      cities: Array.from(document.querySelectorAll('#map-places circle.city')).map((c) => c.dataset.place),
      cityLabels: labels('city').filter(visible).map((t) => t.textContent),
      towns: labels('town').length, visibleTowns: labels('town').filter(visible).length,
      junctions: labels('junction').length,
      motorways: Array.from(document.querySelectorAll('#map-roads .road.motorway')).map((r) => r.dataset.road),
      roadLabels: labels('road').filter(visible).map((t) => t.textContent),
      scaleKm: Number(document.getElementById('scale-bar').dataset.km),
      scaleText: document.querySelector('#scale-bar span').textContent,
      scalePx: document.querySelector('#scale-bar .bar').getBoundingClientRect().width,
    };
  });
  check('the map names the cities at both ends', ['London', 'Birmingham'].every((c) => context.cities.includes(c) && context.cityLabels.includes(c)),
      JSON.stringify(context.cities) + ' labels ' + JSON.stringify(context.cityLabels));
  check('the map has towns and junctions', context.towns >= 5 && context.visibleTowns >= 3 && context.junctions >= 10,
      context.towns + ' towns (' + context.visibleTowns + ' labelled), ' + context.junctions + ' junctions');
  check('the motorways are drawn and labelled', context.motorways.includes('M40') && context.roadLabels.includes('M40'),
      JSON.stringify(context.motorways) + ' labels ' + JSON.stringify(context.roadLabels));
  check('a scale bar shows a round distance', context.scaleKm > 0 && context.scaleText === context.scaleKm + ' km' && context.scalePx >= 55 && context.scalePx <= 160,
      context.scaleText + ', ' + context.scalePx.toFixed(0) + ' px');

  // ---- pan and zoom: buttons, keyboard, wheel and drag change the view's transform.
  const view = () => page.$eval('#map-view', (g) => g.getAttribute('transform'));
  const v0 = await view();
  await page.click('#zoom-in');
  const v1 = await view();
  check('the zoom-in button zooms the map', v1 !== v0 && /scale\(1\.5/.test(v1), v0 + ' -> ' + v1);
  const km1 = await page.$eval('#scale-bar', (b) => Number(b.dataset.km));
  check('the scale bar follows the zoom', km1 < context.scaleKm, context.scaleKm + ' km -> ' + km1 + ' km');
  await page.focus('#map');
  await page.keyboard.press('ArrowLeft');
  const v2 = await view();
  check('the arrow keys pan the focused map', v2 !== v1 && /scale\(1\.5/.test(v2), v1 + ' -> ' + v2);
  await page.keyboard.press('+');
  const v3 = await view();
  check('the + key zooms in', /scale\(2\.25/.test(v3), v3);
  const mapBox = await page.$eval('#map', (m) => { const r = m.getBoundingClientRect(); return { x: r.left + r.width / 2, y: r.top + r.height / 2 }; });
  await page.mouse.move(mapBox.x, mapBox.y);
  await page.mouse.wheel(0, -200);
  await page.waitForFunction((v) => document.getElementById('map-view').getAttribute('transform') !== v, v3, { timeout: 10_000 });
  const v4 = await view();
  check('the mouse wheel zooms', v4 !== v3, v3 + ' -> ' + v4);
  await page.mouse.move(mapBox.x, mapBox.y);
  await page.mouse.down();
  await page.mouse.move(mapBox.x + 80, mapBox.y + 40, { steps: 5 });
  await page.mouse.up();
  const v5 = await view();
  check('dragging pans the map', v5 !== v4 && v5.split('scale')[1] === v4.split('scale')[1], v4 + ' -> ' + v5);
  const zoomedClash = await page.evaluate(() => {
    const boxes = Array.from(document.querySelectorAll('#map text.map-label, #map text.incident-label'))
        .filter((e) => e.getAttribute('display') !== 'none' && !e.closest('[display="none"]'))
        .map((e) => e.getBoundingClientRect()).filter((r) => r.width > 0);
    let n = 0;
    for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i], b = boxes[j];
      if (a.left + 0.5 < b.right && b.left + 0.5 < a.right && a.top + 0.5 < b.bottom && b.top + 0.5 < a.bottom) n++;
    }
    return { labels: boxes.length, overlaps: n };
  });
  check('zoomed in, labels still do not overlap', zoomedClash.overlaps === 0, JSON.stringify(zoomedClash));
  await page.click('#zoom-reset');
  check('the reset button shows the whole route again', (await view()) === 'translate(0.00 0.00) scale(1.0000)', await view());

  // ---- vehicles coloured by direction (both directions are told apart) or by speed.
  const colours = () => page.$$eval('#map-vehicles .vehicle-marker', (ms) => ms.map((m) => m.getAttribute('class')));
  const byDirection = await colours();
  check('vehicles are coloured by direction of travel', byDirection.length > 0 && byDirection.every((c) => /dir-(birmingham|london)/.test(c)),
      JSON.stringify(byDirection));
  await page.selectOption('#colour-by', 'speed');
  const bySpeed = await colours();
  check('or by speed', bySpeed.every((c) => /speed-(slow|medium|fast)/.test(c)) && !(await page.$eval('#legend-speed', (l) => l.hidden)),
      JSON.stringify(bySpeed));
  await page.selectOption('#colour-by', 'direction');

  // ---- a selected vehicle's trail.
  const chosen = Object.keys(second)[1] || device;
  await page.$eval('#map-vehicles .vehicle-marker[data-device="' + chosen + '"]', (m) => m.dispatchEvent(new MouseEvent('click', { bubbles: true })));
  const trail = await until(() => page.evaluate(() => {
    const t = document.querySelector('#map-trail polyline');
    return t && Number(t.dataset.points) >= 3 && { device: t.dataset.device, points: t.getAttribute('points').split(' ').length };
  }), 'the selected vehicle\'s trail');
  check('a selected vehicle shows its trail', trail.device === chosen && trail.points >= 3, JSON.stringify(trail));
  await page.mouse.click(5, 5);  // a click elsewhere deselects: the trail goes
  const trailGone = await page.$$eval('#map-trail polyline', (ls) => ls.length);
  check('deselecting removes the trail', trailGone === 0, trailGone + ' trails');

  // ---- accessibility: names and roles, keyboard focus.
  const a11y = await page.evaluate(() => {
    const unnamed = Array.from(document.querySelectorAll('button, select, [role="button"], [tabindex="0"]'))
        .filter((e) => !(e.getAttribute('aria-label') || '').trim() && !(e.textContent || '').trim()).map((e) => e.outerHTML.slice(0, 60));
    const map = document.getElementById('map');
    return { unnamed, mapRole: map.getAttribute('role'), mapLabel: map.getAttribute('aria-label'), mapTab: map.tabIndex,
      toolbar: !!document.querySelector('[role="toolbar"][aria-label]') };
  });
  check('every control has an accessible name', a11y.unnamed.length === 0, JSON.stringify(a11y.unnamed));
  check('the map has a role, a name and keyboard focus', !!a11y.mapRole && !!a11y.mapLabel && a11y.mapTab === 0 && a11y.toolbar, JSON.stringify(a11y));
  await page.focus('#map');
  await page.keyboard.press('Tab');
  const focused = await page.evaluate(() => document.activeElement && (document.activeElement.id || document.activeElement.getAttribute('aria-label')));
  check('Tab moves from the map to its controls', /zoom|incident/.test(focused || ''), focused);

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
      for (const e of document.querySelectorAll('#map text.map-label, #map text.incident-label, .counter .label, h2, .legend > span, .legend > label')) {
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
      // Map labels readable: at least 9 px tall on screen.
      const small = Array.from(document.querySelectorAll('#map text.map-label, #map text.incident-label'))
          .filter((e) => e.getAttribute('display') !== 'none' && !e.closest('[display="none"]'))
          .map((e) => [e.textContent, e.getBoundingClientRect().height]).filter(([, h]) => h > 0 && h < 9);
      const mapBox = document.getElementById('map').getBoundingClientRect();
      const clipped = Array.from(document.querySelectorAll('#map text.map-label'))
          .filter((e) => e.getAttribute('display') !== 'none').map((e) => [e.textContent, e.getBoundingClientRect()])
          .filter(([, r]) => r.left < mapBox.left - 0.5 || r.right > mapBox.right + 0.5 || r.top < mapBox.top - 0.5 || r.bottom > mapBox.bottom + 0.5)
          .map(([t]) => t);
      const cities = Array.from(document.querySelectorAll('#map-labels text[data-kind="city"]'))
          .filter((e) => e.getAttribute('display') !== 'none').map((e) => e.textContent);
      // Contrast of every visible text against its background (computed styles; semi-transparent
      // backgrounds blended over their parents'), WCAG's relative luminance.
      const parse = (c) => {
        const m = /rgba?\(([^)]+)\)/.exec(c || '');
        if (!m) return null;
        const p = m[1].split(/[\s,/]+/).filter(Boolean).map(Number);
        return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
      };
      const lum = (c) => {
        const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
        return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
      };
      const background = (e) => {
        const chain = [];
        for (let n = e; n && n.nodeType === 1; n = n.parentElement) chain.push(n);
        let bg = [255, 255, 255];
        for (const n of chain.reverse()) {
          const c = parse(getComputedStyle(n).backgroundColor);
          if (c && c[3] > 0) bg = [0, 1, 2].map((i) => c[i] * c[3] + bg[i] * (1 - c[3]));
        }
        return bg;
      };
      const lowContrast = [];
      let texts = 0;
      for (const e of document.querySelectorAll('body *')) {
        if (['SCRIPT', 'STYLE', 'CANVAS', 'OPTION', 'title'].includes(e.tagName)) continue;
        if (!Array.from(e.childNodes).some((n) => n.nodeType === 3 && n.textContent.trim())) continue;
        if (e.closest('[hidden], [display="none"]') || e.getClientRects().length === 0) continue;
        const cs = getComputedStyle(e);
        if (cs.visibility === 'hidden' || cs.display === 'none') continue;
        const fg = parse(e instanceof SVGElement ? cs.fill : cs.color);
        if (!fg) continue;
        const bg = background(e);
        const l1 = lum(fg), l2 = lum(bg);
        const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
        texts++;
        if (ratio < 4.5) lowContrast.push(e.textContent.trim().slice(0, 20) + ' ' + ratio.toFixed(2));
      }
      return { scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth, labels: boxes.length, clash,
        small, clipped, cities, texts, lowContrast };
    });
    check('no horizontal overflow at ' + width + ' px', layout.scrollWidth <= layout.innerWidth, layout.scrollWidth + ' <= ' + layout.innerWidth);
    check('no overlapping labels at ' + width + ' px', layout.clash.length === 0,
        layout.labels + ' labels' + (layout.clash.length ? ', overlapping: ' + layout.clash.slice(0, 5).join(' | ') : ''));
    check('map labels are readable at ' + width + ' px', layout.small.length === 0, JSON.stringify(layout.small.slice(0, 5)));
    check('no map label is cut off by the map\'s edge at ' + width + ' px', layout.clipped.length === 0, JSON.stringify(layout.clipped));
    check('London and Birmingham are labelled at ' + width + ' px', layout.cities.includes('London') && layout.cities.includes('Birmingham'), JSON.stringify(layout.cities));
    check('every text has a contrast of at least 4.5:1 at ' + width + ' px', layout.texts > 50 && layout.lowContrast.length === 0,
        layout.texts + ' texts' + (layout.lowContrast.length ? ', low: ' + layout.lowContrast.slice(0, 8).join(' | ') : ''));
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
