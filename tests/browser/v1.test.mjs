// The page at v1's /write (the endpoint selector): the v1 precision list, the warning for
// precision u/m/h with given timestamps (line and fix, as the package gives it), a malformed
// v1 batch marked as the v1 corpus says, a sample of the v1 corpus through the file picker,
// and "Send" to the Worker's /write (wrangler dev) in front of linegate-backend: 204 and the
// points read back, with db and rp. The v2 defaults stay as they were.
//
// LINEGATE_V1_CORPUS_STRIDE=N checks every Nth eligible v1 row (default 5); 1 checks all.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { open, shot, verdict, chooseFile, pressSend } from './harness.mjs';
import { startBackend, startWorker } from './services.mjs';
import { CORPUS as corpus, hasCorpus, corpusRows, expectedBody, NOW } from '../support/corpus.mjs';
import { validate } from 'linegate';

const hasV1Corpus = hasCorpus && fs.existsSync(path.join(corpus, 'v1-expected.jsonl'));
const skipCorpus = hasV1Corpus ? false : '../shared/corpus is absent (it sits beside the project root in CI): v1 corpus cases skipped';
const STRIDE = Math.max(1, Number(process.env.LINEGATE_V1_CORPUS_STRIDE || 5));
const V1_PRECISIONS = ['n', 'u', 'us', 'ms', 's', 'm', 'h'];

let s;
let page;

before(async () => {
  s = await open('v1');
  page = s.page;
});

after(async () => {
  await s.close();
  // The server's 4xx answers to Send show in Chromium's console as failed loads: not script errors.
  const errors = s.errors.map(String).filter((e) => !/Failed to load resource: the server responded with a status of 4\d\d/.test(e));
  assert.deepEqual(errors, [], 'no script errors on the page');
});

async function reset() {
  await page.goto(s.url);
  await page.waitForFunction(() => document.body.dataset.ready === 'true');
}

const options = (id) => page.$$eval(`#${id} option`, (os) => os.map((o) => o.value));

async function warnings() {
  return page.$$eval('#warnings li', (ls) =>
    ls.map((l) => ({ kind: l.dataset.kind, line: l.querySelector('button')?.textContent, text: l.textContent })),
  );
}

test('the endpoint selector: v2 by default, /write brings the v1 precisions, and back', async () => {
  await reset();
  assert.equal(await page.inputValue('#endpoint'), '/api/v2/write');
  assert.deepEqual(await options('precision'), ['ns', 'us', 'ms', 's']);
  assert.equal(await page.inputValue('#precision'), 'ns');
  assert.equal(await page.isVisible('#send-org'), false); // the send box is closed
  await page.click('#send-box summary');
  assert.ok(await page.isVisible('#send-org'));
  assert.ok(!(await page.isVisible('#send-db')));

  await page.selectOption('#precision', 's');
  await page.selectOption('#endpoint', '/write');
  assert.deepEqual(await options('precision'), V1_PRECISIONS);
  assert.equal(await page.inputValue('#precision'), 's', 'a unit both lists have stays chosen');
  assert.ok(await page.isVisible('#send-db'));
  assert.ok(await page.isVisible('#send-rp'));
  assert.ok(!(await page.isVisible('#send-org')));
  await page.selectOption('#precision', 'h');
  await page.selectOption('#endpoint', '/api/v2/write');
  assert.deepEqual(await options('precision'), ['ns', 'us', 'ms', 's']);
  assert.equal(await page.inputValue('#precision'), 'ns', 'h is not a v2 precision');
  assert.ok(await page.isVisible('#send-org'));
});

