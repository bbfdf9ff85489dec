// The smartcity live view: draws /api/route once, then applies the updates of the /api/events
// Server-Sent Events stream (falling back to polling /api/* if the stream is refused). No
// dependencies, no network beyond this server.
'use strict';

const SVG = 'http://www.w3.org/2000/svg';
const TOPICS = ['vehicle_data', 'gps_data', 'traffic_data', 'weather_data', 'emergency_data'];
const COLORS = ['#4fb3ff', '#34c759', '#ffb020', '#b57bff', '#ff4d4f'];
const W = 1000, H = 700, MARGIN = 40;

const state = { project: null, selected: null, vehicles: new Map(), updates: 0, lastStatus: null,
  view: { x: 0, y: 0, k: 1 }, unit: 1, trails: new Map(), colourBy: 'direction' };
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
function stamp(iso) { return iso ? iso.substring(0, 19).replace('T', ' ') : '-'; }
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
// The map's context comes from /api/route (the route's own waypoints: its roads, cities, towns,
// junctions and districts; nothing from outside). Everything is drawn in the map's own units (the
// SVG's viewBox, 1000 x 700) inside #map-view, whose transform is the pan and zoom. Sizes that
// should stay the same on screen (labels, markers) are set in units per screen pixel (state.unit),
// recomputed on every resize and zoom, and the labels decluttered again.

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
    // A little air around each label.
    const pad = 2 * (state.unit || 1);
    const box = { x: b.x - pad, y: b.y - pad, width: b.width + 2 * pad, height: b.height + 2 * pad };
    if (kept.some((k) => overlaps(k, box))) t.setAttribute('display', 'none');
    else kept.push(box);
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
  const project = (lat, lon) => [ox + (lon - minLon) * k * scale, oy + (maxLat - lat) * scale];
  project.kmPerUnit = 111.32 / scale;  // a degree of latitude is 111.32 km
  return project;
}

// Label priority (lower first) and the text's size in screen pixels, per kind of place.
const PLACE_STYLE = {
  city: { rank: 0, px: 15 }, road: { rank: 1, px: 11 }, town: { rank: 2, px: 12 },
  junction: { rank: 3, px: 10.5 }, district: { rank: 4, px: 11 }, suburb: { rank: 4, px: 11 },
};
function pts(list) { return list.map((p) => p[0].toFixed(1) + ',' + p[1].toFixed(1)).join(' '); }

function drawRoute(route) {
  state.route = route;
  state.project = makeProjection(route.waypoints);
  const wp = route.waypoints.map((w) => state.project(w.latitude, w.longitude));
  // The overall direction London -> Birmingham, to tell the two directions of traffic apart.
  const a = wp[0], b = wp[wp.length - 1];
  state.routeBearing = (Math.atan2(b[0] - a[0], a[1] - b[1]) * 180 / Math.PI + 360) % 360;

  const g = el('map-route');
  g.innerHTML = '';
  g.appendChild(svg('polyline', { class: 'route', points: pts(wp) }));
  const roads = el('map-roads');
  roads.innerHTML = '';
  const labels = [];
  const lg = el('map-labels');
  lg.innerHTML = '';
  const addLabel = (kind, text, x, y, extra) => {
    const t = svg('text', Object.assign({ class: 'map-label ' + kind + '-label', 'data-kind': kind }, extra || {}));
    t.textContent = text;
    t.dataset.x = x; t.dataset.y = y;
    lg.appendChild(t);
    labels.push({ rank: PLACE_STYLE[kind].rank, order: labels.length, kind, t });
    return t;
  };
  // The road's number ("M40", "A40") once, halfway along its longest run, left of the line.
  const longest = new Map();
  for (const r of route.roads || []) {
    const line = wp.slice(r.from, r.to + 1);
    roads.appendChild(svg('polyline', { class: 'road ' + r.class, points: pts(line), 'data-road': r.name }));
    if (!r.name || r.class === 'street') continue;
    const number = r.name.split(' ')[0];
    const length = line.slice(1).reduce((sum, p, i) => sum + Math.hypot(p[0] - line[i][0], p[1] - line[i][1]), 0);
    if (!longest.has(number) || longest.get(number).length < length) longest.set(number, { r, line, length });
  }
  for (const [number, { r, line }] of longest) {
    const i = Math.floor((line.length - 1) / 2);
    const [x, y] = [(line[i][0] + line[i + 1][0]) / 2, (line[i][1] + line[i + 1][1]) / 2];
    addLabel('road', number, x, y, { 'data-road-class': r.class });
  }
  const pg = el('map-places');
  pg.innerHTML = '';
  for (const p of route.places || []) {
    const [x, y] = state.project(p.latitude, p.longitude);
    if (p.kind === 'city' || p.kind === 'town') {
      pg.appendChild(svg('circle', { class: 'place ' + p.kind, cx: x, cy: y, 'data-place': p.name }));
    } else {
      pg.appendChild(svg('circle', { class: 'waypoint ' + p.kind, cx: x, cy: y }));
    }
    const t = addLabel(p.kind, p.kind === 'junction' ? p.name.replace(/^M\d+ /, '') : p.name, x, y,
        { 'data-place': p.name });
    if (p.kind === 'junction') t.setAttribute('aria-label', p.name);
  }
  labels.sort((x, y) => x.rank - y.rank || x.order - y.order);
  state.labels = labels.map((l) => l.t);
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
  relayout();
}

