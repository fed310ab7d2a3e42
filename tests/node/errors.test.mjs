// Errors name their actual cause: a module that is not wasm (a server's HTML page), use
// before init, an engine without SIMD, wrong option types; and cancelling is a signal of its
// own (an AbortSignal's reason, or an AbortError), never recognised by its message.
// Its own file: the web entry must start uninitialised here.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const pkgDir = new URL("../../pkg/", import.meta.url);
const web = await import(new URL("web.js", pkgDir));
const wasmBytes = readFileSync(new URL("linegate.wasm", pkgDir));
const html = "<!DOCTYPE html>\n<html><head><title>My app</title></head><body></body></html>\n";

test("before init: each use says the module is not initialised", () => {
  assert.equal(web.isReady(), false);
  for (const [what, f] of [
    ["new BodyBuffer()", () => new web.BodyBuffer()],
    ["BodyBuffer.fromBytes()", () => web.BodyBuffer.fromBytes(new Uint8Array(1))],
    ["BodyBuffer.fromString()", () => web.BodyBuffer.fromString("m f=1")],
    ["validate()", () => web.validate("m f=1")],
    ["parse()", () => web.parse("m f=1")],
    ["checkWrite()", () => web.checkWrite({ body: "m f=1" })],
    ["version()", () => web.version()],
  ]) {
    assert.throws(f, (e) => {
      assert.ok(!(e instanceof TypeError), `${what}: ${e}`);
      assert.ok(e.message.startsWith(`linegate: ${what} before the wasm module is initialised`), e.message);
      assert.match(e.message, /initSync\(module\) or await init\(\)/);
      return true;
    });
  }
});

test("a module answered with HTML (a single-page-app fallback) is named as not wasm", async () => {
  const page = () =>
    new Response(html, { status: 200, headers: { "content-type": "text/html" } });
  await assert.rejects(web.init(page()), (e) => {
    assert.match(e.message, /is not a WebAssembly module/);
    assert.match(e.message, /starting "<!DOCTYPE html> <html>/);
    assert.doesNotMatch(e.message, /SIMD|npm run build/);
    return true;
  });
  assert.throws(() => web.initSync(new TextEncoder().encode(html)), /not a WebAssembly module/);
  assert.equal(web.isReady(), false);
});

test("an engine without WebAssembly SIMD is told so, with no build to run", () => {
  // V8 runs wasm SIMD only with SSE4.1: without it, this Node is such an engine.
  const script = `
    import { readFileSync } from "node:fs";
    const web = await import(${JSON.stringify(new URL("web.js", pkgDir).href)});
    try {
      web.initSync(readFileSync(new URL(${JSON.stringify(new URL("linegate.wasm", pkgDir).href)})));
      console.log("initialised");
    } catch (e) {
      console.log(JSON.stringify({ name: e.name, cls: e.constructor.name, message: e.message }));
    }`;
  const r = spawnSync(process.execPath, ["--no-enable-sse4-1", "--input-type=module", "-e", script], {
    encoding: "utf8",
  });
  assert.equal(r.status, 0, r.stderr);
  const e = JSON.parse(r.stdout);
  assert.equal(e.cls, "CompileError");
  assert.match(e.message, /^linegate: this JavaScript engine lacks WebAssembly SIMD/);
  assert.doesNotMatch(e.message, /npm run build|LINEGATE_SIMD/);
});

test("after init: wrong option types are TypeErrors naming the option, checked once in wasm", () => {
  web.initSync(new WebAssembly.Module(wasmBytes));
  const cases = [
    [{ precision: 1 }, TypeError, /precision must be a string/],
    [{ now: 1.5 }, TypeError, /now must be a bigint/],
    [{ now: 2n ** 64n }, RangeError, /now must fit in 64 bits/],
    [{ limits: { maxBatch: -1 } }, TypeError, /limits\.maxBatch must be a non-negative number/],
    [{ limits: 5 }, TypeError, /limits must be an object/],
    [{ summary: "yes" }, TypeError, /summary must be a boolean or a number/],
    [{ onProgress: 1 }, TypeError, /onProgress must be a function/],
    [{ signal: true }, TypeError, /signal must be an AbortSignal/],
    ["opts", TypeError, /options must be an object/],
  ];
  for (const [opts, cls, re] of cases) {
    for (const f of [web.validate, web.parse]) {
      assert.throws(() => f("m f=1", opts), (e) => e instanceof cls && re.test(e.message), JSON.stringify(String(opts)));
    }
  }
  const req = { query: "org=o&bucket=b", headers: { authorization: "Token t" }, body: "m f=1" };
  assert.throws(() => web.checkWrite({ ...req, limits: { maxBody: "1" } }), TypeError);
  assert.throws(() => web.checkWrite({ ...req, now: "soon" }), TypeError);
  // Safe-integer numbers and bigint limits are accepted.
  assert.equal(web.checkWrite({ ...req, now: 1700000000, limits: { maxBody: 10n } }).action, "forward");
});

test("cancelling: an AbortSignal's reason is thrown, as fetch does; onProgress → false is an AbortError", () => {
  const text = "cpu,host=a usage=1.5 1700000000000000000\n".repeat(100000); // ~4 MB
  const early = new AbortController();
  early.abort(new Error("user left"));
  assert.throws(() => web.validate(text, { signal: early.signal }), (e) => e === early.signal.reason);
  assert.throws(() => web.parse("m f=1", { signal: AbortSignal.abort() }), (e) => e.name === "AbortError");
  // Aborted while it runs (here from the progress callback; in a page, from an event
  // handler between chunks): it stops at the next progress step.
  const c = new AbortController();
  let calls = 0;
  assert.throws(
    () => web.validate(text, { signal: c.signal, onProgress: () => void (++calls === 2 && c.abort()) }),
    (e) => e.name === "AbortError" && e === c.signal.reason,
  );
  assert.equal(calls, 2, "no progress after the abort");
  assert.throws(() => web.validate(text, { onProgress: () => false }), (e) => e.name === "AbortError");
  // Not aborted: the signal changes nothing.
  assert.equal(web.validate(text, { signal: new AbortController().signal }).points, 100000);
});

test("the shipped glue has no default init and no reference to a file it does not ship", () => {
  const glue = readFileSync(fileURLToPath(new URL("glue.js", pkgDir)), "utf8");
  assert.doesNotMatch(glue, /import\.meta|glue_bg\.wasm|__wbg_init\b/);
});
