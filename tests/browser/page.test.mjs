// The page in real Chromium with the real wasm: paste, marks, jumps, .gz files, limits,
// cancel, offline. Each test saves a screenshot under test-output/browser/.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { open, shot, verdict, chooseFile } from './harness.mjs';
import { validate } from 'linegate';

let s;
let page;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'linegate-page-'));

before(async () => {
  s = await open('page');
  page = s.page;
  await s.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(s.url).origin });
});

after(async () => {
  await s.close();
  fs.rmSync(tmp, { recursive: true, force: true });
  assert.deepEqual(s.errors.map(String), [], 'no script errors on the page');
});

async function reset() {
  await page.goto(s.url);
  await page.waitForFunction(() => document.body.dataset.ready === 'true');
}

// A real paste: the text goes through the system clipboard and Ctrl+V.
async function paste(text) {
  await page.evaluate((t) => navigator.clipboard.writeText(t), text);
  await page.click('#text');
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Control+V');
}

const BATCH = [
  'weather,city=Oslo temp=21.5 1700000000000000000',
  'weather,city=Oslo temp=22.1 1700000000100000000',
  'weather,city=New York temp=19.0 1700000000200000000',
  'weather,city=Oslo temp=20.9 1700000000300000000',
  '',
].join('\n');

test('paste a bad batch: the right line is marked with the right reason', async () => {
  await reset();
  await paste(BATCH);
  const v = await verdict(page);
  assert.equal(v.status, 400);
  assert.equal(
    v.body,
    '{"code":"invalid","message":"unable to parse \'weather,city=New York temp=19.0 1700000000200000000\': invalid field format","line":3}',
  );
  // One rejected line, listed with line, column, reason, the failing spot and a hint.
  const items = await page.$$eval('#rejected .diag', (bs) =>
    bs.map((b) => ({
      line: b.dataset.line,
      where: b.querySelector('.where').textContent,
      reason: b.querySelector('.reason').textContent,
      spot: b.querySelector('.excerpt mark')?.textContent,
      excerpt: b.querySelector('.excerpt')?.textContent,
      hint: b.querySelector('.hint').textContent,
    })),
  );
  assert.equal(items.length, 1);
  assert.equal(items[0].where, 'Line 3, column 18');
  assert.equal(items[0].reason, 'invalid field format');
  assert.equal(items[0].excerpt, 'weather,city=New York temp=19.0 1700000000200000000');
  assert.equal(items[0].spot, 'Y');
  assert.match(items[0].hint, /space .* must be escaped/);
  // The gutter marks line 3 before any click; the accepted lines are not marked.
  assert.deepEqual(await page.$$eval('.gutter .ln.bad', (l) => l.map((e) => e.textContent)), ['3']);

  // Keyboard: Tab to the rejected line and press Enter → the editor jumps there and marks it.
  await page.focus('#rejected .diag');
  await page.keyboard.press('Enter');
  await page.waitForSelector('.mark-line.active');
  assert.deepEqual(await page.$$eval('.mark-line.active', (l) => l.map((e) => e.dataset.line)), ['3']);
  const sel = await page.evaluate(() => {
    const ta = document.getElementById('text');
    return { focused: document.activeElement === ta, start: ta.selectionStart, text: ta.value.slice(ta.selectionStart, ta.selectionEnd) };
  });
  assert.ok(sel.focused, 'the editor has the focus after the jump');
  assert.equal(sel.start, BATCH.indexOf('New York') + 4, 'the caret sits on the failing spot');
  assert.equal(sel.text, 'Y');
  // The spot marker is drawn on line 3.
  assert.equal(await page.$eval('.mark-spot', (e) => e.dataset.line), '3');

  // The summary counts the lines that parsed.
  const stat = (k) => page.$eval(`[data-stat=${k}] dd`, (e) => e.textContent);
  assert.equal(await stat('points'), '3');
  assert.equal(await stat('lines'), '4');
  assert.equal(await stat('rejected'), '1');
  await shot(page, 'paste-bad-batch');
});

