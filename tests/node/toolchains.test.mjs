// The package as a user gets it: `npm pack` of pkg/, installed into fresh temporary projects,
// built and run as each toolchain does, asserting the exact verdict of a good and a bad batch:
// webpack 5, esbuild (ESM and IIFE), Vite and Rollup bundles in headless Chromium; Node ESM
// and CommonJS; the README's page (no bundler), its Node example and its Worker under
// `wrangler dev`; tsc --strict --exactOptionalPropertyTypes on a file using every export,
// under moduleResolution bundler, node16 and nodenext, with and without the DOM lib.
//
// The bundlers come pinned from tests/toolchains (its own package-lock.json, installed by
// scripts/setup.sh); wrangler and playwright-core from the root's.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, extname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

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
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  try {
    await page.goto(s.url + path);
    if (interact) return await interact(page, errors);
    await page.waitForFunction(() => window.__result !== undefined, null, { timeout: 20_000 });
    return await page.evaluate(() => window.__result);
  } catch (e) {
    throw new Error(`${e.message}\npage errors: ${errors.join("\n")}`);
  } finally {
    await page.close();
    await s.close();
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
    try {
      process.kill(-dev.pid, "SIGTERM");
    } catch {}
    const exited = await Promise.race([
      new Promise((r) => dev.once("exit", () => r(true))),
      new Promise((r) => setTimeout(() => r(false), 10_000)),
    ]);
    if (!exited) {
      try {
        process.kill(-dev.pid, "SIGKILL");
      } catch {}
    }
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
