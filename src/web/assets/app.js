// The smartcity live view: draws /api/route once, then applies the updates of the /api/events
// Server-Sent Events stream (falling back to polling /api/* if the stream is refused). No
// dependencies, no network beyond this server.
'use strict';

const SVG = 'http://www.w3.org/2000/svg';
const TOPICS = ['vehicle_data', 'gps_data', 'traffic_data', 'weather_data', 'emergency_data'];
const COLORS = ['#4fb3ff', '#34c759', '#ffb020', '#b57bff', '#ff4d4f'];
const W = 1000, H = 700, MARGIN = 40;

const state = { project: null, selected: null, vehicles: new Map(), updates: 0, lastStatus: null };
// Exposed for tests and for operators poking at the console.
window.dashboard = state;

function el(id) { return document.getElementById(id); }
function svg(tag, attrs) {
  const n = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) n.setAttribute(k, v);
  return n;
}
function fmt(n) { return Number(n || 0).toLocaleString('en-GB'); }
function time(iso) { return iso ? iso.substring(11, 19) : '-'; }
function secs(s) {
  if (s === null || s === undefined) return '-';
  if (s < 1) return (s * 1000).toFixed(0) + ' ms';
  if (s < 120) return s.toFixed(1) + ' s';
  return (s / 60).toFixed(1) + ' min';
}
function esc(s) {
  return String(s === null || s === undefined ? '' : s).replace(/[&<>"']/g,
      (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}
function rows(tbody, list, cells) {
  tbody.innerHTML = list.map((x) => '<tr>' + cells(x).map((c) => '<td>' + c + '</td>').join('') + '</tr>').join('');
}

// ---- map -------------------------------------------------------------------------------------
// Hides the labels (SVG text, in priority order) whose boxes would overlap one shown before them or
// one of `shown` (boxes in the map's own units, so the result holds at any width).
function overlaps(a, b) {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}
function declutter(labels, shown) {
  const kept = shown ? shown.slice() : [];
  for (const t of labels) {
    t.removeAttribute('display');
    const b = t.getBBox();
    if (kept.some((k) => overlaps(k, b))) t.setAttribute('display', 'none');
    else kept.push(b);
  }
  return kept;
}
function makeProjection(points) {
  let minLat = Infinity, maxLat = -Infinity, minLon = Infinity, maxLon = -Infinity;
  for (const p of points) {
    minLat = Math.min(minLat, p.latitude); maxLat = Math.max(maxLat, p.latitude);
    minLon = Math.min(minLon, p.longitude); maxLon = Math.max(maxLon, p.longitude);
  }
  const k = Math.cos(((minLat + maxLat) / 2) * Math.PI / 180);  // equirectangular, true to scale mid-route
  const spanX = Math.max((maxLon - minLon) * k, 1e-6), spanY = Math.max(maxLat - minLat, 1e-6);
  const scale = Math.min((W - 2 * MARGIN) / spanX, (H - 2 * MARGIN) / spanY);
  const ox = (W - spanX * scale) / 2, oy = (H - spanY * scale) / 2;
  return (lat, lon) => [ox + (lon - minLon) * k * scale, oy + (maxLat - lat) * scale];
}

function drawRoute(route) {
  state.project = makeProjection(route.waypoints);
  const g = el('map-route');
  g.innerHTML = '';
  const pts = route.waypoints.map((w) => state.project(w.latitude, w.longitude));
  g.appendChild(svg('polyline', { class: 'route', points: pts.map((p) => p[0].toFixed(1) + ',' + p[1].toFixed(1)).join(' ') }));
  const labels = [];
  route.waypoints.forEach((w, i) => {
    const [x, y] = pts[i];
    g.appendChild(svg('circle', { class: 'waypoint', cx: x, cy: y, r: 3 }));
    const t = svg('text', { class: 'waypoint-label', x: x + 6, y: y - 6 });
    t.textContent = w.name;
    g.appendChild(t);
    // The ends first, then every third, then the rest where there is room.
    const rank = i === 0 || i === route.waypoints.length - 1 ? 0 : i % 3 === 0 ? 1 : 2;
    labels.push([rank, i, t]);
  });
  labels.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  state.routeLabelBoxes = declutter(labels.map((l) => l[2]));
  const cg = el('map-cameras');
  cg.innerHTML = '';
  for (const c of route.cameras) {
    const [x, y] = state.project(c.latitude, c.longitude);
    const r = svg('rect', { class: 'camera', x: x - 3, y: y - 3, width: 6, height: 6, 'data-camera': c.cameraId });
    const title = svg('title');
    title.textContent = c.cameraId;
    r.appendChild(title);
    cg.appendChild(r);
  }
  el('camera-count').textContent = route.cameras.length;
}

function tooltipFor(v) {
  const w = v.weather;
  return '<b>' + esc(v.deviceId) + '</b> ' + esc(v.make) + ' ' + esc(v.model) + '<br>' +
      'speed ' + v.speed.toFixed(1) + ' km/h ' + esc(v.direction) + '<br>' +
      (w ? 'weather ' + esc(w.weatherCondition) + ', ' + w.temperature.toFixed(1) + ' °C, AQI ' + w.airQualityIndex + '<br>' : 'weather -<br>') +
      'position at ' + esc(v.timestamp.substring(0, 19).replace('T', ' ')) + ' (event time)<br>' +
      'last update ' + esc(time(v.updatedAt)) + ' (wall clock)';
}

function showTooltip(marker, v) {
  const tip = el('tooltip');
  tip.innerHTML = tooltipFor(v);
  tip.hidden = false;
  const box = el('map').getBoundingClientRect();
  const m = marker.getBoundingClientRect();
  tip.style.left = Math.min(m.left - box.left + 12, box.width - 220) + 'px';
  tip.style.top = (m.top - box.top + 12) + 'px';
}

function drawVehicles(list) {
  if (!state.project) return;
  const g = el('map-vehicles');
  const seen = new Set();
  for (const v of list) {
    seen.add(v.deviceId);
    let m = g.querySelector('[data-device="' + CSS.escape(v.deviceId) + '"]');
    if (!m) {
      m = svg('circle', { class: 'vehicle-marker', r: 7, 'data-device': v.deviceId });
      m.addEventListener('mouseenter', () => showTooltip(m, state.vehicles.get(m.dataset.device)));
      m.addEventListener('mouseleave', () => { if (state.selected !== m.dataset.device) el('tooltip').hidden = true; });
      m.addEventListener('click', (e) => {
        e.stopPropagation();
        for (const s of g.querySelectorAll('.selected')) s.classList.remove('selected');
        state.selected = m.dataset.device;
        m.classList.add('selected');
        showTooltip(m, state.vehicles.get(m.dataset.device));
      });
      g.appendChild(m);
    }
    const [x, y] = state.project(v.latitude, v.longitude);
    m.setAttribute('cx', x.toFixed(2));
    m.setAttribute('cy', y.toFixed(2));
    m.dataset.lat = v.latitude;
    m.dataset.lon = v.longitude;
    state.vehicles.set(v.deviceId, v);
  }
  for (const m of Array.from(g.children)) {
    if (!seen.has(m.dataset.device)) { state.vehicles.delete(m.dataset.device); m.remove(); }
  }
  if (state.selected && state.vehicles.has(state.selected)) {
    const m = g.querySelector('[data-device="' + CSS.escape(state.selected) + '"]');
    if (m) showTooltip(m, state.vehicles.get(state.selected));
  }
  el('vehicle-count').textContent = list.length;
}

// Incidents are drawn above the vehicles (their layer is the map's last), newest first, each a
// focusable element (data-incident-id) with its type and age; markers closer than MIN_APART to
// one already placed move out along a spiral (a thin line joins them to the true position), so
// none hides another. A click (or Enter) opens the incident's details.
const MIN_APART = 24;
function ageText(s) {
  if (s === null || s === undefined) return '';
  if (s < 60) return Math.round(s) + ' s';
  if (s < 3600) return Math.round(s / 60) + ' min';
  return (s / 3600).toFixed(1) + ' h';
}
function incidentDetails(i) {
  return '<b>' + esc(i.type) + '</b> ' + esc(i.status) + '<br>' + esc(i.description) + '<br>' +
      'incident ' + esc(i.incidentId) + '<br>reported by ' + esc(i.deviceId) + '<br>' +
      'raised ' + esc(String(i.raisedAt).substring(0, 19).replace('T', ' ')) + ' (event time), ' +
      esc(ageText(i.ageSeconds)) + ' ago<br>' +
      'at ' + Number(i.latitude).toFixed(4) + ', ' + Number(i.longitude).toFixed(4);
}
function showIncident(marker, i) {
  const pop = el('incident-popup');
  pop.innerHTML = incidentDetails(i);
  pop.dataset.incidentId = i.incidentId;
  pop.hidden = false;
  const box = el('map').getBoundingClientRect();
  const m = marker.getBoundingClientRect();
  pop.style.left = Math.max(0, Math.min(m.left - box.left + 14, box.width - 260)) + 'px';
  pop.style.top = (m.top - box.top + 14) + 'px';
  state.selectedIncident = i.incidentId;
}

function drawIncidents(list) {
  if (!state.project) return;
  const g = el('map-incidents');
  g.innerHTML = '';
  const labels = svg('g', { class: 'incident-labels' });
  const markers = svg('g', { class: 'incident-markers' });
  g.appendChild(labels);
  g.appendChild(markers);
  const active = list.filter((i) => i.active)
      .sort((a, b) => (a.raisedAt < b.raisedAt ? 1 : a.raisedAt > b.raisedAt ? -1 : 0));
  state.incidents = new Map(active.map((i) => [i.incidentId, i]));
  const placed = [];
  for (const i of active) {
    const [x0, y0] = state.project(i.latitude, i.longitude);
    let x = x0, y = y0;
    for (let k = 1; k < 200 && placed.some((p) => Math.hypot(p[0] - x, p[1] - y) < MIN_APART); k++) {
      const a = k * 0.8, r = MIN_APART * (0.6 + k / 8);
      x = x0 + r * Math.cos(a); y = y0 + r * Math.sin(a);
    }
    placed.push([x, y]);
    const label = i.type + ' · ' + ageText(i.ageSeconds);
    const m = svg('g', { class: 'incident', 'data-incident-id': i.incidentId, tabindex: 0, role: 'button',
      'aria-label': 'incident ' + label + ': show details' });
    if (x !== x0 || y !== y0) labels.appendChild(svg('line', { class: 'incident-leader', x1: x0, y1: y0, x2: x, y2: y }));
    m.appendChild(svg('polygon', { points: [[x, y - 11], [x - 10, y + 7], [x + 10, y + 7]].map((q) => q[0].toFixed(1) + ',' + q[1].toFixed(1)).join(' ') }));
    const bang = svg('text', { class: 'incident-bang', x: x, y: y + 5 });
    bang.textContent = '!';
    m.appendChild(bang);
    const t = svg('text', { class: 'incident-label', x: x + 12, y: y - 8 });
    t.textContent = label;
    labels.appendChild(t);
    const open = (e) => { e.stopPropagation(); showIncident(m, state.incidents.get(m.dataset.incidentId) || i); };
    m.addEventListener('click', open);
    m.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); open(e); } });
    markers.appendChild(m);
  }
  const pop = el('incident-popup');
  if (!pop.hidden && pop.dataset.incidentId) {
    const i = state.incidents.get(pop.dataset.incidentId);
    const m = g.querySelector('[data-incident-id="' + CSS.escape(pop.dataset.incidentId) + '"]');
    if (i && m) showIncident(m, i); else pop.hidden = true;
  }
  declutter(Array.from(labels.querySelectorAll('.incident-label')), state.routeLabelBoxes || []);
  el('incident-count').textContent = active.length;
  el('incidents-empty').hidden = active.length > 0;
  rows(document.querySelector('#incidents tbody'), active,
      (i) => [esc(i.type), esc(ageText(i.ageSeconds)), esc(i.deviceId), esc(time(i.raisedAt)),
        '<span title="' + esc(i.incidentId) + '">' + esc(i.incidentId.substring(0, 8)) + '</span>']);
  for (const [n, tr] of Array.from(document.querySelectorAll('#incidents tbody tr')).entries()) {
    tr.dataset.incidentId = active[n].incidentId;
  }
}

