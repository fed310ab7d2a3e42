// The package as a user gets it: `npm pack` of pkg/, installed into fresh temporary projects,
// built and run as each toolchain does, asserting the exact verdict of a good and a bad batch:
// webpack 5, esbuild (ESM and IIFE), Vite, Rollup and `bun build` bundles and Vite's dev
// server in headless Chromium; Node ESM and CommonJS, Bun (import and require) and Deno (no
// permission, nothing fetched); the README's page (no bundler), its Node example (also under
// Bun and Deno) and its Worker under `wrangler dev`; tsc --strict --exactOptionalPropertyTypes
// on a file using every export, under moduleResolution bundler, node16 and nodenext, with and
// without the DOM lib.
//
// The bundlers, Bun and Deno come pinned from tests/toolchains (its own package-lock.json,
// installed by scripts/setup.sh; Bun's and Deno's binaries are npm packages); wrangler and
// playwright-core from the root's.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, extname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { stopGroup } from "../support/process.mjs";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const PKG = join(ROOT, "pkg");
const TOOLS = join(ROOT, "tests/toolchains");
const CHROMIUM = "/usr/bin/chromium";
const WRANGLER = join(ROOT, "node_modules/.bin/wrangler");
const tools = createRequire(join(TOOLS, "package.json"));
const rootRequire = createRequire(join(ROOT, "package.json"));

const skip = !existsSync(join(PKG, "package.json"))
  ? "pkg/ is not built (npm run build)"
  : !existsSync(join(TOOLS, "node_modules/.package-lock.json"))
    ? "tests/toolchains is not installed (scripts/setup.sh)"
    : false;
const skipBrowser = skip || (!existsSync(CHROMIUM) && `${CHROMIUM} is absent`);
// Bun and Deno are npm packages in tests/toolchains whose binaries come with them.
const BUN = join(TOOLS, "node_modules/.bin/bun");
const DENO = join(TOOLS, "node_modules/.bin/deno");
const skipBun = skip || (!existsSync(BUN) && "tests/toolchains has no bun (scripts/setup.sh)");
const skipDeno = skip || (!existsSync(DENO) && "tests/toolchains has no deno (scripts/setup.sh)");
// Bun never installs on the fly (--no-install where it runs), and sends no telemetry.
const BUN_ENV = { ...process.env, DO_NOT_TRACK: "1", NO_COLOR: "1" };

const GOOD = "cpu,host=a usage=0.5 1700000000\n";
const BAD = "cpu,host=a usage=0.5 1700000000\ncpu,host=b usage=oops 1700000000\n";
const WANT = {
  good: { action: "forward", points: 1, lines: 1 },
  bad: {
    action: "reject",
    status: 400,
    code: "invalid",
    line: 2,
    headers: { "Content-Type": "application/json; charset=utf-8", "X-Platform-Error-Code": "invalid" },
    body: `{"code":"invalid","message":"unable to parse 'cpu,host=b usage=oops 1700000000': invalid boolean","line":2}`,
  },
};

let work;
let tarball;
let browser;

before(async () => {
  if (skip) return;
  work = mkdtempSync(join(tmpdir(), "linegate-toolchains-"));
  const name = execFileSync("npm", ["pack", PKG, "--pack-destination", work, "--silent"], { encoding: "utf8" }).trim();
  tarball = join(work, name.split("\n").at(-1));
  if (!skipBrowser) {
    const { chromium } = rootRequire("playwright-core");
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"],
    });
  }
});

after(async () => {
  if (browser) await browser.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

// A fresh project with the packed package installed, and `files` written into it.
function project(name, files = {}, pkg = {}) {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: `app-${name}`, private: true, ...pkg }, null, 2));
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--silent", tarball], { cwd: dir, stdio: "pipe" });
  for (const [f, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, f)), { recursive: true });
    writeFileSync(join(dir, f), text);
  }
  return dir;
}

// The browser app every bundler builds: init as its recipe says, then both batches.
function app({ importWasm }) {
  return `import { init, checkWrite } from "linegate";
${importWasm ? 'import wasmUrl from "linegate/linegate.wasm";\n' : ""}
const req = (body) => ({ query: "org=o&bucket=b&precision=s", headers: { authorization: "Token t" }, body });
init(${importWasm ? "wasmUrl" : ""}).then(
  () => { window.__result = { good: checkWrite(req(${JSON.stringify(GOOD)})), bad: checkWrite(req(${JSON.stringify(BAD)})) }; },
  (e) => { window.__result = { error: String(e && e.message) }; },
);
`;
}