test('a pasted CRLF batch keeps its CRs and gets the CRLF hint; fixing it gives 204', async () => {
  await reset();
  await page.fill('#now', '1700000000123456789');
  await paste('cpu,host=a usage=1i\r\ncpu,host=b usage=2i\r\n');
  const v = await verdict(page);
  assert.equal(v.status, 400);
  assert.equal(
    v.body,
    '{"code":"invalid","message":"unable to parse \'cpu,host=a usage=1i\\r\': invalid number\\nunable to parse \'cpu,host=b usage=2i\\r\': invalid number","line":1}',
  );
  const hints = await page.$$eval('#rejected .hint', (l) => l.map((e) => e.textContent));
  assert.equal(hints.length, 2);
  for (const h of hints) assert.match(h, /CRLF/);
  // The editor shows the CRs.
  assert.equal(await page.inputValue('#text'), 'cpu,host=a usage=1i\u21b5\ncpu,host=b usage=2i\u21b5\n');
  await shot(page, 'paste-crlf');

  // Editing the CRs away is checked as you type.
  await page.fill('#text', 'cpu,host=a usage=1i\ncpu,host=b usage=2i\n');
  const ok = await verdict(page);
  assert.equal(ok.status, 204);
  assert.equal(ok.body, '');
  assert.equal(await page.$eval('#verdict', (e) => e.dataset.state), 'ok');
  assert.equal(await page.$$eval('#rejected .diag', (l) => l.length), 0);
});

test('a long line: the page shows the package\'s excerpt window (the CLI\'s too), cut on both sides', async () => {
  await reset();
  const line = `m,host=${'a'.repeat(600)} f=1,g=oops,h="${'b'.repeat(600)}" 1`;
  await paste(`m f=1 1\n${line}\n`);
  await page.waitForSelector('#rejected .diag .excerpt');
  const shown = await page.$eval('#rejected .diag .excerpt', (e) => e.textContent);
  const mark = await page.$eval('#rejected .diag .excerpt mark', (e) => e.textContent);
  const [d] = validate(line).diagnostics;
  assert.ok(d.excerptCutBefore && d.excerptCutAfter, 'the window cuts this line on both sides');
  assert.equal(shown, `…${d.excerpt}…`);
  assert.equal(mark, d.excerpt[d.excerptSpot]);
  await shot(page, 'long-line-excerpt');
});

test('a stray quote: the diagnostic spans the swallowed lines and all of them are marked', async () => {
  await reset();
  await page.fill('#text', 'm f="abc\nm f=1 1000\nbad\nm f=2 2000\n');
  const v = await verdict(page);
  assert.equal(v.status, 400);
  // The marks are painted after the verdict arrives: wait for them, then compare them exactly.
  await page.waitForFunction(() => document.querySelectorAll('.gutter .ln.bad').length >= 4 && document.querySelector('#rejected .hint'));
  assert.equal(await page.$eval('#rejected .reason', (e) => e.textContent), 'unbalanced quotes');
  // Nothing closes the quote: it swallows every later line.
  assert.match(await page.$eval('#rejected .hint', (e) => e.textContent), /stray .*next 3 line/);
  assert.equal(await page.$eval('#rejected .where', (e) => e.textContent), 'Line 1, column 5');
  assert.deepEqual(await page.$$eval('.gutter .ln.bad', (l) => l.map((e) => e.textContent)), ['1', '2', '3', '4']);
  await page.click('#rejected .diag');
  await page.waitForFunction(() => document.querySelectorAll('.mark-line.active').length >= 4);
  assert.deepEqual(await page.$$eval('.mark-line.active', (l) => l.map((e) => e.dataset.line)), ['1', '2', '3', '4']);
  await shot(page, 'stray-quote');
});