// Sizes in screen pixels -> map units at the current width and zoom; labels placed and decluttered.
function relayout() {
  if (!state.project) return;
  const map = el('map');
  const width = map.getBoundingClientRect().width || W;
  state.unit = (W / width) / state.view.k;  // map units per screen pixel
  const u = state.unit;
  map.style.setProperty('--u', u);
  for (const t of state.labels || []) {
    const kind = t.dataset.kind;
    const px = PLACE_STYLE[kind].px;
    t.setAttribute('font-size', (px * u).toFixed(2));
    const x = Number(t.dataset.x), y = Number(t.dataset.y);
    t.removeAttribute('display');
    t.setAttribute('text-anchor', kind === 'road' ? 'end' : 'start');
    if (kind === 'road') {
      t.setAttribute('x', (x - 9 * u).toFixed(1)); t.setAttribute('y', (y + px * 0.35 * u).toFixed(1));
    } else {
      t.setAttribute('x', (x + 6 * u).toFixed(1)); t.setAttribute('y', (y - 5 * u).toFixed(1));
    }
    // A label that would leave the visible part of the map goes to the other side of its point.
    const v = state.view, left = -v.x / v.k, right = (W - v.x) / v.k, top = -v.y / v.k;
    const b = t.getBBox();
    if (kind !== 'road' && b.x + b.width > right - 2 * u) {
      t.setAttribute('x', (x - 6 * u).toFixed(1)); t.setAttribute('text-anchor', 'end');
    } else if (kind === 'road' && b.x < left + 2 * u) {
      t.setAttribute('x', (x + 9 * u).toFixed(1)); t.setAttribute('text-anchor', 'start');
    }
    if (b.y < top + 2 * u) t.setAttribute('y', (y + (px + 5) * u).toFixed(1));
  }
  for (const c of el('map-places').querySelectorAll('circle')) {
    c.setAttribute('r', ((c.classList.contains('city') ? 6 : c.classList.contains('town') ? 4.5 : 2.5) * u).toFixed(2));
  }
  for (const r of el('map-cameras').querySelectorAll('rect')) {
    const x = Number(r.getAttribute('x')) + Number(r.getAttribute('width')) / 2;
    const y = Number(r.getAttribute('y')) + Number(r.getAttribute('height')) / 2;
    r.setAttribute('x', (x - 3 * u).toFixed(2)); r.setAttribute('y', (y - 3 * u).toFixed(2));
    r.setAttribute('width', (6 * u).toFixed(2)); r.setAttribute('height', (6 * u).toFixed(2));
  }
  for (const m of el('map-vehicles').children) m.setAttribute('r', (6 * u).toFixed(2));
  state.routeLabelBoxes = declutter(state.labels || []);
  drawScaleBar();
  drawTrail();
  if (state.lastIncidents) drawIncidents(state.lastIncidents);
}

