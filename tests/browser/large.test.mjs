// A 50 MB generated batch (shared/bench/gen.py, telegraf) checked in the page: it finishes,
// the page stays responsive while it runs (input is handled, no long main-thread tasks),
// progress is shown, the counts are right; the gzip form too; cancel stops a check.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { open, shot, verdict, chooseFile, root, shared } from './harness.mjs';

const dataDir = path.join(root, 'test-output', 'browser-data');
const lp = path.join(dataDir, 'telegraf.lp');
const gz = path.join(dataDir, 'telegraf.lp.gz');
const SIZE = 52428856; // what gen.py writes for --size-mb 50 (deterministic)

let s;
let page;
let lines = 0;

before(async () => {
  if (!fs.existsSync(lp) || fs.statSync(lp).size !== SIZE || !fs.existsSync(gz)) {
    fs.mkdirSync(dataDir, { recursive: true });
    execFileSync('python3', [path.join(shared, 'bench', 'gen.py'), '--out', dataDir, '--size-mb', '50', '--datasets', 'telegraf'], { stdio: 'inherit' });
  }
  // Physical lines, counted here independently of the page.
  const buf = fs.readFileSync(lp);
  for (let i = buf.indexOf(10); i !== -1; i = buf.indexOf(10, i + 1)) lines++;
  s = await open('large');
  page = s.page;
});

after(async () => {
  await s.close();
  assert.deepEqual(s.errors.map(String), [], 'no script errors on the page');
});

// Records, in the page, what a person would feel: input events and their delay, long tasks,
// the phases and values the progress bar went through, and when checks start and end.
async function instrument() {
  await page.evaluate(() => {
    const rec = (window.__rec = { inputs: [], longTasks: [], progress: [], states: [] });
    new PerformanceObserver((l) => {
      for (const e of l.getEntries()) rec.longTasks.push({ start: e.startTime, ms: e.duration });
    }).observe({ type: 'longtask' });
    const bucket = document.getElementById('send-bucket');
    bucket.addEventListener('input', (e) => {
      rec.inputs.push({ at: performance.now(), delay: performance.now() - e.timeStamp, state: document.body.dataset.state, value: bucket.value });
    });
    const bar = document.getElementById('progress');
    new MutationObserver(() => {
      if (!document.getElementById('progress-box').hidden) rec.progress.push({ phase: bar.dataset.phase, value: bar.hasAttribute('value') ? bar.value : null, label: document.getElementById('progress-label').textContent });
    }).observe(document.getElementById('progress-box'), { attributes: true, subtree: true, childList: true, characterData: true });
    new MutationObserver(() => rec.states.push({ at: performance.now(), state: document.body.dataset.state })).observe(document.body, { attributes: true, attributeFilter: ['data-state'] });
  });
}