test('a .gz file is decompressed and checked; the viewer shows the rejected line', async () => {
  await reset();
  const lines = [];
  for (let i = 1; i <= 3000; i++) lines.push(i === 2500 ? `disk,host=h${i % 7} used=12,free=oops ${1700000000 + i}` : `disk,host=h${i % 7} used=${i}i,free=${3000 - i}i ${1700000000 + i}`);
  const file = path.join(tmp, 'disk.lp.gz');
  fs.writeFileSync(file, zlib.gzipSync(`${lines.join('\n')}\n`));
  await page.selectOption('#precision', 's');
  await chooseFile(page, file);
  const v = await verdict(page);
  assert.equal(v.status, 400);
  assert.equal(v.body, `{"code":"invalid","message":"unable to parse '${lines[2499]}': invalid boolean","line":2500}`);
  assert.match(await page.textContent('#source'), /disk\.lp\.gz.*Content-Encoding: gzip/);
  // Compressed input goes to the read-only viewer, which opens at the first rejected line.
  assert.equal(await page.isVisible('#viewer'), true);
  await page.waitForSelector('#viewer-lines li.bad');
  assert.deepEqual(await page.$$eval('#viewer-lines li.bad', (l) => l.map((e) => e.dataset.line)), ['2500']);
  assert.equal(await page.$eval('#viewer-lines li.bad span:last-child', (e) => e.textContent), lines[2499]);
  const stat = (k) => page.$eval(`[data-stat=${k}] dd`, (e) => e.textContent);
  assert.equal(await stat('points'), '2,999');
  assert.equal(await stat('series'), '7');
  // Going to a line by number.
  await page.fill('#viewer-goto', '1234');
  await page.press('#viewer-goto', 'Enter');
  await page.waitForSelector('#viewer-lines li.active[data-line="1234"]');
  assert.equal(await page.$eval('#viewer-lines li.active span:last-child', (e) => e.textContent), lines[1233]);
  await shot(page, 'gz-file');

  // The same file with the encoding forced to "none" is what a server sees without the header.
  await page.selectOption('#encoding', 'none');
  const raw = await verdict(page);
  assert.equal(raw.status, 400);
  assert.match(raw.body, /^\{"code":"invalid","message":"unable to parse/);
});

test('a .gz file of several gzip members: the viewer shows what the check read (the package\'s gzip reader)', async () => {
  await reset();
  const lines = [];
  for (let i = 1; i <= 300; i++) lines.push(i === 250 ? `mm,host=h used=12,free=oops ${1700000000 + i}` : `mm,host=h used=${i}i ${1700000000 + i}`);
  // Two members, as Go's reader (hence InfluxDB) takes them; the rejected line is in the second.
  const text = `${lines.join('\n')}\n`;
  const cut = text.indexOf(`mm,host=h used=200i`);
  const file = path.join(tmp, 'members.lp.gz');
  fs.writeFileSync(file, Buffer.concat([zlib.gzipSync(text.slice(0, cut)), zlib.gzipSync(text.slice(cut))]));
  await page.selectOption('#precision', 's');
  await chooseFile(page, file);
  const v = await verdict(page);
  assert.equal(v.status, 400);
  assert.equal(JSON.parse(v.body).line, 250);
  await page.waitForSelector('#viewer-lines li.bad');
  assert.deepEqual(await page.$$eval('#viewer-lines li.bad', (l) => l.map((e) => e.dataset.line)), ['250']);
  assert.equal(await page.$eval('#viewer-lines li.bad span:last-child', (e) => e.textContent), lines[249]);
});

test('drag and drop a file onto the page', async () => {
  await reset();
  // A real DataTransfer holding a File, dispatched as the browser does for a drop.
  const dt = await page.evaluateHandle(() => {
    const d = new DataTransfer();
    d.items.add(new File(['net,if=eth0 rx=1u,tx=2u 1700000000000000000\nnet,if=eth0 rx=-1u 1700000001000000000\n'], 'net.lp', { type: 'text/plain' }));
    return d;
  });
  await page.dispatchEvent('#drop', 'dragenter', { dataTransfer: dt });
  assert.equal(await page.$eval('#drop', (e) => e.classList.contains('over')), true, 'the drop zone lights up');
  await page.dispatchEvent('#drop', 'dragover', { dataTransfer: dt });
  await page.dispatchEvent('#drop', 'drop', { dataTransfer: dt });
  const v = await verdict(page);
  assert.equal(v.status, 400);
  assert.equal(v.body, '{"code":"invalid","message":"unable to parse \'net,if=eth0 rx=-1u 1700000001000000000\': invalid number","line":2}');
  assert.match(await page.textContent('#source'), /net\.lp/);
  assert.equal(await page.$eval('#drop', (e) => e.classList.contains('over')), false);
  // A small plain file is shown in the editor, with its rejected line marked.
  assert.deepEqual(await page.$$eval('.gutter .ln.bad', (l) => l.map((e) => e.textContent)), ['2']);
  await shot(page, 'drop-file');
});

test('limits: a batch at the size limit gets the server\'s 413', async () => {
  await reset();
  await page.click('.limits summary');
  await page.fill('#max-batch', '16');
  await page.fill('#text', 'm f=1 1000\nm f=2 2000\n');
  const v = await verdict(page);
  assert.equal(v.status, 413);
  assert.equal(v.body, '{"code":"request too large","message":"unable to read data: points batch is too large"}');
  await page.fill('#max-batch', 'lots');
  await page.waitForFunction(() => document.body.dataset.state === 'invalid');
  assert.match(await page.textContent('#limits-error'), /Max batch/);
  assert.equal(await page.getAttribute('#max-batch', 'aria-invalid'), 'true');
  await page.fill('#max-batch', '1k');
  assert.equal((await verdict(page)).status, 204);
  await shot(page, 'limits');
});

test('precision and "now" change the answer as the server\'s would', async () => {
  await reset();
  await page.fill('#now', '1700000000123456789');
  await page.fill('#text', 'm f=1 1700000000000\n');
  await page.selectOption('#precision', 's');
  const v = await verdict(page);
  assert.equal(v.status, 400);
  assert.match(v.body, /time outside range/);
  assert.match(await page.textContent('#rejected .hint'), /milliseconds/);
  await page.selectOption('#precision', 'ms');
  assert.equal((await verdict(page)).status, 204);
  // A line without a timestamp gets "now" truncated to the precision.
  await page.fill('#text', 'm f=1\n');
  await verdict(page);
  assert.match(await page.textContent('[data-stat=time-range]'), /2023-11-14T22:13:20\.123000000Z/);
  await shot(page, 'precision-now');
});

test('copy puts the exact body on the clipboard', async () => {
  await reset();
  await page.fill('#text', 'm f=1\nm,t=x f=tru\n');
  const v = await verdict(page);
  assert.equal(v.status, 400);
  await page.click('#copy-body');
  await page.waitForFunction(() => document.getElementById('copy-body').textContent === 'Copied');
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), v.body);
  await shot(page, 'copy');
});