function drawCameras(list) {
  // Cameras seen in the data (the route's fixed cameras are drawn from /api/route).
  for (const c of list) {
    const r = el('map-cameras').querySelector('[data-camera="' + CSS.escape(c.cameraId) + '"]');
    if (r) r.querySelector('title').textContent = c.cameraId + ': ' + fmt(c.passes) + ' vehicles seen, last ' + time(c.lastSeen);
  }
}

// ---- charts ----------------------------------------------------------------------------------
function setupCharts() {
  const box = el('charts');
  box.innerHTML = '';
  TOPICS.forEach((t, i) => {
    const row = document.createElement('div');
    row.className = 'chart';
    row.innerHTML = '<div style="color:' + COLORS[i] + '">' + t + '</div><canvas data-topic="' + t + '"></canvas><div class="now" data-now="' + t + '">0</div>';
    box.appendChild(row);
  });
}

function drawChart(canvas, values, color) {
  const dpr = window.devicePixelRatio || 1;
  const w = Math.max(1, Math.round(canvas.clientWidth * dpr)), h = Math.max(1, Math.round(canvas.clientHeight * dpr));
  if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
  const ctx = canvas.getContext('2d');
  ctx.clearRect(0, 0, w, h);
  const max = Math.max(1, ...values);
  const step = w / Math.max(1, values.length - 1);
  ctx.beginPath();
  values.forEach((v, i) => {
    const x = i * step, y = h - 2 - (v / max) * (h - 6);
    if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
  });
  ctx.strokeStyle = color;
  ctx.lineWidth = 1.5 * dpr;
  ctx.stroke();
  ctx.lineTo(w, h); ctx.lineTo(0, h); ctx.closePath();
  ctx.globalAlpha = 0.15; ctx.fillStyle = color; ctx.fill(); ctx.globalAlpha = 1;
  ctx.fillStyle = '#8196ab';
  ctx.font = (10 * dpr) + 'px sans-serif';
  ctx.fillText('max ' + fmt(max) + '/s', 4 * dpr, 11 * dpr);
}