// A scale bar of a round distance between 60 and 150 screen pixels long.
function drawScaleBar() {
  const kmPerPx = state.project.kmPerUnit * state.unit;
  let km = 1;
  for (const d of [1, 2, 5, 10, 20, 50, 100, 200]) { km = d; if (d / kmPerPx >= 60) break; }
  const bar = el('scale-bar');
  bar.querySelector('.bar').style.width = (km / kmPerPx).toFixed(0) + 'px';
  bar.querySelector('span').textContent = km + ' km';
  bar.dataset.km = km;
  bar.setAttribute('aria-label', 'scale: the bar is ' + km + ' km');
}

// ---- pan and zoom ------------------------------------------------------------------------------
function applyView() {
  const v = state.view;
  el('map-view').setAttribute('transform', 'translate(' + v.x.toFixed(2) + ' ' + v.y.toFixed(2) + ') scale(' + v.k.toFixed(4) + ')');
  el('map').dataset.zoom = v.k.toFixed(3);
  relayout();
}
// Keeps the map inside the view: at zoom 1 it fills the view; zoomed in it cannot leave it.
function clampView() {
  const v = state.view;
  v.k = Math.min(16, Math.max(1, v.k));
  v.x = Math.min(0, Math.max(W - W * v.k, v.x));
  v.y = Math.min(0, Math.max(H - H * v.k, v.y));
}
// Zooms by `factor` around the map point (mx, my) (viewBox units), which stays where it is.
function zoomAt(factor, mx, my) {
  const v = state.view;
  const k = Math.min(16, Math.max(1, v.k * factor));
  v.x = mx - (mx - v.x) * (k / v.k);
  v.y = my - (my - v.y) * (k / v.k);
  v.k = k;
  clampView();
  applyView();
}
function panBy(dx, dy) {  // viewBox units
  state.view.x += dx; state.view.y += dy;
  clampView();
  applyView();
}
function toViewBox(clientX, clientY) {
  const r = el('map').getBoundingClientRect();
  return [(clientX - r.left) * W / r.width, (clientY - r.top) * H / r.height];
}
function setupPanZoom() {
  const map = el('map');
  map.addEventListener('wheel', (e) => {
    e.preventDefault();
    const [mx, my] = toViewBox(e.clientX, e.clientY);
    zoomAt(e.deltaY < 0 ? 1.25 : 0.8, mx, my);
  }, { passive: false });
  let drag = null;
  map.addEventListener('pointerdown', (e) => {
    if (e.button !== 0) return;
    drag = { x: e.clientX, y: e.clientY, vx: state.view.x, vy: state.view.y, moved: false, id: e.pointerId };
  });
  map.addEventListener('pointermove', (e) => {
    if (!drag || e.pointerId !== drag.id) return;
    const r = map.getBoundingClientRect();
    const dx = (e.clientX - drag.x) * W / r.width, dy = (e.clientY - drag.y) * H / r.height;
    if (!drag.moved && Math.hypot(e.clientX - drag.x, e.clientY - drag.y) < 4) return;
    if (!drag.moved) { drag.moved = true; map.setPointerCapture(e.pointerId); map.classList.add('dragging'); }
    state.view.x = drag.vx + dx; state.view.y = drag.vy + dy;
    clampView();
    applyView();
  });
  const end = (e) => {
    if (!drag) return;
    if (drag.moved) {
      state.suppressClick = true;  // the click that ends a drag selects nothing
      setTimeout(() => { state.suppressClick = false; }, 0);
    }
    map.classList.remove('dragging');
    drag = null;
  };
  map.addEventListener('pointerup', end);
  map.addEventListener('pointercancel', end);
  map.addEventListener('click', (e) => { if (state.suppressClick) { e.stopPropagation(); e.preventDefault(); } }, true);
  map.addEventListener('keydown', (e) => {
    const step = 60;
    const keys = {
      '+': () => zoomAt(1.5, W / 2, H / 2), '=': () => zoomAt(1.5, W / 2, H / 2),
      '-': () => zoomAt(1 / 1.5, W / 2, H / 2), '_': () => zoomAt(1 / 1.5, W / 2, H / 2),
      '0': () => resetView(),
      ArrowLeft: () => panBy(step, 0), ArrowRight: () => panBy(-step, 0),
      ArrowUp: () => panBy(0, step), ArrowDown: () => panBy(0, -step),
    };
    if (e.target !== map || !keys[e.key]) return;
    e.preventDefault();
    keys[e.key]();
  });
  el('zoom-in').addEventListener('click', (e) => { e.stopPropagation(); zoomAt(1.5, W / 2, H / 2); });
  el('zoom-out').addEventListener('click', (e) => { e.stopPropagation(); zoomAt(1 / 1.5, W / 2, H / 2); });
  el('zoom-reset').addEventListener('click', (e) => { e.stopPropagation(); resetView(); });
  let pending = false;
  window.addEventListener('resize', () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => { pending = false; relayout(); });
  });
}
function resetView() { state.view = { x: 0, y: 0, k: 1 }; applyView(); }

