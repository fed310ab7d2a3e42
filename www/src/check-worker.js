// The Web Worker that checks: it reads the file (so a 100 MB read never blocks the page),
// checks it as it reads (checkStream: the package's Checker fed chunk by chunk), and answers questions
// about the checked bytes afterwards (excerpts, lines for the viewer). Cancel = terminate.

import * as linegate from './engine.js';
import { ByteSource, gunzipToBlob } from './bytes.js';
import { looksGzipped } from './gzipped.js';

const MAX_DIAGNOSTICS_SENT = 2000; // the page lists these; the total is always given
const READ_CHUNK = 4 << 20;

let ready = false;
let view = null; // { key, gzip, source: ByteSource | null, blob }

const post = (m, transfer) => self.postMessage(m, transfer || []);

self.onmessage = async (e) => {
  const m = e.data;
  try {
    if (m.type === 'init') {
      linegate.initSync(m.module);
      ready = true;
      // The precision values each endpoint's clients send, and how each is read: the
      // package's, for the page's chooser (the page holds no wasm of its own).
      const precisions = {};
      for (const ep of ['/api/v2/write', '/write']) precisions[ep] = linegate.precisions(ep);
      post({ type: 'ready', version: linegate.version ? linegate.version() : '', precisions });
    } else if (m.type === 'check') {
      if (!ready) throw new Error('the checker is not initialised');
      post({ type: 'result', id: m.id, result: await check(m) });
    } else if (m.type === 'lines') {
      post({ type: 'lines', id: m.id, ...(await lines(m.from, m.count)) });
    }
  } catch (err) {
    post({ type: 'error', id: m.id, message: String(err && err.message ? err.message : err) });
  }
};

async function check({ id, source, options }) {
  const t0 = performance.now();
  const blob = source.blob; // a File, a Blob of pasted text, or the editor's bytes
  const gzip = decideGzip(options.encoding, source.name, await blob.slice(0, 2).arrayBuffer());

  // The check runs as the file is read (its stream into the package's Checker): the file
  // is never held in wasm memory, a gzip file is inflated as it comes, and progress is by
  // bytes of the file read so far.
  post({ type: 'progress', id, phase: 'parse', done: 0, total: blob.size, gzip });
  let last = 0;
  const opts = {
    precision: options.precision,
    now: options.now,
    limits: options.limits,
    warnings: true,
    summary: 48, // histogram bars
    size: blob.size,
    onProgress: (done, total) => {
      if (done - last >= READ_CHUNK || done === total) {
        last = done;
        post({ type: 'progress', id, phase: 'parse', done, total, gzip });
      }
    },
  };
  if (gzip) opts.contentEncoding = 'gzip';
  // v1's /write: its precision rules (never rejected, u/m/h read as ns) and its warning.
  if (options.endpoint === '/write') opts.endpoint = '/write';
  const v = await linegate.checkStream(blob.stream(), opts);
  // A partial write (spec Part D.1): when some lines pass and some do not, the split as the
  // server would make it, from the package's request check (an authorized write naming an
  // org and bucket, as the batch check assumes).
  const partial = options.partial && v.status === 400 && v.rejected > 0 && v.points > 0 ? await split(blob, options, gzip) : null;
  const tParse = performance.now();
  const tRead = t0;

  // Random access to the decoded bytes, for excerpts and the viewer.
  if (!view || view.key !== source.key || view.gzip !== gzip) {
    view = { key: source.key, gzip, blob, source: gzip ? null : new ByteSource(blob) };
  }
  const diagnostics = await explain(v.diagnostics.slice(0, MAX_DIAGNOSTICS_SENT), gzip);

  return {
    status: v.status,
    headers: v.headers || null,
    body: v.body,
    code: v.code,
    line: v.line,
    precision: v.precision,
    gzip,
    size: blob.size,
    points: v.points,
    lines: v.lines,
    rejected: v.rejected,
    diagnostics,
    diagnosticsTotal: v.diagnostics.length,
    warnings: v.warnings,
    warningsTotal: v.warningsTotal,
    summary: v.summary,
    partial,
    ms: { read: tRead - t0, parse: tParse - tRead, total: performance.now() - t0 },
  };
}

