// The page: wires input (editor, file, drop, paste), options, the check worker, and the
// results. No framework: a handful of elements updated in place.

import { Checker } from './checker.js';
import { Editor } from './editor.js';
import { Viewer } from './viewer.js';
import { renderSummary } from './summary.js';
import { int, bytes, nsToISO, parseSize } from './format.js';
import { send } from './send.js';
import { WASM, BUILD } from './config.js';
import { looksGzipped } from './gzipped.js';

const $ = (id) => document.getElementById(id);
const EDITOR_MAX = 2 << 20; // files up to this size are also shown (and editable) in the editor
const BIG_PASTE = 4 << 20; // larger pastes are checked like a file, not put in the editor
const LIST_STEP = 200; // rejected lines rendered per "show more"
const STATUS_TEXT = {
  204: 'No Content',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  413: 'Request Entity Too Large',
  422: 'Unprocessable Entity',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

const checker = new Checker(WASM);
const editor = new Editor($('editor'));
const viewer = new Viewer($('viewer'), checker);

// What is checked: the editor's text, a file, or a large paste. `key` changes whenever the
// bytes change, so the worker can keep the bytes it already read across option changes.
let source = null;
let keySeq = 0;
let editorShowsSource = true; // whether the editor holds exactly the checked text
let result = null;
let shownDiags = 0;
let timer = 0;
let checkSeq = 0;
let loading = 0; // files being opened (not yet scheduled for a check)

// body[data-state] (idle, checking, done, cancelled, error) and body[data-pending] (a check
// is scheduled or running) let people's tools — and the tests — know when an answer is final.
function setState(s) {
  document.body.dataset.state = s;
  if (s !== 'checking' && !timer && !loading) document.body.dataset.pending = 'false';
}
setState('idle');

// ---- input --------------------------------------------------------------------------------

function editorSource() {
  const text = editor.text;
  return {
    key: `editor-${++keySeq}`,
    kind: 'editor',
    name: '',
    blob: new Blob([text]), // UTF-8, CRs restored
  };
}

editor.onChange(() => {
  if (source && source.kind !== 'editor') {
    // Editing a file shown in the editor: from now on the edited text is what is checked.
    source = null;
  }
  editorShowsSource = true;
  showEditor();
  schedule(250);
});

editor.onBigPaste = (text, e) => {
  if (text.length < BIG_PASTE) return false;
  e.preventDefault();
  useBlob(new Blob([text]), 'pasted text', 'pasted');
  return true;
};

$('file').addEventListener('change', () => {
  const f = $('file').files[0];
  if (f) loadFile(f);
  $('file').value = ''; // choosing the same file again reloads it
});

// Drop a file anywhere on the page; dragging text inside the editor keeps working.
let dragDepth = 0;
const hasFiles = (e) => e.dataTransfer && [...e.dataTransfer.types].includes('Files');
document.addEventListener('dragenter', (e) => {
  if (!hasFiles(e)) return;
  dragDepth++;
  $('drop').classList.add('over');
});
document.addEventListener('dragleave', (e) => {
  if (!hasFiles(e)) return;
  if (--dragDepth <= 0) $('drop').classList.remove('over');
});
document.addEventListener('dragover', (e) => {
  if (hasFiles(e)) e.preventDefault();
});
document.addEventListener('drop', (e) => {
  if (!hasFiles(e)) return;
  e.preventDefault();
  dragDepth = 0;
  $('drop').classList.remove('over');
  const f = e.dataTransfer.files[0];
  if (f) loadFile(f);
});

async function loadFile(file) {
  document.body.dataset.pending = 'true';
  loading++;
  try {
    await openFile(file);
  } finally {
    loading--;
  }
}

async function openFile(file) {
  const gz = looksGzipped(file.name, await file.slice(0, 2).arrayBuffer());
  if (!gz && file.size <= EDITOR_MAX) {
    // Small plain files are shown in the editor; the file's own bytes are still what is
    // checked until the text is edited (so invalid UTF-8 is checked as it is).
    const text = new TextDecoder().decode(await file.arrayBuffer());
    editor.setText(text);
    editor.setMarks([]);
    editorShowsSource = true;
    source = { key: `file-${++keySeq}`, kind: 'file', name: file.name, blob: file };
    showEditor();
    schedule(0);
    return;
  }
  useBlob(file, file.name, 'file');
}

function useBlob(blob, name, kind) {
  source = { key: `${kind}-${++keySeq}`, kind, name, blob };
  editorShowsSource = false;
  viewer.reset();
  showViewer();
  schedule(0);
}

function showEditor() {
  $('editor-wrap').hidden = false;
  $('viewer').hidden = true;
}

function showViewer() {
  $('editor-wrap').hidden = true;
  $('viewer').hidden = false;
}

function describeSource(r) {
  const s = source;
  const p = $('source');
  p.replaceChildren();
  if (!s) {
    p.textContent = 'Type or paste line protocol, or choose a file.';
    return;
  }
  const add = (...n) => p.append(...n);
  const strong = (t) => {
    const e = document.createElement('strong');
    e.textContent = t;
    return e;
  };
  if (s.kind === 'editor') add('Checking the text in the editor');
  else if (s.kind === 'pasted') add('Checking the pasted text');
  else add('Checking ', strong(s.name));
  add(` (${bytes(s.blob.size)}`);
  if (r && r.gzip) add(', sent with Content-Encoding: gzip');
  add(').');
  if (s.kind !== 'editor') {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = 'Clear';
    b.addEventListener('click', clearSource);
    add(' ', b);
  }
}

function clearSource() {
  checker.cancel();
  source = null;
  editor.setText('');
  editor.setMarks([]);
  editorShowsSource = true;
  showEditor();
  clearResults();
  describeSource();
  setState('idle');
}

// ---- options ------------------------------------------------------------------------------

// The precisions each endpoint's clients send, and how InfluxDB reads each, are the
// package's (precisions(), asked by the check worker): v1's /write never rejects one and
// reads n, u, m and h as ns (the check warns about u, m and h). Until the checker is up,
// the select keeps index.html's v2 list.
const UNITS = { ns: 'nanoseconds', us: 'microseconds', ms: 'milliseconds', s: 'seconds' };

async function showEndpoint() {
  const ep = $('endpoint').value;
  const v1 = ep === '/write';
  $('endpoint-help').textContent = v1 ? 'InfluxDB 1.x clients’ endpoint, as InfluxDB OSS v2 answers it.' : '';
  for (const e of document.querySelectorAll('.v2-only')) e.hidden = v1;
  for (const e of document.querySelectorAll('.v1-only')) e.hidden = !v1;
  if (checker.precisions === null) await checker.ensure().catch(() => {});
  const list = checker.precisions?.[ep];
  if (!list || $('endpoint').value !== ep) return;
  const sel = $('precision');
  const keep = sel.value;
  sel.replaceChildren(
    ...list.map(({ value, unit, ignoresUnit }) => {
      const o = document.createElement('option');
      o.value = value;
      o.textContent = `${value} — ${ignoresUnit ? 'read as ns by InfluxDB v2' : UNITS[unit]}`;
      return o;
    }),
  );
  // A unit both lists have stays chosen; otherwise each list's first (nanoseconds).
  sel.value = list.some((p) => p.value === keep) ? keep : list[0].value;
}

$('endpoint').addEventListener('change', async () => {
  await showEndpoint();
  schedule(0);
});
for (const id of ['precision', 'encoding', 'partial']) $(id).addEventListener('change', () => schedule(0));
for (const id of ['now', 'max-body', 'max-batch', 'max-message']) $(id).addEventListener('input', () => schedule(400));
$('now-set').addEventListener('click', () => {
  $('now').value = (BigInt(Date.now()) * 1000000n).toString();
  schedule(0);
});

const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;

function readOptions() {
  const errors = [];
  let now;
  const nowText = $('now').value.trim();
  if (nowText === '') {
    now = BigInt(Date.now()) * 1000000n;
    $('now-help').textContent = `Lines without a timestamp get the time of the check (${nsToISO(now)}).`;
  } else if (/^-?\d+$/.test(nowText) && BigInt(nowText) >= I64_MIN && BigInt(nowText) <= I64_MAX) {
    now = BigInt(nowText);
    $('now-help').textContent = nsToISO(now);
  } else {
    $('now-help').textContent = '';
    errors.push('“Now” must be a whole number of nanoseconds (64-bit).');
  }
  const limits = {};
  const lim = [
    ['max-body', 'maxBody', 'Max body'],
    ['max-batch', 'maxBatch', 'Max batch'],
    ['max-message', 'maxMessage', 'Max error message'],
  ];
  for (const [id, key, label] of lim) {
    const v = parseSize($(id).value);
    $(id).setAttribute('aria-invalid', Number.isNaN(v) ? 'true' : 'false');
    if (Number.isNaN(v)) errors.push(`${label}: write a size like 1048576, 512k or 16M.`);
    else if (v !== undefined) limits[key] = v;
  }
  $('now').setAttribute('aria-invalid', errors.length && errors[0].startsWith('“Now”') ? 'true' : 'false');
  $('limits-error').textContent = errors.filter((e) => !e.startsWith('“Now”')).join(' ');
  if (errors.length) return { errors };
  return {
    endpoint: $('endpoint').value,
    precision: $('precision').value,
    encoding: $('encoding').value,
    partial: $('partial').checked,
    now,
    limits,
  };
}

// ---- checking -----------------------------------------------------------------------------

function schedule(ms) {
  clearTimeout(timer);
  document.body.dataset.pending = 'true';
  timer = setTimeout(run, ms);
}

async function run() {
  timer = 0;
  if (!source && editor.text === '') {
    checker.cancel();
    clearResults();
    describeSource();
    setState('idle');
    return;
  }
  const opts = readOptions();
  if (opts.errors) {
    $('check-status').textContent = `Not checked: ${opts.errors.join(' ')}`;
    setState('invalid');
    return;
  }
  if (!source) source = editorSource();
  else if (source.kind === 'editor') source = editorSource();
  describeSource();
  const seq = ++checkSeq;
  const big = source.blob.size > 1 << 20;
  const started = performance.now();
  setState('checking');
  $('check-status').textContent = 'Checking…';
  if (big) showProgress({ phase: 'read', done: 0, total: source.blob.size });
  let r;
  try {
    r = await checker.check(
      { key: source.key, name: source.name, blob: source.blob },
      opts,
      (p) => seq === checkSeq && big && showProgress(p),
    );
  } catch (err) {
    if (seq !== checkSeq) return; // replaced by a newer check
    hideProgress();
    if (err.cancelled) {
      setState('cancelled');
      $('check-status').textContent = 'Cancelled.';
    } else {
      setState('error');
      $('check-status').textContent = `The check failed: ${err.message}`;
    }
    return;
  }
  if (seq !== checkSeq) return;
  hideProgress();
  result = r;
  describeSource(r);
  showResult(r);
  const secs = (performance.now() - started) / 1000;
  const mbps = r.size / 1e6 / Math.max(secs, 1e-3);
  $('check-status').textContent =
    `Checked ${int(r.lines)} lines (${bytes(r.size)}) in ${secs < 1 ? `${Math.round(secs * 1000)} ms` : `${secs.toFixed(1)} s`}` +
    (r.size > 1e6 ? ` — ${mbps.toFixed(0)} MB/s` : '') +
    '.';
  setState('done');
}

$('cancel').addEventListener('click', () => {
  checkSeq++;
  checker.cancel();
  hideProgress();
  setState('cancelled');
  $('check-status').textContent = 'Cancelled.';
});

function showProgress(p) {
  $('progress-box').hidden = false;
  const bar = $('progress');
  const label = $('progress-label');
  if (p.phase === 'read') {
    bar.max = 1;
    bar.value = p.total ? p.done / p.total : 0;
    label.textContent = `Reading… ${bytes(p.done)} of ${bytes(p.total)}`;
  } else if (p.phase === 'parse' && p.total > 0) {
    bar.max = 1;
    bar.value = Math.min(1, p.done / p.total);
    label.textContent = `Checking… ${bytes(p.done)} of ${bytes(p.total)}${p.gzip ? ' (compressed)' : ''}`;
  } else {
    // gzip: the package decodes the whole body first and reports nothing meanwhile.
    bar.removeAttribute('value');
    label.textContent = 'Decompressing…';
  }
  bar.dataset.phase = p.phase;
}

function hideProgress() {
  $('progress-box').hidden = true;
}

// ---- results ------------------------------------------------------------------------------

function clearResults() {
  result = null;
  const v = $('verdict');
  v.dataset.state = 'empty';
  $('verdict-status').textContent = '—';
  $('verdict-text').textContent = '';
  $('verdict-head').hidden = true;
  $('verdict-body').textContent = '';
  $('verdict-note').textContent = '';
  $('copy-body').disabled = true;
  $('rejected').replaceChildren();
  $('rejected-count').textContent = '';
  $('rejected-none').hidden = false;
  $('rejected-more').textContent = '';
  $('warnings').replaceChildren();
  $('warnings-count').textContent = '';
  $('warnings-none').hidden = false;
  renderSummary($('summary'), { summary: null, status: 204 });
  $('summary').querySelector('p').textContent = 'Check something to see what it holds.';
  editor.setMarks([]);
}

function showResult(r) {
  // Verdict
  const v = $('verdict');
  v.dataset.state = r.status === 204 ? 'ok' : 'bad';
  $('verdict-status').textContent = r.status;
  $('verdict-text').textContent =
    r.status === 204
      ? `${STATUS_TEXT[204]} — InfluxDB would accept ${r.points === 1 ? 'the point' : `all ${int(r.points)} points`}.`
      : `${STATUS_TEXT[r.status] || ''} — InfluxDB would refuse the whole batch.`;
  const head = $('verdict-head');
  if (r.headers) {
    head.hidden = false;
    head.textContent = Object.entries(r.headers)
      .map(([k, val]) => `${k}: ${val}`)
      .join('\n');
  } else head.hidden = true;
  const SHOWN = 200000;
  $('verdict-body').textContent = r.body.length > SHOWN ? r.body.slice(0, SHOWN) : r.body;
  $('verdict-body').dataset.full = r.body.length <= SHOWN ? 'true' : 'false';
  $('verdict-note').textContent =
    (r.status === 204 ? 'The body is empty. ' : '') +
    (r.body.length > SHOWN ? `The body is ${int(r.body.length)} characters long; the first ${int(SHOWN)} are shown, Copy copies all. ` : '') +
    (r.status === 400 ? 'The "line" field is linegate’s addition; the rest is InfluxDB’s body byte for byte.' : '');
  $('copy-body').disabled = r.status === 204;

  // Rejected lines
  $('rejected').replaceChildren();
  shownDiags = 0;
  $('rejected-count').textContent = r.rejected ? `(${int(r.rejected)})` : '';
  $('rejected-none').hidden = r.rejected > 0;
  moreDiags();
  const marks = r.diagnostics;
  if (editorShowsSource) editor.setMarks(marks);
  else {
    viewer.setMarks(marks);
    if (marks.length) viewer.reveal(marks[0], false);
    else viewer.show(1);
  }

  // Warnings
  const wl = $('warnings');
  wl.replaceChildren();
  $('warnings-count').textContent = r.warningsTotal ? `(${int(r.warningsTotal)})` : '';
  $('warnings-none').hidden = r.warningsTotal > 0;
  for (const w of r.warnings) {
    const li = document.createElement('li');
    li.dataset.kind = w.kind;
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = `line ${int(w.line)}`;
    b.setAttribute('aria-label', `Show line ${w.line}`);
    b.addEventListener('click', () => jump({ line: w.line, spans: 1, spotLine: w.line, spotCol: 0 }, null));
    li.append(b, ' ', w.message);
    wl.append(li);
  }
  if (r.warningsTotal > r.warnings.length) {
    const li = document.createElement('li');
    li.textContent = `… and ${int(r.warningsTotal - r.warnings.length)} more.`;
    wl.append(li);
  }

  renderSummary($('summary'), r);
  showPartial(r);
}

// The split of a partial write: the answer the server gives once the good lines are stored,
// the lines that would go and those kept back.
function showPartial(r) {
  const p = r.partial;
  $('partial-box').hidden = !p;
  if (!p) return;
  $('verdict-text').textContent = `${STATUS_TEXT[400]} — a partial write: ${int(p.accepted)} lines would be written, ${int(p.rejected)} kept back.`;
  $('verdict-body').textContent = p.body;
  $('verdict-body').dataset.full = 'true';
  $('partial-text').textContent = `With accept_partial=true a linegate Worker or backend writes ${int(p.accepted)} lines (${bytes(p.forwardBytes)}, sent plain) and keeps ${int(p.rejected)} back for you to fix.`;
  $('partial-go-count').textContent = `(${int(p.accepted)})`;
  $('partial-go').textContent = p.forward;
  $('partial-kept-count').textContent = `(${int(p.rejected)})`;
  const ol = $('partial-kept');
  ol.replaceChildren();
  for (const l of p.kept) {
    const li = document.createElement('li');
    li.append(span('where', `line ${int(l.line)}`), ' ', span('reason', l.reason), ' ', span('text', l.text));
    ol.append(li);
  }
}

function moreDiags() {
  const r = result;
  const list = $('rejected');
  const end = Math.min(r.diagnostics.length, shownDiags + LIST_STEP);
  const frag = document.createDocumentFragment();
  for (let i = shownDiags; i < end; i++) frag.append(diagItem(r.diagnostics[i]));
  list.append(frag);
  shownDiags = end;
  const more = $('rejected-more');
  more.replaceChildren();
  if (shownDiags < r.diagnostics.length) {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = `Show ${Math.min(LIST_STEP, r.diagnostics.length - shownDiags)} more`;
    b.addEventListener('click', () => {
      moreDiags();
      list.children[shownDiags - Math.min(LIST_STEP, shownDiags)]?.querySelector('button')?.focus();
    });
    more.append(b);
  }
  if (r.rejected > r.diagnostics.length) {
    more.append(` ${int(r.rejected - r.diagnostics.length)} more rejected lines are counted but not listed (see the body for InfluxDB’s own list, up to its size cap).`);
  }
}

function span(cls, t) {
  const e = document.createElement('span');
  e.className = cls;
  e.textContent = t;
  return e;
}

function diagItem(d) {
  const li = document.createElement('li');
  const b = document.createElement('button');
  b.type = 'button';
  b.className = 'diag';
  b.dataset.line = d.line;
  const where = span('where', `Line ${int(d.line)}, column ${int(d.column)}`);
  const more = d.spans > 1 ? span('muted', ` (spans ${d.spans} lines)`) : '';
  b.append(where, more, ' — ', span('reason', d.reason));
  if (d.spot !== undefined && (d.before || d.spot || d.after)) {
    const code = document.createElement('code');
    code.className = 'excerpt';
    if (d.cutBefore) code.append(span('cut', '…'));
    code.append(d.before);
    const mark = document.createElement('mark');
    mark.textContent = d.spot || ' ';
    mark.title = 'the failing spot';
    code.append(mark, d.after);
    if (d.cutAfter) code.append(span('cut', '…'));
    b.append(code);
  }
  b.append(span('hint', d.hint));
  b.addEventListener('click', () => jump(d, b));
  li.append(b);
  return li;
}

function jump(d, button) {
  for (const e of document.querySelectorAll('.diag.active')) e.classList.remove('active');
  if (button) button.classList.add('active');
  if (editorShowsSource) {
    showEditor();
    editor.reveal(d);
  } else {
    viewer.reveal(d);
  }
}

$('copy-body').addEventListener('click', async () => {
  if (!result) return;
  const b = $('copy-body');
  try {
    await navigator.clipboard.writeText(result.body);
    b.textContent = 'Copied';
  } catch {
    // Clipboard refused (permissions): select the text so Ctrl+C works.
    const sel = getSelection();
    sel.selectAllChildren($('verdict-body'));
    b.textContent = 'Selected — press Ctrl+C';
  }
  setTimeout(() => (b.textContent = 'Copy body'), 2000);
});

// ---- send ---------------------------------------------------------------------------------

$('send-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const out = { status: $('send-status'), text: $('send-text'), body: $('send-body'), box: $('send-result') };
  const endpoint = $('endpoint').value;
  const v1 = endpoint === '/write';
  const required = v1 ? ['send-url', 'send-db', 'send-token'] : ['send-url', 'send-org', 'send-bucket', 'send-token'];
  const missing = required.filter((id) => !$(id).value.trim());
  for (const id of ['send-url', 'send-org', 'send-bucket', 'send-db', 'send-token']) $(id).setAttribute('aria-invalid', missing.includes(id) ? 'true' : 'false');
  if (missing.length) {
    out.box.dataset.state = 'bad';
    out.status.textContent = '—';
    out.text.textContent = `Fill in: ${missing.map((id) => $(id).labels[0].textContent).join(', ')}.`;
    $(missing[0]).focus();
    return;
  }
  if (!source && editor.text === '') {
    out.text.textContent = 'There is nothing to send.';
    return;
  }
  const src = source && source.kind !== 'editor' ? source : editorSource();
  const opts = readOptions();
  const gzip = result ? result.gzip : /\.gz$/i.test(src.name);
  $('send-go').disabled = true;
  out.box.dataset.state = 'empty';
  out.status.textContent = '…';
  out.text.textContent = `Sending ${bytes(src.blob.size)}…`;
  out.body.textContent = '';
  try {
    const a = await send({
      url: $('send-url').value.trim(),
      endpoint,
      org: $('send-org').value.trim(),
      bucket: $('send-bucket').value.trim(),
      db: $('send-db').value.trim(),
      rp: $('send-rp').value.trim(),
      token: $('send-token').value,
      precision: opts.precision || $('precision').value,
      partial: $('partial').checked,
      gzip,
      body: src.blob,
    });
    out.box.dataset.state = a.status === 204 ? 'ok' : 'bad';
    out.status.textContent = a.status;
    out.text.textContent = `${a.statusText || STATUS_TEXT[a.status] || ''} — from ${a.url}`;
    out.body.textContent = a.body;
  } catch (err) {
    out.box.dataset.state = 'bad';
    out.status.textContent = 'No answer';
    out.text.textContent = `${err.message}. Is the server running, and does it allow requests from this page (CORS)?`;
  } finally {
    $('send-go').disabled = false;
  }
});

// ---- start --------------------------------------------------------------------------------

$('build-info').textContent = BUILD ? `Build ${BUILD}.` : '';
// The endpoint's precision list from the package; a reload may keep the endpoint chosen
// before it (form state restored by the browser).
showEndpoint();
describeSource();
readOptions();
checker
  .ensure()
  .then(() => showEndpoint())
  .then(() => {
    document.body.dataset.ready = 'true';
    $('build-info').textContent = `linegate ${checker.version}, page build ${BUILD}.`;
  })
  .catch((err) => {
    setState('error');
    $('check-status').textContent = `The checker could not start: ${err.message}`;
  });

if ('serviceWorker' in navigator && location.protocol !== 'file:') {
  navigator.serviceWorker
    .register('sw.js')
    .then(() => navigator.serviceWorker.ready)
    .then(() => {
      $('offline').hidden = false;
      $('offline').textContent = 'Works offline';
      document.body.dataset.offline = 'ready';
    })
    .catch(() => {});
}
