// The verdict the page shows equals InfluxDB's recorded answer (shared/corpus) for a sample
// of corpus cases, loaded through the page's file picker exactly as a user would.
//
// LINEGATE_CORPUS_STRIDE=N checks every Nth eligible row (default 10); 1 checks them all.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { open, shot, verdict, chooseFile } from './harness.mjs';
import { CORPUS as corpus, corpusRows, expectedBody } from '../support/corpus.mjs';

const STRIDE = Math.max(1, Number(process.env.LINEGATE_CORPUS_STRIDE || 10));
// The corpus's one deflate case whose Go message carries a byte offset that may differ.
const OFFSET_EXEMPT = new Set(['gzip/g0011-gz-corrupt-deflate.gz']);

// Rows the page can reproduce: its precision selector has ns/us/ms/s (invalid precisions are
// the server's 400 for a hand-made URL, not something the page can send), its encoding
// selector none/gzip, and its limits the body/batch sizes.
function plan(row) {
  const base = { precision: row.precision, encoding: 'none', maxBatch: '', gzipHere: false };
  const m = /^precision=(ns|us|ms|s)$/.exec(row.run);
  if (m) return row.file.endsWith('.gz') ? null : base;
  switch (row.run) {
    case 'precision-absent':
      return { ...base, precision: 'ns' };
    case 'ce=gzip(.gz files)':
      return { ...base, precision: row.precision || 'ns', encoding: 'auto' }; // by the .gz name
    case 'ce=GZIP(not recognised)':
    case 'ce=deflate(not recognised)':
    case 'ce=identity':
      return { ...base, precision: row.precision || 'ns', encoding: 'none' };
    case 'ce=gzip,plain-body':
      return { ...base, precision: row.precision || 'ns', encoding: 'gzip' };
    case 'gzip-compressed-by-oracle':
    case 'gzip-compressed-by-oracle,precision=s':
      return { ...base, precision: row.precision || 'ns', encoding: 'auto', gzipHere: true };
    default: {
      const mb = /^max-batch-bytes=(\d+)/.exec(row.run);
      if (mb) return { ...base, precision: row.precision || 'ns', maxBatch: mb[1] };
      return null;
    }
  }
}

function rows() {
  const all = [];
  for (const row of corpusRows()) {
    const p = plan(row);
    if (p) all.push({ row, p });
  }
  // The four precision runs and the oracle's gzip runs are sampled with a stride; the few
  // special runs are all kept. Grouping by options saves re-checks when they change.
  const sampled = /^(precision=(ns|us|ms|s)|gzip-compressed-by-oracle)$/;
  const key = ({ p }) => `${p.precision} ${p.encoding} ${p.maxBatch}`;
  return all
    .filter(({ row }, i) => !sampled.test(row.run) || i % STRIDE === 0)
    .sort((a, b) => key(a).localeCompare(key(b)));
}

let s;
let page;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'linegate-corpus-'));

before(async () => {
  s = await open('corpus');
  page = s.page;
  await s.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(s.url).origin });
  await page.fill('#now', '1700000000123456789'); // the corpus server's clock
  await page.click('.limits summary');
});

after(async () => {
  await s.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('the verdict shown equals the corpus answer (status and body, byte for byte)', async () => {
  const sample = rows();
  assert.ok(sample.length > 150, `sample of ${sample.length} rows`);
  const current = { precision: 'ns', encoding: 'auto', maxBatch: '' };
  const mismatches = [];
  const seen = { statuses: new Set(), runs: new Set() };
  let copied = 0;
  let lastBad = null;
  for (const { row, p } of sample) {
    // Options first, settled, then the file: the verdict read is the file's.
    if (p.precision !== current.precision) await page.selectOption('#precision', (current.precision = p.precision));
    if (p.encoding !== current.encoding) await page.selectOption('#encoding', (current.encoding = p.encoding));
    if (p.maxBatch !== current.maxBatch) await page.fill('#max-batch', (current.maxBatch = p.maxBatch));
    await page.waitForFunction(() => document.body.dataset.pending === 'false');
    let file = path.join(corpus, 'cases', row.file);
    if (p.gzipHere) {
      file = path.join(tmp, `${path.basename(row.file)}.gz`);
      fs.writeFileSync(file, zlib.gzipSync(fs.readFileSync(path.join(corpus, 'cases', row.file))));
    }
    await chooseFile(page, file);
    const v = await verdict(page);
    let body = v.body;
    if (!v.full) {
      // Long bodies are cut on screen; Copy gives the whole of it.
      await page.click('#copy-body');
      body = await page.evaluate(() => navigator.clipboard.readText());
      copied++;
    }
    const want = expectedBody(row);
    const same = OFFSET_EXEMPT.has(row.file)
      ? v.status === row.status && JSON.parse(body).code === JSON.parse(row.body).code
      : v.status === row.status && body === want;
    if (!same) mismatches.push({ run: row.run, file: row.file, want: [row.status, want.slice(0, 300)], got: [v.status, body.slice(0, 300)] });
    seen.statuses.add(v.status);
    seen.runs.add(row.run);
    if (v.status === 400) lastBad = row.file;
  }
  // Leave a screenshot of a rejected case for people to look at.
  if (lastBad) {
    await page.selectOption('#encoding', 'auto');
    await page.fill('#max-batch', '');
    await chooseFile(page, path.join(corpus, 'cases', lastBad));
    await verdict(page);
  }
  await shot(page, 'corpus-sample');
  assert.deepEqual(mismatches, [], `${mismatches.length} of ${sample.length} rows differ`);
  // The sample really covers the kinds of answers.
  for (const st of [204, 400, 413, 500]) assert.ok(seen.statuses.has(st), `status ${st} covered`);
  console.log(`# corpus rows checked in the page: ${sample.length} (stride ${STRIDE}), ${copied} long bodies read through Copy, runs: ${[...seen.runs].join(', ')}`);
});
