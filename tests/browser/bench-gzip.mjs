// Measures, in Chromium, what decoding a .gz costs the page: the package's own gzip reader
// (validate with contentEncoding "gzip") against the browser's DecompressionStream, and the
// plain check for reference. Not a test; numbers go to www/README.md.
//
//   node tests/browser/bench-gzip.mjs   (uses test-output/browser-data from large.test.mjs)

import path from 'node:path';
import { open, root } from './harness.mjs';

const dir = path.join(root, 'test-output', 'browser-data');
const runs = Number(process.env.RUNS || 3);
const s = await open('bench');
const { page } = s;
// A detached file input of our own, so the page does not start checking the files.
await page.evaluate(() => {
  const i = document.createElement('input');
  i.type = 'file';
  i.multiple = true;
  i.id = 'bench-files';
  document.body.append(i);
});
await page.setInputFiles('#bench-files', [path.join(dir, 'telegraf.lp'), path.join(dir, 'telegraf.lp.gz')]);
const out = await page.evaluate(async (runs) => {
  const [plain, gz] = document.getElementById('bench-files').files;
  const cfg = await import('./config.js');
  const lg = await import('./engine.js');
  lg.initSync(await WebAssembly.compileStreaming(fetch(cfg.WASM)));
  const gzBytes = new Uint8Array(await gz.arrayBuffer());
  const plainBytes = new Uint8Array(await plain.arrayBuffer());
  const best = async (f) => {
    let b = Infinity;
    for (let i = 0; i < runs; i++) {
      const t = performance.now();
      await f();
      b = Math.min(b, performance.now() - t);
    }
    return b;
  };
  const ds = await best(async () => {
    const rd = gz.stream().pipeThrough(new DecompressionStream('gzip')).getReader();
    let n = 0;
    for (;;) {
      const { done, value } = await rd.read();
      if (done) break;
      n += value.length;
    }
    if (n !== plainBytes.length) throw new Error('size');
  });
  const plainCheck = await best(() => lg.validate(plainBytes, { warnings: false }));
  const gzCheck = await best(() => lg.validate(gzBytes, { contentEncoding: 'gzip', warnings: false }));
  const full = await best(() => lg.validate(plainBytes, { warnings: true, summary: 48 }));
  return { mb: plainBytes.length / 1e6, gzMb: gzBytes.length / 1e6, ds, plainCheck, gzCheck, full };
}, runs);
const mbps = (ms) => `${(out.mb / (ms / 1000)).toFixed(0)} MB/s`;
console.log(`telegraf ${out.mb.toFixed(1)} MB (${out.gzMb.toFixed(1)} MB gzipped), best of ${runs}, Chromium:`);
console.log(`  DecompressionStream alone           ${out.ds.toFixed(0)} ms  ${mbps(out.ds)} of output`);
console.log(`  validate, plain, no extras          ${out.plainCheck.toFixed(0)} ms  ${mbps(out.plainCheck)}`);
console.log(`  validate, gzip (package decodes)    ${out.gzCheck.toFixed(0)} ms  → gzip ≈ ${(out.gzCheck - out.plainCheck).toFixed(0)} ms, ${mbps(out.gzCheck - out.plainCheck)} of output`);
console.log(`  validate, plain, warnings+summary   ${out.full.toFixed(0)} ms  ${mbps(out.full)}`);
await s.close();