test('works offline once loaded', async () => {
  await reset();
  await page.waitForFunction(() => document.body.dataset.offline === 'ready');
  // The service worker must control the page before going offline.
  await page.reload();
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null);
  await s.context.setOffline(true);
  try {
    await page.reload();
    await page.waitForFunction(() => document.body.dataset.ready === 'true');
    await page.fill('#text', 'm f=1 1\nm f=x 2\n');
    const v = await verdict(page);
    assert.equal(v.status, 400);
    assert.equal(v.body, '{"code":"invalid","message":"unable to parse \'m f=x 2\': invalid boolean","line":2}');
    await shot(page, 'offline');
  } finally {
    await s.context.setOffline(false);
  }
});

test('accessibility: no axe-core violations with results shown, in light and dark schemes', async () => {
  const axe = fs.readFileSync(new URL('../../node_modules/axe-core/axe.min.js', import.meta.url), 'utf8');
  await reset();
  await page.fill('#text', `${BATCH}m f=1,time=2 1700000000400000000\n`);
  await verdict(page);
  await page.click('#send-box summary');
  await page.click('.limits summary');
  for (const scheme of ['light', 'dark']) {
    await page.emulateMedia({ colorScheme: scheme });
    await page.evaluate(axe); // evaluated through the devtools protocol, so the page's CSP allows it
    const found = await page.evaluate(async () => {
      const r = await window.axe.run(document, { resultTypes: ['violations'] });
      return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
    });
    assert.deepEqual(found, [], `${scheme}: ${JSON.stringify(found, null, 1)}`);
    await shot(page, `a11y-${scheme}`);
  }
  await page.emulateMedia({ colorScheme: 'light' });
});