const html = (script) =>
  `<!doctype html><meta charset="utf-8"><title>app</title><body>${script}</body>\n`;

const TYPES = { ".html": "text/html", ".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm" };

// Serves `dir` on 127.0.0.1 (any free port) for the page.
async function serve(dir) {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url, "http://x").pathname);
    const file = join(dir, path.endsWith("/") ? path + "index.html" : path);
    if (!file.startsWith(dir) || !existsSync(file)) {
      res.writeHead(404).end("not found");
      return;
    }
    res.writeHead(200, { "Content-Type": TYPES[extname(file)] || "application/octet-stream" });
    res.end(readFileSync(file));
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${server.address().port}/`, close: () => new Promise((r) => server.close(r)) };
}

async function runPage(dir, path = "index.html", interact) {
  const s = await serve(dir);
  try {
    return await openPage(s.url + path, interact);
  } finally {
    await s.close();
  }
}

// Opens `url` in Chromium and gives what the app left in window.__result (or `interact`'s).
async function openPage(url, interact) {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  try {
    await page.goto(url);
    if (interact) return await interact(page, errors);
    await page.waitForFunction(() => window.__result !== undefined, null, { timeout: 20_000 });
    return await page.evaluate(() => window.__result);
  } catch (e) {
    throw new Error(`${e.message}\npage errors: ${errors.join("\n")}`);
  } finally {
    await page.close();
  }
}

test("webpack 5: `await init()` (webpack ships linegate.wasm from new URL(…, import.meta.url))", { skip: skipBrowser }, async () => {
  const dir = project("webpack", { "src/main.js": app({ importWasm: false }) });
  const webpack = tools("webpack");
  const stats = await new Promise((resolve, reject) =>
    webpack(
      {
        mode: "production",
        context: dir,
        entry: "./src/main.js",
        output: { path: join(dir, "dist"), filename: "main.js" },
        performance: { hints: false },
      },
      (err, st) => (err ? reject(err) : resolve(st)),
    ),
  );
  assert.ok(!stats.hasErrors(), stats.toString({ all: false, errors: true }));
  assert.ok(!stats.hasWarnings(), stats.toString({ all: false, warnings: true }));
  assert.ok(readdirSync(join(dir, "dist")).some((f) => f.endsWith(".wasm")), "the .wasm is emitted");
  writeFileSync(join(dir, "dist/index.html"), html('<script src="main.js"></script>'));
  assert.deepStrictEqual(await runPage(join(dir, "dist")), WANT);
});

for (const format of ["esm", "iife"]) {
  test(`esbuild (${format}): --loader:.wasm=file and init(wasmUrl)`, { skip: skipBrowser }, async () => {
    const dir = project(`esbuild-${format}`, { "src/main.js": app({ importWasm: true }) });
    const esbuild = tools("esbuild");
    const r = await esbuild.build({
      absWorkingDir: dir,
      entryPoints: ["src/main.js"],
      bundle: true,
      format,
      platform: "browser",
      outdir: "dist",
      loader: { ".wasm": "file" },
      logLevel: "silent",
    });
    assert.deepEqual(r.errors, []);
    const script = format === "esm" ? '<script type="module" src="main.js"></script>' : '<script src="main.js"></script>';
    writeFileSync(join(dir, "dist/index.html"), html(script));
    assert.deepStrictEqual(await runPage(join(dir, "dist")), WANT);
  });
}

test("esbuild IIFE without the recipe: init() says what to do instead of `Invalid URL`", { skip: skipBrowser }, async () => {
  const dir = project("esbuild-norecipe", { "src/main.js": app({ importWasm: false }) });
  const esbuild = tools("esbuild");
  await esbuild.build({ absWorkingDir: dir, entryPoints: ["src/main.js"], bundle: true, format: "iife", outdir: "dist", logLevel: "silent" });
  writeFileSync(join(dir, "dist/index.html"), html('<script src="main.js"></script>'));
  const r = await runPage(join(dir, "dist"));
  assert.match(r.error, /^linegate: init\(\) cannot find linegate\.wasm: this bundle has no import\.meta\.url/);
  assert.match(r.error, /--loader:\.wasm=file/);
});

test("Vite: `await init()`", { skip: skipBrowser }, async () => {
  const dir = project("vite", {
    "index.html": html('<script type="module" src="/src/main.js"></script>'),
    "src/main.js": app({ importWasm: false }),
  }, { type: "module" });
  const vite = await import(pathToFileURL(tools.resolve("vite")).href);
  const warnings = [];
  await vite.build({
    root: dir,
    configFile: false,
    logLevel: "silent",
    customLogger: { ...vite.createLogger("silent"), warn: (m) => warnings.push(m), warnOnce: (m) => warnings.push(m) },
    build: { outDir: join(dir, "dist"), emptyOutDir: true },
  });
  assert.deepEqual(warnings, []);
  assert.deepStrictEqual(await runPage(join(dir, "dist")), WANT);
});

// The dev server, started on 127.0.0.1 in the project and stopped after; `config` is the
// README's vite.config.js or none.
async function viteDev(name, config) {
  const files = {
    "index.html": html('<script type="module" src="/src/main.js"></script>'),
    "src/main.js": app({ importWasm: false }),
  };
  if (config) files["vite.config.js"] = config;
  const dir = project(name, files, { type: "module" });
  const vite = await import(pathToFileURL(tools.resolve("vite")).href);
  const server = await vite.createServer({
    root: dir,
    configFile: config ? join(dir, "vite.config.js") : false,
    logLevel: "silent",
    clearScreen: false,
    server: { host: "127.0.0.1", port: await freePort(), strictPort: true },
  });
  try {
    await server.listen();
    return await openPage(server.resolvedUrls.local[0]);
  } finally {
    await server.close();
  }
}

test("Vite dev server: `await init()` with the README's vite.config.js (optimizeDeps.exclude)", { skip: skipBrowser }, async () => {
  const config = readmeFiles()["vite.config.js"];
  assert.ok(config, "the README has its vite.config.js");
  assert.deepStrictEqual(await viteDev("vite-dev", config), WANT);
});

test("Vite dev server without the recipe: init() names it instead of a wasm error", { skip: skipBrowser }, async () => {
  const r = await viteDev("vite-dev-norecipe", null);
  assert.match(r.error, /^linegate: http:\/\/127\.0\.0\.1:\d+\/node_modules\/\.vite\/deps\/linegate\.wasm is not a WebAssembly module/);
  assert.match(r.error, /add `optimizeDeps: \{ exclude: \["linegate"\] \}` to vite\.config\.js\.$/);
});

test("Rollup: @rollup/plugin-url for the .wasm and init(wasmUrl)", { skip: skipBrowser }, async () => {
  const dir = project("rollup", { "src/main.js": app({ importWasm: true }) });
  const { rollup } = tools("rollup");
  const { nodeResolve } = tools("@rollup/plugin-node-resolve");
  const url = tools("@rollup/plugin-url");
  const warnings = [];
  const bundle = await rollup({
    input: join(dir, "src/main.js"),
    plugins: [nodeResolve({ browser: true }), (url.default || url)({ include: ["**/*.wasm"], limit: 0 })],
    onwarn: (w) => warnings.push(String(w.message)),
  });
  await bundle.write({ dir: join(dir, "dist"), format: "es" });
  await bundle.close();
  assert.deepEqual(warnings, []);
  writeFileSync(join(dir, "dist/index.html"), html('<script type="module" src="main.js"></script>'));
  assert.deepStrictEqual(await runPage(join(dir, "dist")), WANT);
});

test("bun build --target browser: import wasmUrl from \"linegate/linegate.wasm\" and init(wasmUrl)", { skip: skipBrowser || skipBun }, async () => {
  const dir = project("bun-build", { "src/main.js": app({ importWasm: true }) });
  const r = spawnSync(BUN, ["build", "--target", "browser", "src/main.js", "--outdir", "dist"], { cwd: dir, encoding: "utf8", env: BUN_ENV });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.ok(readdirSync(join(dir, "dist")).some((f) => f.endsWith(".wasm")), "the .wasm is emitted");
  writeFileSync(join(dir, "dist/index.html"), html('<script type="module" src="main.js"></script>'));
  assert.deepStrictEqual(await runPage(join(dir, "dist")), WANT);
});

// The README's examples, exactly as written (fences marked `file=NAME`).
function readmeFiles() {
  const md = readFileSync(join(PKG, "README.md"), "utf8");
  const out = {};
  for (const m of md.matchAll(/^```\w+ file=(\S+)\n([\s\S]*?)^```$/gm)) out[m[1]] = m[2];
  return out;
}

test("the README's page runs as written in Chromium (import map, await init())", { skip: skipBrowser }, async () => {
  const files = readmeFiles();
  assert.ok(files["index.html"], "the README has its page");
  const dir = project("readme-page", { "index.html": files["index.html"] });
  const texts = await runPage(dir, "index.html", async (page) => {
    const got = [];
    for (const batch of [GOOD, BAD]) {
      await page.fill("#batch", batch);
      await page.waitForFunction(() => document.querySelector("#check").onclick !== null);
      await page.click("#check");
      got.push(await page.textContent("#out"));
    }
    return got;
  });
  assert.deepEqual(texts, ["InfluxDB would accept 1 points", "InfluxDB would answer 400: line 2:18: invalid boolean"]);
});

function node(dir, file) {
  const r = spawnSync(process.execPath, [file], { cwd: dir, encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return r;
}

const nodeApp = (imp) => `${imp}
const req = (body) => ({ query: "org=o&bucket=b&precision=s", headers: { authorization: "Token t" }, body });
console.log(JSON.stringify({ good: checkWrite(req(${JSON.stringify(GOOD)})), bad: checkWrite(req(${JSON.stringify(BAD)})) }));
`;

test("Node: ESM import, CommonJS require, and the README's example", { skip }, () => {
  const files = readmeFiles();
  const dir = project("node", {
    "esm.mjs": nodeApp('import { checkWrite } from "linegate";'),
    "cjs.cjs": nodeApp('const { checkWrite } = require("linegate");'),
    "check.mjs": files["check.mjs"],
  });
  assert.deepStrictEqual(JSON.parse(node(dir, "esm.mjs").stdout), WANT);
  assert.deepStrictEqual(JSON.parse(node(dir, "cjs.cjs").stdout), WANT);
  assert.equal(node(dir, "check.mjs").stdout, `400 invalid 2 ${WANT.bad.body}\n`);
});

test("engines: only Node versions whose require() loads ES modules (20.19+, 22.12+)", { skip }, () => {
  const { engines } = JSON.parse(readFileSync(join(PKG, "package.json"), "utf8"));
  // Every range's lower bound is one where require(esm) is on by default.
  const floors = { 20: 19, 22: 12 };
  for (const range of engines.node.split("||").map((s) => s.trim())) {
    const m = /^(\^|>=)(\d+)\.(\d+)\.(\d+)$/.exec(range);
    assert.ok(m, `unexpected range ${range}`);
    const [major, minor] = [Number(m[2]), Number(m[3])];
    assert.ok(major >= 23 || (major in floors && minor >= floors[major]), `${range} allows a Node without require(esm)`);
  }
  const [major, minor] = process.versions.node.split(".").map(Number);
  assert.ok(major >= 23 || minor >= floors[major], `this Node (${process.version}) is one engines allows`);
});

// What a server-side runtime runs: checkWrite, checkStream over ReadableStreams cut mid-line
// (a default one and a byte stream, read with a BYOB reader; a request's verdict and a
// batch's Validation) and over a Response's body, and the Checker by hand.
// BigInts are printed as "…n" so the whole result can be compared across runtimes.
const runtimeApp = (imp) => `${imp}
const query = "org=o&bucket=b&precision=s";
const headers = { authorization: "Token t" };
const req = (body) => ({ query, headers, body });
const GOOD = ${JSON.stringify(GOOD)}, BAD = ${JSON.stringify(BAD)};
function streamOf(text, type) {
  const bytes = new TextEncoder().encode(text), cuts = [0, 7, 40, bytes.length];
  let i = 0;
  return new ReadableStream({
    type,
    pull(c) {
      // slice: a byte stream takes the chunk's buffer over.
      if (i + 1 < cuts.length) return c.enqueue(bytes.slice(cuts[i], cuts[++i]));
      c.close();
      // A BYOB read pending at the close settles (done) only once answered.
      c.byobRequest?.respond(0);
    },
  });
}
function byHand(k, text) {
  for (let i = 0; i < text.length; i += 5) k.push(text.slice(i, i + 5));
  return k.finish();
}
const out = {
  good: checkWrite(req(GOOD)),
  bad: checkWrite(req(BAD)),
  streamRequest: await checkStream(streamOf(BAD), { request: { query, headers } }),
  streamBatch: await checkStream(streamOf(BAD), { precision: "s" }),
  byteStreamRequest: await checkStream(streamOf(BAD, "bytes"), { request: { query, headers } }),
  byteStreamBatch: await checkStream(streamOf(BAD, "bytes"), { precision: "s" }),
  responseBody: await checkStream(new Response(BAD).body, { request: { query, headers } }),
  validateBatch: validate(BAD, { precision: "s" }),
  checkerGood: byHand(new Checker({ precision: "s" }), GOOD),
  checkerRequest: byHand(Checker.forRequest({ query, headers }), BAD),
};
console.log(JSON.stringify(out, (k, v) => (typeof v === "bigint" ? v + "n" : v)));
`;
const RUNTIME_IMPORTS = "{ checkWrite, checkStream, validate, Checker }";

// The runtime's result: the exact verdicts (as the Node test asserts) and, for the rest,
// exactly what Node gives for the same script.
function assertRuntime(out, node) {
  assert.deepStrictEqual(out.good, WANT.good);
  assert.deepStrictEqual(out.bad, WANT.bad);
  assert.deepStrictEqual(out.streamRequest, WANT.bad);
  assert.deepStrictEqual(out.byteStreamRequest, WANT.bad);
  assert.deepStrictEqual(out.responseBody, WANT.bad);
  assert.deepStrictEqual(out.checkerRequest, WANT.bad);
  const { action, status, code, line, headers, body, points, lines, rejected } = out.streamBatch;
  assert.deepStrictEqual(
    { action, status, code, line, headers, body, points, lines, rejected },
    { ...WANT.bad, points: 1, lines: 2, rejected: 1 },
  );
  assert.deepStrictEqual(out.streamBatch, out.validateBatch, "the stream's answer is the one-shot call's");
  assert.deepStrictEqual(out.byteStreamBatch, out.validateBatch, "the byte stream's too");
  assert.equal(out.streamBatch.diagnostics[0].reason, "invalid boolean");
  assert.deepStrictEqual(
    [out.checkerGood.action, out.checkerGood.status, out.checkerGood.points, out.checkerGood.body],
    ["forward", 204, 1, ""],
  );
  assert.deepStrictEqual(out, node, "the same as in Node");
}

function run(cmd, args, opts) {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 30_000, ...opts });
  assert.equal(r.status, 0, `${cmd} ${args.join(" ")}: ${r.stdout}${r.stderr}`);
  return r.stdout;
}

test("Bun: ESM import, require, checkStream and Checker, and the README's example", { skip: skipBun }, () => {
  const dir = project("bun", {
    "esm.mjs": runtimeApp(`import ${RUNTIME_IMPORTS} from "linegate";`),
    "cjs.cjs": nodeApp('const { checkWrite } = require("linegate");'),
    "check.mjs": readmeFiles()["check.mjs"],
  });
  const bun = (file) => run(BUN, ["--no-install", file], { cwd: dir, env: BUN_ENV });
  assert.match(bun("--version"), /^1\./);
  assertRuntime(JSON.parse(bun("esm.mjs")), JSON.parse(node(dir, "esm.mjs").stdout));
  assert.deepStrictEqual(JSON.parse(bun("cjs.cjs")), WANT);
  assert.equal(bun("check.mjs"), `400 invalid 2 ${WANT.bad.body}\n`);
});

// Every permission refused, nothing fetched: --cached-only over an empty DENO_DIR, and a
// registry no one answers at, so a run that wanted jsr or npm fails instead.
const DENO_DENY = ["--no-prompt", "--cached-only", "--deny-read", "--deny-write", "--deny-net", "--deny-env",
  "--deny-sys", "--deny-run", "--deny-ffi", "--deny-import"];

test("Deno: no permission at all, from node_modules (README's deno.json), nothing fetched", { skip: skipDeno }, async () => {
  const files = readmeFiles();
  assert.ok(files["deno.json"], "the README has its deno.json");
  const dir = project("deno", {
    "deno.json": files["deno.json"],
    "bare.mjs": runtimeApp(`import ${RUNTIME_IMPORTS} from "linegate";`),
    "npm.mjs": runtimeApp(`import ${RUNTIME_IMPORTS} from "npm:linegate";`),
    "check.mjs": files["check.mjs"],
    "node-entry.mjs": nodeApp('import { checkWrite } from "./node_modules/linegate/node.js";'),
  });
  const denoDir = mkdtempSync(join(tmpdir(), "linegate-deno-dir-"));
  const env = {
    ...process.env,
    DENO_DIR: denoDir,
    DENO_NO_UPDATE_CHECK: "1",
    NO_COLOR: "1",
    NPM_CONFIG_REGISTRY: `http://127.0.0.1:${await freePort()}/`,
    JSR_URL: `http://127.0.0.1:${await freePort()}/`,
  };
  const deno = (args, file) => spawnSync(DENO, ["run", ...args, file], { cwd: dir, env, encoding: "utf8", timeout: 30_000 });
  const ok = (args, file) => {
    const r = deno(args, file);
    assert.equal(r.status, 0, `deno run ${args.join(" ")} ${file}: ${r.stdout}${r.stderr}`);
    return r.stdout;
  };
  try {
    assert.match(run(DENO, ["--version"], { env }), /^deno 2\./);
    const want = JSON.parse(node(dir, "bare.mjs").stdout);
    assertRuntime(JSON.parse(ok(DENO_DENY, "bare.mjs")), want);
    assertRuntime(JSON.parse(ok(DENO_DENY, "npm.mjs")), want);
    assert.equal(ok(DENO_DENY, "check.mjs"), `400 invalid 2 ${WANT.bad.body}\n`);
    // What the `deno` entry spares: the Node entry reads the .wasm, so it needs --allow-read.
    const refused = deno(["--no-prompt", "--cached-only"], "node-entry.mjs");
    assert.notEqual(refused.status, 0);
    assert.match(refused.stderr, /NotCapable: Requires read access to .*linegate\.wasm/);
    const wasm = join(dir, "node_modules/linegate/linegate.wasm");
    assert.deepStrictEqual(JSON.parse(ok(["--no-prompt", "--cached-only", `--allow-read=${wasm}`], "node-entry.mjs")), WANT);
    // Nothing came from a registry: Deno's npm cache holds no package.
    const cached = existsSync(join(denoDir, "npm")) ? readdirSync(join(denoDir, "npm"), { recursive: true }) : [];
    assert.deepEqual(cached.filter((f) => f.endsWith("package.json")), []);
  } finally {
    rmSync(denoDir, { recursive: true, force: true });
  }
});