const MAX_PARTIAL_SHOWN = 2000; // lines of each side the page lists
const PARTIAL_TEXT = 1 << 20; // bytes of the accepted lines shown

async function split(blob, options, gzip) {
  const v1 = options.endpoint === '/write';
  const query = `${v1 ? 'db=b' : 'org=o&bucket=b'}&precision=${encodeURIComponent(options.precision)}&accept_partial=true`;
  const headers = { authorization: 'Token t' };
  if (gzip) headers['content-encoding'] = 'gzip';
  const req = { endpoint: options.endpoint, query, headers, now: options.now, limits: options.limits, acceptPartial: 'request' };
  const p = await linegate.checkStream(blob.stream(), { request: req });
  if (p.action !== 'partial') return null;
  const dec = new TextDecoder('utf-8');
  const text = (t) => visible(typeof t === 'string' ? t : dec.decode(t));
  return {
    status: p.status,
    headers: p.headers,
    body: p.body,
    accepted: p.accepted,
    rejected: p.rejected,
    forwardBytes: p.forward.length,
    forward: dec.decode(p.forward.subarray(0, PARTIAL_TEXT)),
    kept: p.rejectedLines.slice(0, MAX_PARTIAL_SHOWN).map((l) => ({ line: l.line, reason: text(l.reason), text: text(l.text) })),
  };
}

function decideGzip(encoding, name, head) {
  if (encoding === 'gzip') return true;
  if (encoding === 'none') return false;
  return looksGzipped(name, head);
}

async function decodedSource() {
  if (!view) return null;
  if (!view.source && view.gzip) {
    try {
      view.source = new ByteSource(await gunzipToBlob(view.blob));
    } catch {
      view.gzip = 'corrupt'; // the verdict says what is wrong; there is nothing to show
      return null;
    }
  }
  return view.source;
}

// Adds to each diagnostic what the page shows: the package's excerpt of the line (core's one
// window, the CLI's too) split around the failing spot, and where that spot is as
// (physical line, UTF-16 column) for the editor.
async function explain(diags, gzip) {
  if (diags.length === 0) return [];
  const src = await decodedSource();
  const dec = new TextDecoder('utf-8');
  const out = [];
  for (const d of diags) {
    const at = Math.min(d.excerptSpot, d.excerpt.length);
    const cp = d.excerpt.codePointAt(at);
    const spotLen = cp === undefined ? 0 : cp > 0xffff ? 2 : 1;
    const x = {
      line: d.line,
      column: d.column,
      code: d.code,
      reason: d.reason,
      hint: d.hint,
      spans: d.spans,
      spotLine: d.line,
      spotCol: null,
      before: visible(d.excerpt.slice(0, at)),
      spot: visible(d.excerpt.slice(at, at + spotLen)),
      after: visible(d.excerpt.slice(at + spotLen)),
      cutBefore: d.excerptCutBefore,
      cutAfter: d.excerptCutAfter,
    };
    // Where the spot sits in the editor: lines joined by a stray quote move it down.
    if (src && d.column - 1 <= 8 << 20) {
      const head = await src.read(d.textStart, d.textStart + d.column - 1);
      let lf = -1;
      let n = 0;
      for (let i = head.indexOf(10); i !== -1; i = head.indexOf(10, i + 1)) {
        n++;
        lf = i;
      }
      x.spotLine = d.line + n;
      x.spotCol = dec.decode(head.subarray(lf + 1)).length;
    }
    out.push(x);
  }
  return out;
}

// Control characters that matter in line protocol made visible.
function visible(s) {
  return s.replace(/\r/g, '↵').replace(/\n/g, '⏎').replace(/\t/g, '⇥');
}

async function lines(from, count) {
  const src = await decodedSource();
  if (!src) return { lines: [], total: 0, unavailable: true };
  const r = await src.lines(from, count);
  const dec = new TextDecoder('utf-8');
  return {
    total: r.total,
    lines: r.lines.map((l) => ({ n: l.n, text: dec.decode(l.bytes).replace(/\r/g, '↵'), cut: l.cut })),
  };
}
