// The asynchronous init of the web entry (a browser's main thread): from bytes, a Response
// or a fetch promise. Its own file so that the module starts uninitialised.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

const pkgDir = new URL("../../pkg/", import.meta.url);
const web = await import(new URL("web.js", pkgDir));
const bytes = readFileSync(new URL("linegate.wasm", pkgDir));

test("await init(Response) then check", async () => {
  assert.equal(web.isReady(), false);
  // Failures say what went wrong and leave the package uninitialised.
  await assert.rejects(web.init(new Response("nope", { status: 404 })), /HTTP 404/);
  // A broken module on an engine with SIMD: the compiler's own error, no talk of SIMD.
  await assert.rejects(web.init(new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 0xff])), (e) =>
    e instanceof WebAssembly.CompileError && !/SIMD/.test(e.message));
  assert.equal(web.isReady(), false);
  const res = new Response(bytes, { headers: { "content-type": "application/wasm" } });
  await web.init(Promise.resolve(res));
  assert.equal(web.isReady(), true);
  assert.deepStrictEqual(web.checkWrite({ query: "org=o&bucket=b", headers: { authorization: "Token t" }, body: "m f=1" }), {
    action: "forward",
    points: 1,
    lines: 1,
  });
  await web.init(bytes); // a no-op once done
});