test('a 50 MB file: finishes, stays responsive, shows progress and the counts', async () => {
  await page.click('#send-box summary'); // the send form's inputs are what we type into
  await instrument();
  // Type while it checks, without pausing to look (the check can take under half a
  // second): each key is a real input event the main thread must handle.
  await page.focus('#send-bucket');
  let typed = '';
  let typing = true;
  const typer = (async () => {
    while (typing && typed.length < 400) {
      await page.keyboard.type('x');
      typed += 'x';
    }
  })();
  await chooseFile(page, lp);
  await page.waitForFunction(() => document.body.dataset.state !== 'idle');
  if (await page.isVisible('#progress-box')) await shot(page, 'large-50mb-progress');
  const v = await verdict(page, { timeout: 120000 });
  typing = false;
  await typer;
  const rec = await page.evaluate(() => window.__rec);
  const start = rec.states.find((x) => x.state === 'checking').at;
  const end = rec.states.find((x) => x.state === 'done').at;

  assert.equal(v.status, 204);
  assert.equal(v.body, '');
  const stat = (k) => page.$eval(`[data-stat=${k}] dd`, (e) => e.textContent);
  const n = lines.toLocaleString('en-US');
  assert.equal(await stat('lines'), n);
  assert.equal(await stat('points'), n, 'every generated line is a point');
  assert.equal(await stat('rejected'), '0');
  assert.ok(Number((await stat('measurements')).replace(/,/g, '')) >= 10);
  assert.match(await page.textContent('#check-status'), new RegExp(`Checked ${n} lines`));
  assert.equal(await page.$$eval('figure.chart', (f) => f.length), 2, 'both charts drawn');

  // Responsive: input events landed while the check ran, were handled promptly, and the
  // field shows every key typed.
  const during = rec.inputs.filter((i) => i.at > start && i.at < end);
  const seen = rec.inputs.map((i) => `${Math.round(i.at - start)}+${Math.round(i.delay)}`).join(' ');
  assert.ok(during.length >= 1, `input handled during the check (${rec.inputs.length} inputs at ms from its start + delay: ${seen}; check ${Math.round(end - start)} ms; states ${JSON.stringify(rec.states.map((x) => [x.state, Math.round(x.at - start)]))})`);
  assert.equal(await page.inputValue('#send-bucket'), typed);
  const slowest = Math.max(...rec.inputs.map((i) => i.delay));
  assert.ok(slowest < 500, `slowest input event waited ${Math.round(slowest)} ms`);
  const longDuring = rec.longTasks.filter((t) => t.start > start && t.start < end && t.ms > 250);
  assert.deepEqual(longDuring, [], 'no main-thread task over 250 ms while checking');

  // Progress went through reading (by bytes) and checking (by lines).
  const phases = new Set(rec.progress.map((p) => p.phase));
  assert.ok(phases.has('read') && phases.has('parse'), `progress phases: ${[...phases]}`);
  assert.ok(rec.progress.some((p) => p.phase === 'parse' && p.value > 0 && p.value < 1), 'parse progress between 0 and 1');
  assert.equal(await page.isVisible('#progress-box'), false, 'progress hidden when done');
  await shot(page, 'large-50mb-done');
  console.log(`# 50 MB check: ${Math.round(end - start)} ms in the page, ${during.length} input events during it, slowest input delay ${Math.round(slowest)} ms`);
});

test('the same data gzipped (12 MB .gz) gives the same counts', async () => {
  await instrument();
  await chooseFile(page, gz);
  const v = await verdict(page, { timeout: 120000 });
  // Progress: checked as it is read, by bytes of the compressed file (a known fraction).
  const progress = await page.evaluate(() => window.__rec.progress);
  assert.deepEqual([...new Set(progress.map((p) => p.phase))], ['read', 'parse']);
  assert.ok(progress.some((p) => p.phase === 'parse' && p.value > 0 && p.value < 1), 'gzip progress between 0 and 1');
  assert.equal(v.status, 204);
  const n = lines.toLocaleString('en-US');
  assert.equal(await page.$eval('[data-stat=points] dd', (e) => e.textContent), n);
  assert.match(await page.textContent('#source'), /telegraf\.lp\.gz.*gzip/);
  // The viewer shows the decompressed lines.
  await page.waitForSelector('#viewer-lines li[data-line="1"]');
  const first = fs.readFileSync(lp, 'utf8').slice(0, 2000).split('\n')[0];
  assert.equal(await page.$eval('#viewer-lines li[data-line="1"] span:last-child', (e) => e.textContent), first);
  await shot(page, 'large-50mb-gz');
});

test('cancel stops a running check, and the page goes on working', async () => {
  await instrument();
  // Cancel the moment the check starts, from the page itself: the 50 MB check can finish in
  // under half a second, before a click sent from here would land.
  await page.evaluate(() => {
    const o = new MutationObserver(() => {
      if (document.body.dataset.state !== 'checking') return;
      o.disconnect();
      window.__cancelShown = !document.getElementById('progress-box').hidden;
      document.getElementById('cancel').click();
    });
    o.observe(document.body, { attributes: true, attributeFilter: ['data-state'] });
  });
  await chooseFile(page, lp);
  await page.waitForFunction(() => document.body.dataset.state === 'cancelled');
  assert.equal(await page.evaluate(() => window.__cancelShown), true, 'Cancel was shown while the check ran');
  assert.equal(await page.isVisible('#progress-box'), false);
  assert.equal(await page.textContent('#check-status'), 'Cancelled.');
  const rec = await page.evaluate(() => window.__rec);
  assert.ok(!rec.states.some((x) => x.state === 'done'), 'the cancelled check never reported a result');
  await shot(page, 'large-cancelled');
  // A new check works (a fresh worker).
  await page.click('#source button'); // Clear
  await page.fill('#text', 'm f=1 1\nm f 2\n');
  const v = await verdict(page);
  assert.equal(v.status, 400);
  assert.equal(v.body, '{"code":"invalid","message":"unable to parse \'m f 2\': invalid field format","line":2}');
});
