// The summary: a few big numbers, the time range, and two small SVG bar charts (points over
// time, points per measurement). Each chart has a text alternative for screen readers.

import { int, nsToISO, span, text } from './format.js';

const SVG = 'http://www.w3.org/2000/svg';
const TYPES = ['float', 'integer', 'unsigned', 'string', 'boolean'];

function el(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else e.setAttribute(k, v);
  }
  e.append(...kids);
  return e;
}

function svg(tag, attrs = {}, content) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (content !== undefined) e.textContent = content;
  return e;
}

function tile(label, value, id) {
  return el('div', { class: 'tile', 'data-stat': id }, el('dt', {}, label), el('dd', {}, value));
}

export function renderSummary(box, r) {
  const s = r.summary;
  box.replaceChildren();
  if (!s) {
    box.append(el('p', { class: 'muted' }, r.status === 204 ? 'No summary.' : 'No summary: the batch was refused before its lines were read.'));
    return;
  }
  const measurements = s.measurements.length;
  box.append(
    el(
      'dl',
      { class: 'tiles' },
      tile('Points', int(s.points), 'points'),
      tile('Lines', int(r.lines), 'lines'),
      tile('Measurements', int(measurements), 'measurements'),
      tile('Series', int(s.series), 'series'),
      tile('Field values', int(s.fields), 'fields'),
      tile('Rejected lines', int(r.rejected), 'rejected'),
    ),
  );
  if (r.status !== 204 && s.points > 0) {
    box.append(el('p', { class: 'muted small' }, 'Counts cover the lines that parsed; the server writes nothing of a refused batch.'));
  }

  // Field types as one stacked bar with a legend.
  const total = TYPES.reduce((a, t) => a + (s.fieldTypes[t] || 0), 0);
  if (total > 0) {
    const bar = el('div', { class: 'types', role: 'img', 'aria-label': 'Field values by type' });
    const legend = el('ul', { class: 'legend' });
    for (const t of TYPES) {
      const n = s.fieldTypes[t] || 0;
      if (!n) continue;
      const part = el('span', { class: `t-${t}`, title: `${t}: ${int(n)}` });
      part.style.width = `${(100 * n) / total}%`;
      bar.append(part);
      legend.append(el('li', { 'data-type': t }, el('i', { class: `t-${t}`, 'aria-hidden': 'true' }), `${t} ${int(n)} (${((100 * n) / total).toFixed(1)}%)`));
    }
    box.append(el('h3', { class: 'visually-hidden' }, 'Field types'), bar, legend);
  }

  if (s.minTime !== null && s.minTime !== undefined) {
    const lo = BigInt(s.minTime);
    const hi = BigInt(s.maxTime);
    box.append(
      el(
        'p',
        { class: 'timerange', 'data-stat': 'time-range' },
        'Time range: ',
        el('time', { datetime: nsToISO(lo) }, nsToISO(lo)),
        ' → ',
        el('time', { datetime: nsToISO(hi) }, nsToISO(hi)),
        el('span', { class: 'muted' }, ` (${span(hi - lo)})`),
      ),
    );
  }

  const charts = el('div', { class: 'charts' });
  if (s.histogram && s.histogram.length && s.points > 0) charts.append(timeChart(s));
  if (measurements) charts.append(measurementChart(s));
  box.append(charts);
}

function timeChart(s) {
  const h = s.histogram.map(Number);
  const W = 320;
  const H = 110;
  const top = 16; // room for the "max" label above the bars
  const bottom = 18;
  const max = Math.max(...h, 1);
  const bw = W / h.length;
  const g = svg('svg', { viewBox: `0 0 ${W} ${H}`, 'aria-hidden': 'true' });
  h.forEach((n, i) => {
    const bh = ((H - top - bottom) * n) / max;
    const r = svg('rect', { class: 'bar', x: (i * bw + 0.5).toFixed(2), y: (H - bottom - bh).toFixed(2), width: Math.max(0.5, bw - 1).toFixed(2), height: bh.toFixed(2) });
    r.append(svg('title', {}, `${int(n)} points`));
    g.append(r);
  });
  const lo = nsToISO(s.minTime);
  const hi = nsToISO(s.maxTime);
  g.append(svg('text', { class: 'axis', x: 0, y: H - 4 }, lo.slice(0, 19).replace('T', ' ')));
  g.append(svg('text', { class: 'axis', x: W, y: H - 4, 'text-anchor': 'end' }, hi.slice(0, 19).replace('T', ' ')));
  g.append(svg('text', { class: 'axis', x: 0, y: 10 }, `max ${int(max)} per slice`));
  const peak = h.indexOf(max);
  return el(
    'figure',
    { class: 'chart', 'data-chart': 'time' },
    el('figcaption', {}, 'Points over time'),
    g,
    el('p', { class: 'visually-hidden' }, `${h.length} equal time slices from ${lo} to ${hi}; the busiest, slice ${peak + 1}, holds ${int(max)} points.`),
  );
}

function measurementChart(s) {
  const TOP = 8;
  const list = [...s.measurements].sort((a, b) => b.points - a.points);
  const shown = list.slice(0, TOP);
  const rest = list.slice(TOP).reduce((a, m) => a + m.points, 0);
  const rows = shown.map((m) => [text(m.name), m.points]);
  if (rest) rows.push([`${list.length - TOP} more`, rest]);
  const W = 320;
  const rh = 18;
  const H = rows.length * rh + 4;
  const labelW = 110;
  const max = Math.max(...rows.map((r) => r[1]), 1);
  const g = svg('svg', { viewBox: `0 0 ${W} ${H}`, 'aria-hidden': 'true' });
  rows.forEach(([name, n], i) => {
    const y = i * rh + 2;
    const label = name.length > 16 ? `${name.slice(0, 15)}…` : name;
    g.append(svg('text', { class: 'label', x: labelW - 6, y: y + 12, 'text-anchor': 'end' }, label));
    const bw = ((W - labelW - 60) * n) / max;
    const r = svg('rect', { class: 'bar', x: labelW, y, width: Math.max(1, bw).toFixed(2), height: rh - 5 });
    r.append(svg('title', {}, `${name}: ${int(n)} points`));
    g.append(r);
    g.append(svg('text', { class: 'value', x: labelW + bw + 4, y: y + 12 }, int(n)));
  });
  const table = el('table', { class: 'visually-hidden' }, el('caption', {}, 'Points per measurement'));
  for (const [name, n] of rows) table.append(el('tr', {}, el('th', { scope: 'row' }, name), el('td', {}, int(n))));
  return el('figure', { class: 'chart', 'data-chart': 'measurements' }, el('figcaption', {}, 'Points per measurement'), g, table);
}