test('/write at precision u with timestamps: the v1-precision warning on the right line, with the fix', async () => {
  await reset();
  const now = '1700000000123456789';
  await page.fill('#now', now);
  const body = 'm,host=a f=1\ncpu,host=a usage=0.5 1700000000123456\ncpu,host=b usage=0.7 1700000000123457\n';
  await page.selectOption('#endpoint', '/write');
  await page.selectOption('#precision', 'u');
  await page.fill('#text', body);
  const v = await verdict(page);
  // OSS takes it (204): the timestamps are read as nanoseconds, so it warns.
  assert.equal(v.status, 204);
  const w = (await warnings()).filter((x) => x.kind === 'v1-precision');
  assert.equal(w.length, 1, JSON.stringify(await warnings()));
  assert.equal(w[0].line, 'line 2');
  // The package's own warning, word for word (core's text, not the page's).
  const want = validate(new TextEncoder().encode(body), { endpoint: '/write', precision: 'u', now: BigInt(now), warnings: true })
    .warnings.find((x) => x.kind === 'v1-precision');
  assert.ok(want, 'the package warns too');
  assert.equal(w[0].text, `line 2 ${want.message}`);
  assert.match(w[0].text, /precision=u on \/write: InfluxDB reads timestamp 1700000000123456 as nanoseconds .*send precision=us/);
  // The warning's button jumps to the line.
  await page.click('#warnings li[data-kind="v1-precision"] button');
  const caretLine = await page.$eval('#text', (t) => t.value.slice(0, t.selectionStart).split('\n').length);
  assert.equal(caretLine, 2);
  await shot(page, 'v1-precision-warning');

  // The fix: precision=us, no warning. m and h warn too; n does not (it means ns). (At s these
  // µs timestamps would be out of range: a 400.)
  for (const [p, warned] of [['us', false], ['m', true], ['h', true], ['n', false]]) {
    await page.selectOption('#precision', p);
    assert.equal((await verdict(page)).status, 204, p);
    const n = (await warnings()).filter((x) => x.kind === 'v1-precision').length;
    assert.equal(n, warned ? 1 : 0, `precision ${p}`);
  }
  // The same batch at v2 with its default precision: v2's check, no v1 warning.
  await page.selectOption('#endpoint', '/api/v2/write');
  assert.equal((await verdict(page)).status, 204);
  assert.equal((await warnings()).filter((x) => x.kind === 'v1-precision').length, 0);
});

test('accessibility at /write: no axe-core violations with the v1 warning and the db/rp fields shown', async () => {
  const axe = fs.readFileSync(new URL('../../node_modules/axe-core/axe.min.js', import.meta.url), 'utf8');
  await reset();
  await page.selectOption('#endpoint', '/write');
  await page.selectOption('#precision', 'h');
  await page.fill('#text', 'cpu v=1 1700000000\n');
  await verdict(page);
  assert.equal(await page.locator('#warnings li[data-kind="v1-precision"]').count(), 1);
  await page.click('#send-box summary');
  await page.evaluate(axe); // through the devtools protocol, so the page's CSP allows it
  const found = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
  });
  assert.deepEqual(found, [], JSON.stringify(found, null, 1));
  await shot(page, 'v1-a11y');
});

test('/write takes precision h (v2 refuses it)', async () => {
  await reset();
  await page.selectOption('#endpoint', '/write');
  await page.selectOption('#precision', 'h');
  await page.fill('#text', 'cpu v=1 1700000000\n');
  const v = await verdict(page);
  assert.equal(v.status, 204);
  assert.equal(v.body, '');
});

function v1Rows() {
  return corpusRows('v1-expected.jsonl');
}

// The v1 corpus rows the page can express: a precision of its v1 list, plain files.
const V1_RUN = new RegExp(`^v1-precision=\\[(${V1_PRECISIONS.join('|')})\\]$`);

test('a malformed v1 batch is marked with the exact reason of the v1 corpus', { skip: skipCorpus }, async () => {
  await reset();
  await page.fill('#now', NOW.toString());
  // A precision only /write takes, and a rejected line deep in the file.
  const row = v1Rows().find((r) => r.run === 'v1-precision=[h]' && r.status === 400 && r.failures?.length === 1 && r.failures[0].line > 10);
  assert.ok(row, 'the v1 corpus has a precision=h case rejected after line 10');
  await page.selectOption('#endpoint', '/write');
  await page.selectOption('#precision', 'h');
  await page.waitForFunction(() => document.body.dataset.pending === 'false');
  await chooseFile(page, path.join(corpus, 'cases', row.file));
  const v = await verdict(page);
  assert.equal(v.status, 400);
  assert.equal(v.body, expectedBody(row));
  const items = await page.$$eval('#rejected .diag', (bs) =>
    bs.map((b) => ({ line: Number(b.dataset.line), reason: b.querySelector('.reason').textContent })),
  );
  assert.deepEqual(items, [{ line: Number(row.failures[0].line), reason: row.failures[0].reason }]);
  await shot(page, 'v1-corpus-rejected');
});

