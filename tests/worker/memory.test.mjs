// The Worker's default limits fit its 128 MB: for the worst bodies those limits let in, the
// package's wasm memory (which never shrinks, so its size is the high-water mark) plus the
// body the Worker holds in JS stay well under 128 MB. Measured on the package itself, one
// fresh wasm instance per case, since workerd does not expose an isolate's memory.

import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { pathToFileURL } from "node:url";
import { ROOT, hasPkg } from "./helpers.mjs";
import { DEFAULTS } from "../../worker/config.js";

const skip = !hasPkg && "pkg/ is not built (npm run build)";
const MiB = 1024 * 1024;
// 128 MB, less room for the runtime, the module and the backend's answer.
const BUDGET = 128e6 - 28 * MiB;

let fresh = 0;
async function peak(body, contentEncoding) {
  // A new module instance per case: import the glue under a new URL.
  const url = pathToFileURL(path.join(ROOT, "pkg/glue.js")).href + `?case=${fresh++}`;
  const glue = await import(url);
  const wasm = glue.initSync({ module: new WebAssembly.Module(fs.readFileSync(path.join(ROOT, "pkg/linegate.wasm"))) });
  const buf = glue.BodyBuffer.fromBytes(body);
  const verdict = glue.checkWrite(buf, {
    query: "org=o&bucket=b",
    authorization: "Token t",
    contentEncoding,
    limits: { maxBody: DEFAULTS.maxBody, maxBatch: DEFAULTS.maxBatch, maxMessage: DEFAULTS.maxMessage },
  });
  buf.free();
  return { verdict, wasm: wasm.memory.buffer.byteLength, total: wasm.memory.buffer.byteLength + body.length };
}

// Valid line protocol of n bytes: one point, then comment lines.
function lp(n) {
  const head = "m f=1i 1\n";
  const line = "#" + "x".repeat(998) + "\n";
  const k = Math.floor((n - head.length) / line.length);
  const rest = n - head.length - k * line.length;
  return Buffer.from(head + line.repeat(k) + (rest ? "#" + "x".repeat(rest - 2) + "\n" : ""));
}

const cases = [
  ["plain body just under MAX_BODY_BYTES", () => [lp(DEFAULTS.maxBody - 1)], "forward"],
  ["tiny gzip inflating to just under MAX_BATCH_BYTES", () => [zlib.gzipSync(lp(DEFAULTS.maxBatch - 1)), "gzip"], "forward"],
  ["gzip bomb (256 MiB of one byte)", () => [zlib.gzipSync(Buffer.alloc(256 * MiB, 0x61)), "gzip"], "reject"],
  [
    "incompressible gzip just under MAX_BODY_BYTES",
    () => {
      const raw = Buffer.alloc(DEFAULTS.maxBody - 64 * 1024);
      for (let i = 0, x = 7; i < raw.length; i++) raw[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
      return [zlib.gzipSync(raw, { level: 0 }), "gzip"];
    },
    "reject",
  ],
  ["plain body of 2-byte bad lines just under MAX_BODY_BYTES", () => [Buffer.from("a\n".repeat(DEFAULTS.maxBody / 2 - 1))], "reject"],
];

for (const [name, make, action] of cases) {
  test(`fits 128 MB: ${name}`, { skip }, async (t) => {
    const [body, ce] = make();
    assert.ok(body.length < DEFAULTS.maxBody);
    const r = await peak(body, ce);
    assert.equal(r.verdict.action, action);
    t.diagnostic(`body ${(body.length / MiB).toFixed(1)} MiB, wasm memory ${(r.wasm / MiB).toFixed(1)} MiB, with the JS body ${(r.total / MiB).toFixed(1)} MiB`);
    assert.ok(r.total < BUDGET, `${(r.total / MiB).toFixed(1)} MiB`);
  });
}