// ---- vehicles ---------------------------------------------------------------------------------
// Coloured by direction of travel (towards Birmingham or towards London: both directions run in the
// steady city) or by speed.
const COMPASS = { 'North': 0, 'North-East': 45, 'East': 90, 'South-East': 135, 'South': 180, 'South-West': 225, 'West': 270, 'North-West': 315 };
function directionClass(v) {
  const b = COMPASS[v.direction];
  if (b === undefined || state.routeBearing === undefined) return 'dir-unknown';
  const d = Math.abs(((b - state.routeBearing) % 360 + 540) % 360 - 180);
  return d < 90 ? 'dir-birmingham' : 'dir-london';
}
function speedClass(v) { return v.speed < 50 ? 'speed-slow' : v.speed < 90 ? 'speed-medium' : 'speed-fast'; }
function colourClass(v) { return state.colourBy === 'speed' ? speedClass(v) : directionClass(v); }
function drawLegend() {
  const by = state.colourBy;
  el('legend-direction').hidden = by !== 'direction';
  el('legend-speed').hidden = by !== 'speed';
}

// The selected vehicle's trail: the positions this page has seen it at (last 240).
const TRAIL_POINTS = 240;
function recordTrail(v) {
  let t = state.trails.get(v.deviceId);
  if (!t) state.trails.set(v.deviceId, t = []);
  const last = t[t.length - 1];
  if (!last || last[0] !== v.latitude || last[1] !== v.longitude) t.push([v.latitude, v.longitude]);
  if (t.length > TRAIL_POINTS) t.splice(0, t.length - TRAIL_POINTS);
}
function drawTrail() {
  const g = el('map-trail');
  if (!g) return;
  const t = state.selected && state.trails.get(state.selected);
  if (!t || t.length < 2) { g.innerHTML = ''; return; }
  let line = g.querySelector('polyline');
  if (!line) { line = svg('polyline', { class: 'trail' }); g.appendChild(line); }
  line.dataset.device = state.selected;
  line.dataset.points = t.length;
  line.setAttribute('points', pts(t.map((p) => state.project(p[0], p[1]))));
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
      m = svg('circle', { class: 'vehicle-marker', r: (6 * (state.unit || 1)).toFixed(2), 'data-device': v.deviceId });
      m.addEventListener('mouseenter', () => showTooltip(m, state.vehicles.get(m.dataset.device)));
      m.addEventListener('mouseleave', () => { if (state.selected !== m.dataset.device) el('tooltip').hidden = true; });
      m.addEventListener('click', (e) => {
        e.stopPropagation();
        for (const s of g.querySelectorAll('.selected')) s.classList.remove('selected');
        state.selected = m.dataset.device;
        m.classList.add('selected');
        showTooltip(m, state.vehicles.get(m.dataset.device));
        drawTrail();
      });
      g.appendChild(m);
    }
    const [x, y] = state.project(v.latitude, v.longitude);
    m.setAttribute('cx', x.toFixed(2));
    m.setAttribute('cy', y.toFixed(2));
    m.dataset.lat = v.latitude;
    m.dataset.lon = v.longitude;
    m.setAttribute('class', 'vehicle-marker ' + colourClass(v) + (state.selected === v.deviceId ? ' selected' : ''));
    m.dataset.direction = directionClass(v).substring(4);
    state.vehicles.set(v.deviceId, v);
    recordTrail(v);
  }
  for (const m of Array.from(g.children)) {
    if (!seen.has(m.dataset.device)) { state.vehicles.delete(m.dataset.device); state.trails.delete(m.dataset.device); m.remove(); }
  }
  drawTrail();
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
  state.lastIncidents = list;
  const u = Math.max(state.unit, 0.25);  // marker sizes in screen pixels
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
    for (let k = 1; k < 200 && placed.some((p) => Math.hypot(p[0] - x, p[1] - y) < MIN_APART * u); k++) {
      const a = k * 0.8, r = MIN_APART * u * (0.6 + k / 8);
      x = x0 + r * Math.cos(a); y = y0 + r * Math.sin(a);
    }
    placed.push([x, y]);
    const label = i.type + ' · ' + ageText(i.ageSeconds);
    const m = svg('g', { class: 'incident', 'data-incident-id': i.incidentId, tabindex: 0, role: 'button',
      'aria-label': 'incident ' + label + ': show details' });
    if (x !== x0 || y !== y0) labels.appendChild(svg('line', { class: 'incident-leader', x1: x0, y1: y0, x2: x, y2: y }));
    m.appendChild(svg('polygon', { points: [[x, y - 11 * u], [x - 10 * u, y + 7 * u], [x + 10 * u, y + 7 * u]].map((q) => q[0].toFixed(2) + ',' + q[1].toFixed(2)).join(' ') }));
    const bang = svg('text', { class: 'incident-bang', x: x, y: y + 5 * u, 'font-size': (12 * u).toFixed(2) });
    bang.textContent = '!';
    m.appendChild(bang);
    const t = svg('text', { class: 'incident-label', x: x + 12 * u, y: y - 8 * u, 'font-size': (11 * u).toFixed(2) });
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
  // A lake at rest (serve) does not say what was produced: "n/a", not 0.
  const newest = s.newestEventTime || {};
  rows(document.querySelector('#tables tbody'), Object.keys(s.rowsCommitted),
      (t) => [esc(t), s.rowsProducedKnown === false ? '<span class="muted" title="not known for a lake at rest">n/a</span>' : fmt(s.rowsProduced[t]),
        fmt(s.rowsCommitted[t]), esc(newest[t] ? stamp(newest[t]) : '-')]);
  el('tables-newest').hidden = !Object.values(newest).some((x) => x);
  for (const td of document.querySelectorAll('#tables tbody td:nth-child(4)')) td.hidden = el('tables-newest').hidden;
  // The live watermark (the one the next epoch would take now) moves between commits; the lag is
  // the newest event time seen minus it, of which --watermark-delay is by design.
  const delay = s.watermarkDelaySeconds;
  el('watermark-delay').textContent = delay ? 'lag includes the watermark delay of ' + secs(delay) : '';
  rows(document.querySelector('#groups tbody'), s.groups,
      (g) => [g.group, g.committedEpoch, esc(stamp(g.liveWatermark || g.watermark)),
        secs(g.watermarkLagSeconds)]);
  Array.from(document.querySelectorAll('#groups tbody tr')).forEach((tr, n) => {
    const g = s.groups[n];
    tr.dataset.group = g.group;
    tr.dataset.watermark = g.liveWatermark || g.watermark || '';
    tr.dataset.live = g.liveWatermark ? '1' : '0';
    tr.dataset.epoch = g.committedEpoch;
  });
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
  setupPanZoom();
  const mode = el('colour-by');
  mode.addEventListener('change', () => {
    state.colourBy = mode.value;
    drawLegend();
    drawVehicles(Array.from(state.vehicles.values()));
  });
  drawLegend();
  document.addEventListener('click', () => {
    state.selected = null;
    el('tooltip').hidden = true;
    el('incident-popup').hidden = true;
    for (const s of document.querySelectorAll('.vehicle-marker.selected')) s.classList.remove('selected');
    drawTrail();
  });
  for (const c of document.querySelectorAll('.map-tools')) c.addEventListener('click', (e) => e.stopPropagation());
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
