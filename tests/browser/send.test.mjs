// "Send": the page POSTs the checked batch to a local Worker (wrangler dev) in front of
// linegate-backend, and shows the answer: 204 for a good batch (and the backend stores it),
// the same 400 the page predicted for a bad one, gzip passed through, 401 for a bad token.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { open, shot, verdict, chooseFile, pressSend } from './harness.mjs';
import { startBackend, startWorker, freePort } from './services.mjs';

const SETUP = { org: 'acme', bucket: 'metrics', token: 'www-test-token' };
let s;
let page;
let backend;
let worker;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'linegate-send-'));

before(async () => {
  s = await open('send');
  page = s.page;
  backend = await startBackend(SETUP);
  worker = await startWorker({ backend: backend.url, origin: new URL(s.url).origin });
});

after(async () => {
  if (worker) await worker.close();
  if (backend) await backend.close();
  if (s) await s.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

function sendForm({ url = worker.url, token = SETUP.token } = {}) {
  return pressSend(page, { 'send-url': url, 'send-org': SETUP.org, 'send-bucket': SETUP.bucket, 'send-token': token });
}

const GOOD = ['cpu,host=a usage=0.5 1700000000', 'cpu,host=b usage=0.7 1700000001', 'mem,host=a used=12i 1700000002', ''].join('\n');

test('a checked batch sent to the Worker is written: 204 shown, the backend has the points', async () => {
  await page.selectOption('#precision', 's');
  await page.fill('#text', GOOD);
  const v = await verdict(page);
  assert.equal(v.status, 204);
  const a = await sendForm();
  assert.equal(a.status, '204', `${a.text} ${a.body}`);
  assert.equal(a.body, '');
  assert.equal(await page.$eval('#send-result', (e) => e.dataset.state), 'ok');
  const stored = backend.export().trim().split('\n');
  assert.equal(stored.length, 3, stored.join('\n'));
  assert.ok(stored.some((l) => l.startsWith('mem,host=a used=12i 1700000002000000000')), stored.join('\n'));
  await shot(page, 'send-204');
});

test('a bad batch: the server answers the very 400 the page predicted', async () => {
  await page.fill('#text', 'cpu,host=a usage=0.5 1700000000\ncpu usage=oops 1700000001\n');
  const v = await verdict(page);
  assert.equal(v.status, 400);
  const a = await sendForm();
  assert.equal(a.status, '400');
  assert.equal(a.body, v.body);
  assert.equal(backend.export().trim().split('\n').length, 3, 'nothing more stored');
  await shot(page, 'send-400');
});

test('a .gz file is sent with Content-Encoding: gzip and written', async () => {
  const lines = [];
  for (let i = 0; i < 500; i++) lines.push(`disk,host=h${i % 5} free=${i}i ${1700000100 + i}`);
  const file = path.join(tmp, 'disk.lp.gz');
  fs.writeFileSync(file, zlib.gzipSync(`${lines.join('\n')}\n`));
  await chooseFile(page, file);
  assert.equal((await verdict(page)).status, 204);
  const a = await sendForm();
  assert.equal(a.status, '204', `${a.text} ${a.body}`);
  assert.equal(backend.export().trim().split('\n').length, 3 + 500);
  await shot(page, 'send-gz');
});

test('a wrong token is refused by the server, and an unreachable URL is reported', async () => {
  await page.click('#source button'); // Clear the file
  await page.fill('#text', GOOD);
  await verdict(page);
  const a = await sendForm({ token: 'not-the-token' });
  assert.equal(a.status, '401');
  assert.match(a.body, /"code":"unauthorized"/);
  const port = await freePort(); // nothing listens there
  const b = await sendForm({ url: `http://127.0.0.1:${port}` });
  assert.equal(b.status, 'No answer');
  assert.match(b.text, /CORS/);
  assert.equal(await page.$eval('#send-result', (e) => e.dataset.state), 'bad');
  // The token never reaches storage the page controls.
  const stored = await page.evaluate(async () => {
    const keys = [...Object.keys(localStorage), ...Object.keys(sessionStorage)];
    const cacheText = [];
    for (const name of await caches.keys()) {
      const c = await caches.open(name);
      for (const r of await c.keys()) cacheText.push(r.url);
    }
    return { keys, cacheText };
  });
  assert.deepEqual(stored.keys, []);
  assert.ok(!stored.cacheText.some((u) => u.includes('token')));
  await shot(page, 'send-errors');
});