function drawRates(rates) {
  let recent = 0;
  TOPICS.forEach((t, i) => {
    const values = rates.topics[t] || [];
    const canvas = document.querySelector('canvas[data-topic="' + t + '"]');
    // The sum plotted, for tests (a chart that moves has a changing sum).
    canvas.dataset.sum = values.reduce((a, b) => a + b, 0);
    drawChart(canvas, values, COLORS[i]);
    const last10 = values.slice(-10);  // complete seconds only (the API drops the current one)
    const rate = last10.reduce((a, b) => a + b, 0) / Math.max(1, last10.length);
    document.querySelector('[data-now="' + t + '"]').textContent = fmt(Math.round(rate)) + '/s';
    recent += rate;
  });
  el('events-rate').textContent = fmt(Math.round(recent));
}

// ---- status ----------------------------------------------------------------------------------
function drawStatus(s) {
  state.lastStatus = s;
  const h = el('health');
  const st = s.health.state;
  const age = s.checkpointAgeSeconds;
  let cls = 'ok', text = st;
  if (st === 'failed') { cls = 'bad'; text = 'failed: ' + (s.health.error || ''); }
  else if (st === 'running' && age !== null && age > 120) { cls = 'warn'; text = 'running, no commit for ' + secs(age); }
  else if (st === 'starting') { cls = 'warn'; }
  h.className = 'health ' + cls;
  h.textContent = text;
  el('mode').textContent = s.mode;
  el('lake').textContent = s.lake;
  el('updated').textContent = time(s.now);
  el('events-total').textContent = fmt(Object.values(s.eventsIn).reduce((a, b) => a + b, 0) || s.records);
  el('dead-letters').textContent = fmt(s.deadLettersTotal);
  el('late-events').textContent = fmt(s.lateEventsTotal);
  // Records with an implausible event time (a broken clock): quarantined, in _dead_letters.
  const q = el('quarantine');
  q.hidden = !s.quarantinedTotal;
  q.textContent = s.quarantinedTotal ? '⚠ ' + fmt(s.quarantinedTotal) +
    (s.quarantinedTotal === 1 ? ' record' : ' records') +
    ' quarantined for an implausible event time (in _dead_letters): ' + s.lastQuarantineReason : '';
  el('epochs').textContent = fmt(s.epochsCommitted);
  el('checkpoint-age').textContent = secs(age);
  rows(document.querySelector('#tables tbody'), Object.keys(s.rowsCommitted),
      (t) => [esc(t), fmt(s.rowsProduced[t]), fmt(s.rowsCommitted[t])]);
  rows(document.querySelector('#groups tbody'), s.groups,
      (g) => [g.group, g.committedEpoch, esc(g.watermark ? g.watermark.substring(0, 19).replace('T', ' ') : '-'),
        secs(g.watermarkLagSeconds)]);
  const behind = {};
  // null: the lag is unknown (the cluster cannot be reached), which is not 0.
  for (const i of s.inputs) {
    const known = i.recordsBehind !== null && behind[i.topic] !== null;
    behind[i.topic] = known ? (behind[i.topic] || 0) + i.recordsBehind : null;
  }
  rows(document.querySelector('#inputs tbody'), Object.keys(behind),
      (t) => [esc(t), behind[t] === null ? '?' : fmt(behind[t])]);
  rows(document.querySelector('#commits tbody'), s.commits.slice(0, 12),
      (c) => [esc(time(c.at)), esc(c.table ? c.table + ' v' + c.version : 'epoch, groups ' + c.groups.join(' ')) + (c.final ? ' (final)' : ''),
        fmt(c.totalRows), c.table ? '-' : c.latencyMs.toFixed(0) + ' ms']);
  // The warehouse's lag behind the lake: commits not loaded yet and the oldest one's age.
  const w = s.warehouse;
  const wl = el('warehouse-lag');
  if (!w) {
    wl.className = 'muted';
    wl.textContent = 'no warehouse loader in this pipeline';
  } else if (w.error) {
    wl.className = 'bad';
    wl.textContent = 'warehouse loader stopped: ' + w.error;
  } else if (w.lagVersions === null) {
    wl.className = 'warn';
    wl.textContent = 'warehouse lag unknown' + (w.retrying ? ' (retrying: ' + w.retrying + ')' : '');
  } else {
    wl.className = w.retrying || w.lagSeconds > 60 ? 'warn' : '';
    wl.textContent = 'warehouse lag ' + fmt(w.lagVersions) + (w.lagVersions === 1 ? ' commit' : ' commits') +
      (w.lagVersions > 0 ? ' ' + secs(w.lagSeconds) : '') + (w.retrying ? ' (retrying: ' + w.retrying + ')' : '');
  }
  wl.dataset.lagVersions = w && w.lagVersions !== null ? w.lagVersions : '';
  // Only loads that loaded rows (a pass over commits without rows loads nothing), with totals.
  const loads = (s.loads || []).filter((l) => l.rows > 0);
  const tables = s.loadTables || [];
  const totalRows = tables.reduce((a, t) => a + t.rows, 0);
  const totalLoads = tables.reduce((a, t) => a + t.loads, 0);
  el('load-totals').textContent = tables.length ? fmt(totalRows) + ' rows loaded in ' + fmt(totalLoads) +
      (totalLoads === 1 ? ' transaction' : ' transactions') + ' into ' + tables.length + (tables.length === 1 ? ' table' : ' tables') : '';
  el('load-totals').dataset.rows = totalRows;
  el('loads').textContent = loads.length ? '' : 'no warehouse load with rows yet (or no loader in this pipeline)';
  rows(document.querySelector('#load-list tbody'), loads.slice(0, 12),
      (l) => [esc(time(l.at)), esc(l.table),
        esc(l.firstVersion === l.lastVersion ? 'v' + l.lastVersion : 'v' + l.firstVersion + '..' + l.lastVersion),
        fmt(l.rows), esc(l.seconds.toFixed(2) + ' s')]);
}