test("Deno before 2.6 (the source-phase import unparsable): --allow-read suffices, and without it the error names both fixes", { skip: skipDeno }, () => {
  const dir = project("deno-old", {
    "deno.json": readmeFiles()["deno.json"],
    "esm.mjs": nodeApp('import { checkWrite } from "linegate";'),
  });
  // What an older parser makes of deno-wasm.js, with this Deno: a SyntaxError when loaded.
  writeFileSync(join(dir, "node_modules/linegate/deno-wasm.js"), "import sourcex wasm from './linegate.wasm';\n");
  const denoDir = mkdtempSync(join(tmpdir(), "linegate-deno-dir-"));
  const env = { ...process.env, DENO_DIR: denoDir, DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" };
  const deno = (args) => spawnSync(DENO, ["run", "--no-prompt", "--cached-only", ...args, "esm.mjs"], { cwd: dir, env, encoding: "utf8", timeout: 30_000 });
  try {
    const refused = deno([]);
    assert.notEqual(refused.status, 0);
    assert.match(refused.stderr, /linegate: this Deno cannot import linegate\.wasm as a module \(Deno 2\.6\+ can, with no permission\) and may not read it/);
    assert.match(refused.stderr, /update Deno, or run with --allow-read/);
    assert.match(refused.stderr, /SyntaxError/, "the cause is kept");
    const r = deno([`--allow-read=${join(dir, "node_modules/linegate/linegate.wasm")}`]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepStrictEqual(JSON.parse(r.stdout), WANT);
  } finally {
    rmSync(denoDir, { recursive: true, force: true });
  }
});

// What the README's Worker forwards to: records the writes and answers 204.
async function recorder() {
  const got = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      got.push({ method: req.method, url: req.url, auth: req.headers.authorization, body: Buffer.concat(chunks).toString() });
      res.writeHead(204).end();
    });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${server.address().port}`, got, close: () => new Promise((r) => server.close(r)) };
}

function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

test("the README's Worker runs as written under wrangler dev", { skip, timeout: 120_000 }, async () => {
  const files = readmeFiles();
  const dir = project("worker", { "wrangler.toml": files["wrangler.toml"], "src/worker.js": files["src/worker.js"] });
  const influx = await recorder();
  const [port, inspector] = [await freePort(), await freePort()];
  const dev = spawn(
    WRANGLER,
    ["dev", "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(inspector), "--var", `INFLUX_URL:${influx.url}`],
    {
      cwd: dir,
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1", FORCE_COLOR: "0" },
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let out = "";
  dev.stdout.on("data", (c) => (out += c));
  dev.stderr.on("data", (c) => (out += c));
  const base = `http://127.0.0.1:${port}`;
  const write = (body) =>
    fetch(`${base}/api/v2/write?org=o&bucket=b&precision=s`, { method: "POST", headers: { authorization: "Token t" }, body });
  try {
    const deadline = Date.now() + 90_000;
    for (;;) {
      assert.equal(dev.exitCode, null, `wrangler dev exited: ${out}`);
      try {
        await fetch(`${base}/ping`);
        break;
      } catch {}
      assert.ok(Date.now() < deadline, `wrangler dev did not start: ${out}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    influx.got.length = 0; // the readiness probe went through to the recorder
    const ok = await write(GOOD);
    assert.equal(ok.status, 204, await ok.text());
    assert.deepEqual(influx.got, [
      { method: "POST", url: "/api/v2/write?org=o&bucket=b&precision=s", auth: "Token t", body: GOOD },
    ]);
    const bad = await write(BAD);
    assert.equal(bad.status, 400);
    assert.equal(bad.headers.get("content-type"), "application/json; charset=utf-8");
    assert.equal(bad.headers.get("x-platform-error-code"), "invalid");
    assert.equal(await bad.text(), WANT.bad.body);
    assert.equal(influx.got.length, 1, "the rejected batch was not forwarded");
  } finally {
    await stopGroup(dev);
    await influx.close();
  }
});

test("the README's Worker bundles with wrangler deploy --dry-run", { skip, timeout: 120_000 }, () => {
  const files = readmeFiles();
  const dir = project("worker-dry-run", { "wrangler.toml": files["wrangler.toml"], "src/worker.js": files["src/worker.js"] });
  const r = spawnSync(WRANGLER, ["deploy", "--dry-run", "--outdir", "out"], {
    cwd: dir,
    encoding: "utf8",
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1", FORCE_COLOR: "0" },
    timeout: 100_000,
  });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.ok(readdirSync(join(dir, "out")).some((f) => f.endsWith(".wasm")), "the module is uploaded beside the script");
  assert.doesNotMatch(r.stdout + r.stderr, /glue_bg\.wasm|import\.meta/);
});

test("tsc --strict --exactOptionalPropertyTypes: every export, three resolutions, with and without the DOM lib", { skip }, () => {
  const fixtures = fileURLToPath(new URL("./types/", import.meta.url));
  const dir = project("tsc", {
    "every-export.mts": readFileSync(join(fixtures, "every-export.mts"), "utf8"),
    "narrowing.mts": readFileSync(join(fixtures, "narrowing.mts"), "utf8"),
  }, { type: "module" });
  const tsc = tools.resolve("typescript/bin/tsc");
  const problems = [];
  for (const [module, resolution] of [["esnext", "bundler"], ["node16", "node16"], ["nodenext", "nodenext"]]) {
    // esnext: its own Symbol.dispose declaration must merge with the package's.
    for (const lib of ["es2022", "es2022,dom", "esnext,dom"]) {
      const r = spawnSync(
        process.execPath,
        [tsc, "--noEmit", "--strict", "--exactOptionalPropertyTypes", "--target", "es2022", "--module", module,
          "--moduleResolution", resolution, "--lib", lib, "--skipLibCheck", "false", "every-export.mts", "narrowing.mts"],
        { cwd: dir, encoding: "utf8" },
      );
      if (r.status !== 0) problems.push(`--moduleResolution ${resolution} --lib ${lib}:\n${r.stdout}${r.stderr}`);
    }
  }
  assert.deepEqual(problems, []);
});
