// The page's partial-write switch (spec Part D.1): with it on, a batch with good and bad lines
// shows the answer a partial write gives, the lines that would go and those kept back; Send
// adds accept_partial=true, and the Worker (PARTIAL_WRITES=request, under wrangler dev) in
// front of linegate-backend stores exactly the good lines and answers the predicted 400.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { open, shot, verdict, pressSend } from './harness.mjs';
import { startBackend, startWorker } from './services.mjs';

const SETUP = { org: 'acme', bucket: 'metrics', token: 'www-partial-token' };
let s, page, backend, worker;

before(async () => {
  s = await open('partial');
  page = s.page;
  backend = await startBackend(SETUP);
  worker = await startWorker({ backend: backend.url, origin: new URL(s.url).origin, vars: { PARTIAL_WRITES: 'request' } });
});

after(async () => {
  if (worker) await worker.close();
  if (backend) await backend.close();
  if (s) await s.close();
});

const BATCH = 'cpu,host=a usage=0.5 1700000000\ncpu usage=oops 1700000001\n\n  mem,host=a used=12i 1700000002\nbad\n';
const WANT =
  '{"code":"invalid","message":"partial write error (2 accepted): 2 out of 4 lines rejected\\n' +
  "unable to parse 'cpu usage=oops 1700000001': invalid boolean\\nunable to parse 'bad': missing fields\",\"line\":2}";

test('the switch shows the split; Send stores the good lines and gets the predicted 400', async () => {
  await page.selectOption('#precision', 's');
  await page.fill('#text', BATCH);
  const whole = await verdict(page);
  assert.equal(whole.status, 400);
  assert.ok(!whole.body.includes('partial write error'));
  assert.ok(await page.isHidden('#partial-box'));

  await page.check('#partial');
  const v = await verdict(page);
  assert.equal(v.status, 400);
  assert.equal(v.body, WANT);
  assert.ok(await page.isVisible('#partial-box'));
  assert.equal(await page.textContent('#partial-go'), 'cpu,host=a usage=0.5 1700000000\nmem,host=a used=12i 1700000002\n');
  const kept = await page.$$eval('#partial-kept li', (lis) => lis.map((li) => li.textContent));
  assert.deepEqual(kept, ['line 2 invalid boolean cpu usage=oops 1700000001', 'line 5 missing fields bad']);
  await shot(page, 'partial-split');

  const a = await pressSend(page, { 'send-url': worker.url, 'send-org': SETUP.org, 'send-bucket': SETUP.bucket, 'send-token': SETUP.token });
  assert.equal(a.status, '400', `${a.text} ${a.body}`);
  assert.equal(a.body, WANT);
  const stored = backend.export().trim().split('\n');
  assert.deepEqual(stored, ['cpu,host=a usage=0.5 1700000000000000000', 'mem,host=a used=12i 1700000002000000000']);
  await shot(page, 'partial-sent');
});