// ---- alerts ----------------------------------------------------------------------------------
// A banner with the active alerts (critical first) and the list of recent ones with their times.
function drawAlerts(a) {
  if (!a) return;
  const list = a.alerts || [];
  const active = list.filter((x) => x.active);
  state.alerts = list;
  const banner = el('alert-banner');
  banner.hidden = active.length === 0;
  if (active.length) {
    const critical = active.some((x) => x.severity === 'critical');
    banner.className = 'alert-banner ' + (critical ? 'critical' : 'warning');
    const shown = active.slice().sort((x, y) => (x.severity === y.severity ? 0 : x.severity === 'critical' ? -1 : 1)).slice(0, 4);
    banner.innerHTML = '⚠ ' + active.length + (active.length === 1 ? ' alert' : ' alerts') + '<ul>' +
        shown.map((x) => '<li data-alert-kind="' + esc(x.kind) + '">' + esc(time(x.since)) + ' ' + esc(x.kind) + ': ' + esc(x.message) + '</li>').join('') +
        (active.length > shown.length ? '<li>… and ' + (active.length - shown.length) + ' more (see Alerts)</li>' : '') + '</ul>';
  }
  el('alert-count').textContent = active.length;
  el('alerts-empty').hidden = list.length > 0;
  const tbody = document.querySelector('#alerts tbody');
  rows(tbody, list.slice(0, 50), (x) => [esc(time(x.since)), esc(x.kind), esc(x.message),
    x.active ? esc(x.severity) : 'cleared ' + esc(time(x.clearedAt))]);
  Array.from(tbody.children).forEach((tr, n) => {
    tr.className = list[n].active ? list[n].severity : 'cleared';
    tr.dataset.alertKind = list[n].kind;
    tr.dataset.alertSubject = list[n].subject;
  });
}

