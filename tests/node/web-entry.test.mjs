// The entry browsers, Web Workers and Cloudflare Workers get (exports conditions "browser",
// "worker", "workerd", "default"): nothing works before an explicit init, then everything
// does. (node --test runs each file in its own process, so this module state is fresh.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const pkgDir = new URL("../../pkg/", import.meta.url);
const pkg = JSON.parse(readFileSync(new URL("package.json", pkgDir), "utf8"));
const web = await import(new URL(pkg.exports["."].workerd, pkgDir));
const wasmBytes = readFileSync(new URL(pkg.exports["./linegate.wasm"], pkgDir));

test("the exports map: Node and Deno get self-initialising entries, the rest the explicit one", () => {
  const dot = pkg.exports["."];
  assert.equal(Object.keys(dot)[0], "types", "types must come first");
  assert.equal(dot.node, "./node.js");
  // Deno matches both "deno" and "node": the first key in the map wins.
  assert.equal(dot.deno, "./deno.js");
  assert.ok(Object.keys(dot).indexOf("deno") < Object.keys(dot).indexOf("node"), "deno must come before node");
  assert.ok(pkg.files.includes("deno-wasm.js"), "deno.js loads deno-wasm.js");
  for (const c of ["workerd", "worker", "browser", "default"]) assert.equal(dot[c], "./web.js");
  for (const f of [...new Set(Object.values(dot))]) {
    assert.ok(pkg.files.includes(f.slice(2)), `${f} is published`);
  }
  assert.ok(pkg.files.includes("linegate.wasm") && pkg.files.includes("glue.js"));
  // The version is stamped from Cargo.toml at build time.
  const cargo = readFileSync(new URL("../../Cargo.toml", import.meta.url), "utf8");
  assert.equal(pkg.version, /\[workspace\.package\][^[]*?version = "([^"]+)"/.exec(cargo)[1]);
  assert.equal(createRequire(import.meta.url).resolve("linegate/package.json"), new URL("package.json", pkgDir).pathname);
});

test("before init: a clear error, not a crash", () => {
  assert.equal(web.isReady(), false);
  assert.throws(() => web.checkWrite({ query: "org=o&bucket=b", body: "m f=1" }), /initSync\(module\) or await init\(\)/);
  assert.throws(() => web.initSync(), TypeError);
});

test("initSync with a compiled WebAssembly.Module, as a Worker imports the .wasm", () => {
  const module = new WebAssembly.Module(wasmBytes);
  web.initSync(module);
  assert.equal(web.isReady(), true);
  const v = web.checkWrite({
    query: "org=o&bucket=b&precision=ns",
    headers: new Headers({ authorization: "Token t" }),
    body: new TextEncoder().encode("m f=1i 1\nm f=oops 2\n"),
    now: 1700000000123456789n,
  });
  assert.equal(v.status, 400);
  assert.equal(v.body, `{"code":"invalid","message":"unable to parse 'm f=oops 2': invalid boolean","line":2}`);
  // A second init (with anything) keeps the first instance.
  web.initSync({ module });
  assert.equal(web.validate("m f=1").points, 1);
});

test("WebAssembly.validate: the module's features are ones Node, Chromium and workerd run", () => {
  assert.equal(WebAssembly.validate(wasmBytes), true);
  const exports = WebAssembly.Module.exports(new WebAssembly.Module(wasmBytes)).map((e) => e.name);
  for (const name of ["memory", "checkWrite", "validate", "parse"]) assert.ok(exports.includes(name), name);
});