test('a sample of the v1 corpus through the page at /write: status and body byte for byte', { skip: skipCorpus, timeout: 180000 }, async () => {
  await reset();
  await page.fill('#now', NOW.toString());
  await page.selectOption('#endpoint', '/write');
  const eligible = v1Rows().filter((r) => V1_RUN.test(r.run));
  const sample = eligible.filter((_, i) => i % STRIDE === 0).sort((a, b) => a.precision.localeCompare(b.precision));
  assert.ok(sample.length > 200 || STRIDE > 20, `sample of ${sample.length} rows`);
  let current = null;
  const mismatches = [];
  const stalls = [];
  const statuses = new Set();
  const t0 = Date.now();
  for (const row of sample) {
    if (row.precision !== current) {
      await page.selectOption('#precision', (current = row.precision));
      await page.waitForFunction(() => document.body.dataset.pending === 'false');
    }
    await chooseFile(page, path.join(corpus, 'cases', row.file));
    let v;
    try {
      v = await verdict(page);
    } catch (e) {
      // A check that never settled (seen in 2 of 4 full-stage runs, never alone; cause not
      // yet found): say where and in what state, cancel, and check the same file once more.
      const state = await page.evaluate(() => ({ ...document.body.dataset, status: document.getElementById('check-status').textContent }));
      stalls.push({ file: row.file, precision: row.precision, state, error: e.message });
      console.log(`# stalled on ${row.file} (precision ${row.precision}): ${JSON.stringify(state)}`);
      await page.evaluate(() => document.getElementById('cancel').click());
      await chooseFile(page, path.join(corpus, 'cases', row.file));
      v = await verdict(page);
    }
    const want = expectedBody(row);
    // Bodies cut on screen (over 200,000 characters) do not occur in the v1 corpus.
    assert.ok(v.full, row.file);
    if (v.status !== row.status || v.body !== want) {
      mismatches.push({ run: row.run, file: row.file, want: [row.status, want.slice(0, 300)], got: [v.status, v.body.slice(0, 300)] });
    }
    statuses.add(v.status);
  }
  assert.deepEqual(mismatches, [], `${mismatches.length} of ${sample.length} rows differ`);
  assert.ok(stalls.length <= 1, `the page stalled on ${stalls.length} rows: ${JSON.stringify(stalls)}`);
  assert.deepEqual([...statuses].sort(), [204, 400]);
  console.log(`# v1 corpus rows checked in the page: ${sample.length} of ${eligible.length} (stride ${STRIDE}) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
});

test('Send at /write: the Worker forwards to the backend\'s /write (db, rp, precision), 204, points read back', { timeout: 180000 }, async () => {
  // The bucket `tele/week` is what v1's db=tele&rp=week maps to (its virtual DBRP mapping).
  const SETUP = { org: 'acme', bucket: 'tele/week', token: 'www-v1-token' };
  const backend = await startBackend(SETUP);
  const worker = await startWorker({ backend: backend.url, origin: new URL(s.url).origin });
  try {
    await reset();
    await page.selectOption('#endpoint', '/write');
    await page.selectOption('#precision', 'ms');
    const good = 'cpu,host=a usage=0.5 1700000000123\ncpu,host=b usage=0.7 1700000000124\nmem,host=a used=12i 1700000000125\n';
    await page.fill('#text', good);
    assert.equal((await verdict(page)).status, 204);
    const sendForm = ({ db = 'tele', rp = 'week', token = SETUP.token } = {}) =>
      pressSend(page, { 'send-url': worker.url, 'send-db': db, 'send-rp': rp, 'send-token': token });
    const a = await sendForm();
    assert.equal(a.status, '204', `${a.text} ${a.body}`);
    assert.match(a.text, /\/write$/, 'sent to /write');
    const stored = backend.export().trim().split('\n');
    assert.deepEqual(stored.toSorted(), [
      'cpu,host=a usage=0.5 1700000000123000000',
      'cpu,host=b usage=0.7 1700000000124000000',
      'mem,host=a used=12i 1700000000125000000',
    ]);
    await shot(page, 'v1-send-204');

    // A bad v1 batch: the server answers the 400 the page predicted; nothing is stored.
    await page.fill('#text', 'cpu,host=a usage=0.5 1700000000126\ncpu usage=oops 1700000000127\n');
    const v = await verdict(page);
    assert.equal(v.status, 400);
    const b = await sendForm();
    assert.equal(b.status, '400');
    assert.equal(b.body, v.body);
    // An rp with no mapping: the backend's 404; a db is required by the form.
    await page.fill('#text', good);
    await verdict(page);
    const c = await sendForm({ rp: 'nope' });
    assert.equal(c.status, '404');
    assert.match(c.body, /"code":"not found"/);
    await page.fill('#send-db', '');
    await page.click('#send-go');
    assert.match(await page.textContent('#send-text'), /Fill in: Database/);
    assert.equal(await page.getAttribute('#send-db', 'aria-invalid'), 'true');
    assert.equal(backend.export().trim().split('\n').length, 3, 'nothing more stored');
  } finally {
    await worker.close();
    await backend.close();
  }
});