function apply(u) {
  state.updates++;
  drawAlerts(u.alerts);
  drawVehicles(u.vehicles);
  drawIncidents(u.incidents);
  drawCameras(u.cameras);
  drawRates(u.rates);
  drawStatus(u.status);
}

// ---- data ------------------------------------------------------------------------------------
async function getJson(path) {
  const r = await fetch(path, { cache: 'no-store' });
  if (!r.ok) throw new Error(path + ': HTTP ' + r.status);
  return r.json();
}

async function poll() {
  try {
    const [v, i, r, s, a] = await Promise.all([getJson('/api/vehicles'), getJson('/api/incidents'),
      getJson('/api/rates?seconds=120'), getJson('/api/status'), getJson('/api/alerts')]);
    apply({ alerts: a, vehicles: v.vehicles, incidents: i.incidents, cameras: i.cameras, rates: r, status: s });
  } catch (e) {
    el('health').className = 'health bad';
    el('health').textContent = 'disconnected';
  }
}

function connect() {
  const es = new EventSource('/api/events');
  let opened = false;
  es.addEventListener('update', (e) => { opened = true; apply(JSON.parse(e.data)); });
  es.onerror = () => {
    if (!opened) {
      // Refused (too many streams) or not supported: poll instead.
      es.close();
      setInterval(poll, 2000);
      poll();
    } else {
      el('health').className = 'health unknown';
      el('health').textContent = 'reconnecting…';
    }
  };
}

async function main() {
  setupCharts();
  document.addEventListener('click', () => {
    state.selected = null;
    el('tooltip').hidden = true;
    el('incident-popup').hidden = true;
    for (const s of document.querySelectorAll('.vehicle-marker.selected')) s.classList.remove('selected');
  });
  try {
    drawRoute(await getJson('/api/route'));
  } catch (e) {
    el('health').className = 'health bad';
    el('health').textContent = 'cannot load the route';
    return;
  }
  connect();
}

main();
