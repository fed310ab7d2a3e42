// The public API of the linegate package, shared by every entry module (node.js, web.js).
// It turns what users pass as a body, a URL and headers into bytes and strings, and calls
// the wasm exports of glue.js, which wasm-bindgen generates from the root crate (src/).
// Options are validated there, answers come from there as typed data: no line-protocol
// logic and no InfluxDB text lives here.

import * as glue from "./glue.js";

let ready = false;
// The instance's exports (its memory, for writing strings straight into a BodyBuffer).
let wasm;

function toModuleInput(m) {
  // Accept initSync(module), initSync({ module }) and raw bytes alike.
  if (m && typeof m === "object" && Object.getPrototypeOf(m) === Object.prototype && "module" in m) {
    return m.module;
  }
  return m;
}

// A module with one SIMD instruction: whether this engine has WebAssembly SIMD (simd128).
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 22, 1, 20, 0, 253, 12,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 11,
]);

function bytesOf(b) {
  if (b instanceof ArrayBuffer) return new Uint8Array(b);
  if (ArrayBuffer.isView(b)) return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  return null;
}

// Vite's dev server pre-bundles dependencies into node_modules/.vite/deps/, where the
// default URL (next to the code) has no linegate.wasm: name the fix rather than the symptom.
function viteHint(from) {
  return typeof from === "string" && from.includes("/.vite/deps/")
    ? " Vite's dev server pre-bundled linegate away from its .wasm: add " +
        '`optimizeDeps: { exclude: ["linegate"] }` to vite.config.js.'
    : "";
}

// What was handed over is not a wasm module at all (say, a server's HTML page for a
// missing file): say what it starts with instead of letting the compiler guess.
function notWasm(bytes, from) {
  if (bytes === null) return null;
  if (bytes.length >= 4 && bytes[0] === 0 && bytes[1] === 0x61 && bytes[2] === 0x73 && bytes[3] === 0x6d) {
    return null;
  }
  const head = new TextDecoder().decode(bytes.subarray(0, 40)).replace(/\s+/g, " ").trim();
  return new Error(
    `linegate: ${from ? from : "what was given"} is not a WebAssembly module (${bytes.length} bytes, ` +
      `starting ${JSON.stringify(head)}); a server may be answering a missing file with a page. ` +
      "Serve linegate.wasm from the package (node_modules/linegate/linegate.wasm), or pass init() its URL or bytes." +
      viteHint(from),
  );
}

// The module is built with WebAssembly SIMD (simd128), which every current engine runs;
// say so when this one lacks it, and otherwise pass the compiler's own error on.
function explainCompileError(e) {
  if (e instanceof WebAssembly.CompileError && !WebAssembly.validate(SIMD_PROBE)) {
    const err = new WebAssembly.CompileError(
      "linegate: this JavaScript engine lacks WebAssembly SIMD, which linegate.wasm needs " +
        "(Chrome/Edge 91+, Firefox 89+, Safari 16.4+, Node 16.4+, current Deno, Bun and Workers): " +
        `update the browser or runtime (${e.message})`,
    );
    err.cause = e;
    return err;
  }
  return e;
}

function instantiate(module, from) {
  const m = toModuleInput(module);
  if (m === undefined || m === null) {
    throw new TypeError("linegate: initSync needs the compiled WebAssembly.Module (or the .wasm bytes)");
  }
  if (!(m instanceof WebAssembly.Module)) {
    const bad = notWasm(bytesOf(m), from);
    if (bad) throw bad;
  }
  try {
    wasm = glue.initSync({ module: m });
  } catch (e) {
    throw explainCompileError(e);
  }
  ready = true;
}

/**
 * Instantiates the package synchronously from a compiled `WebAssembly.Module` (what a
 * Cloudflare Worker gets from `import wasm from "linegate/linegate.wasm"`) or from the
 * `.wasm` bytes. Calling it again is harmless.
 */
export function initSync(module) {
  if (!ready) instantiate(module, undefined);
}

// The linegate.wasm beside this file, when the code runs from a URL (not every bundle
// keeps one: an esbuild IIFE has no import.meta.url).
// The `new URL("./linegate.wasm", import.meta.url)` stays literal: webpack and Vite find it
// and ship the file.
function defaultModuleUrl() {
  if (typeof import.meta.url !== "string" || import.meta.url === "") {
    throw new Error(
      "linegate: init() cannot find linegate.wasm: this bundle has no import.meta.url (an IIFE or " +
        "CommonJS bundle). Pass init() the module's URL or bytes; with esbuild: " +
        '`--loader:.wasm=file` and `import wasmUrl from "linegate/linegate.wasm"; await init(wasmUrl)`',
    );
  }
  return new URL("./linegate.wasm", import.meta.url);
}

/**
 * Instantiates the package asynchronously (for a browser's main thread, where large modules
 * must not be compiled synchronously). `input` is a `WebAssembly.Module`, the bytes, a
 * `Response`, or a URL; by default the `linegate.wasm` next to this file is fetched.
 */
export async function init(input) {
  if (ready) return;
  let m = toModuleInput(input);
  if (m === undefined) m = defaultModuleUrl();
  let from;
  if (!(m instanceof WebAssembly.Module)) {
    if (typeof m === "string" || m instanceof URL || (typeof Request === "function" && m instanceof Request)) {
      from = typeof m === "string" ? m : m instanceof URL ? m.href : m.url;
      m = fetch(m);
    }
    m = await m;
    if (typeof Response === "function" && m instanceof Response) {
      const res = m;
      from = res.url || from;
      if (!res.ok) throw new Error(`linegate: fetching the module gave HTTP ${res.status} (${from}).${viteHint(from)}`);
      // The bytes rather than a streaming compile: they can be looked at when they are not
      // wasm, and a server's missing application/wasm Content-Type does not matter.
      m = new Uint8Array(await res.arrayBuffer());
    }
    if (!(m instanceof WebAssembly.Module)) {
      const bad = notWasm(bytesOf(m), from);
      if (bad) throw bad;
      try {
        m = await WebAssembly.compile(m);
      } catch (e) {
        throw explainCompileError(e);
      }
    }
  }
  if (!ready) instantiate(m, from);
}

/** Whether the wasm module is instantiated. */
export function isReady() {
  return ready;
}

function need(what) {
  if (!ready) {
    throw new Error(
      `linegate: ${what} before the wasm module is initialised; call initSync(module) or await init() first ` +
        "(only the Node entry initialises itself)",
    );
  }
}

/**
 * A body held in wasm memory: glue.js's class, behind a guard that says what is wrong when
 * it is used before init (the glue would fail on a missing wasm export).
 */
export const BodyBuffer = new Proxy(glue.BodyBuffer, {
  construct(target, args, newTarget) {
    need("new BodyBuffer()");
    return Reflect.construct(target, args, newTarget);
  },
});

const glueFromBytes = glue.BodyBuffer.fromBytes;
glue.BodyBuffer.fromBytes = function fromBytes(bytes) {
  need("BodyBuffer.fromBytes()");
  return glueFromBytes.call(glue.BodyBuffer, bytes);
};

/** An error thrown by `parse` when InfluxDB would reject the batch. */
export class LinegateError extends Error {
  constructor(validation) {
    const first = validation.diagnostics[0];
    const what = first ? `line ${first.line}: ${first.reason}` : validation.body;
    super(`linegate: InfluxDB would answer ${validation.status}: ${what}`);
    this.name = "LinegateError";
    this.status = validation.status;
    this.code = validation.code;
    this.line = validation.line;
    this.body = validation.body;
    this.diagnostics = validation.diagnostics;
    this.validation = validation;
  }
}

const encoder = new TextEncoder();

// A string's UTF-8 bytes, encoded straight into wasm memory: first as if it were ASCII (one
// byte per UTF-16 unit), then, if it was not, the rest with room for 3 bytes per unit.
function stringBody(s) {
  const buf = new glue.BodyBuffer(s.length);
  let done = 0;
  let room = s.length;
  while (done < s.length) {
    const start = buf.length;
    const ptr = buf.__grow(room);
    const dest = new Uint8Array(wasm.memory.buffer, ptr, room);
    const { read, written } = encoder.encodeInto(done === 0 ? s : s.slice(done), dest);
    buf.__truncate(start + written);
    done += read;
    room = (s.length - done) * 3;
  }
  return buf;
}

// BodyBuffer.fromString too: the glue's version is the slow path stringBody avoids.
glue.BodyBuffer.fromString = function fromString(s) {
  need("BodyBuffer.fromString()");
  if (typeof s !== "string") throw new TypeError("linegate: BodyBuffer.fromString needs a string");
  return stringBody(s);
};

// Returns [BodyBuffer, owned]: the caller frees an owned buffer after the call.
function toBody(body, what) {
  if (body instanceof glue.BodyBuffer) return [body, false];
  if (typeof body === "string") return [stringBody(body), true];
  if (body instanceof Uint8Array) return [glueFromBytes(body), true];
  if (ArrayBuffer.isView(body)) {
    return [glueFromBytes(new Uint8Array(body.buffer, body.byteOffset, body.byteLength)), true];
  }
  if (body instanceof ArrayBuffer || (typeof SharedArrayBuffer === "function" && body instanceof SharedArrayBuffer)) {
    return [glueFromBytes(new Uint8Array(body)), true];
  }
  throw new TypeError(`linegate: ${what} must be a Uint8Array, an ArrayBuffer, a string or a BodyBuffer`);
}

function withBody(fn, body, f) {
  need(fn + "()");
  const [buf, owned] = toBody(body, "body");
  try {
    return f(buf);
  } finally {
    if (owned) buf.free();
  }
}

function strOpt(v, name) {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw new TypeError(`linegate: ${name} must be a string`);
  return v;
}

// Header values as a server reads them: the first value, optional whitespace trimmed.
function headerValue(v) {
  if (v === undefined || v === null) return undefined;
  if (Array.isArray(v)) v = v[0];
  if (v === undefined) return undefined;
  return String(v).replace(/^[ \t]+|[ \t]+$/g, "");
}

function pickHeaders(headers) {
  if (headers === undefined || headers === null) return {};
  if (typeof headers.get === "function" && typeof headers.has === "function") {
    // A fetch Headers object (names are case-insensitive there already).
    return {
      authorization: headerValue(headers.get("authorization")),
      contentEncoding: headerValue(headers.get("content-encoding")),
    };
  }
  if (typeof headers !== "object") throw new TypeError("linegate: headers must be an object or a Headers");
  const out = {};
  for (const k of Object.keys(headers)) {
    const name = k.toLowerCase();
    if (name === "authorization" && out.authorization === undefined) out.authorization = headerValue(headers[k]);
    else if (name === "content-encoding" && out.contentEncoding === undefined) {
      out.contentEncoding = headerValue(headers[k]);
    }
  }
  return out;
}

// The raw query string of a URL: what follows the first "?", up to any "#".
function queryOfUrl(url) {
  if (typeof URL === "function" && url instanceof URL) return url.search.slice(1);
  if (typeof url !== "string") throw new TypeError("linegate: url must be a string or a URL");
  const q = url.indexOf("?");
  if (q < 0) return "";
  const h = url.indexOf("#", q);
  return url.slice(q + 1, h < 0 ? undefined : h);
}

// The path of a request URL, when it names v1's write endpoint (else the default applies).
function pathOfUrl(url) {
  return typeof URL === "function" && url instanceof URL ? url.pathname : new URL(String(url), "http://x").pathname;
}

function endpointOfUrl(url) {
  if (url === undefined || url === null) return undefined;
  const path = pathOfUrl(url);
  return path === "/write" ? path : undefined;
}

// The parts of a request the checks read before the body; the wasm side validates them.
function requestHead(req) {
  let query = req.query;
  if (query === undefined || query === null) {
    query = req.url === undefined || req.url === null ? "" : queryOfUrl(req.url);
  } else {
    query = strOpt(query, "query");
    if (query.startsWith("?")) query = query.slice(1);
  }
  const h = pickHeaders(req.headers);
  return {
    endpoint: req.endpoint ?? endpointOfUrl(req.url),
    query,
    authorization: h.authorization,
    contentEncoding: h.contentEncoding,
  };
}

/**
 * Checks a write request as InfluxDB OSS v2 would answer it (spec Part A; v1's `/write`:
 * Part C): forward it, or reject it with the exact status, headers and JSON body. With
 * `acceptPartial` (spec Part D.1) a batch with good and bad lines is `partial`: forward its
 * accepted lines, keep its rejected ones, and answer once the accepted part is stored.
 */
export function checkWrite(req) {
  if (req === null || typeof req !== "object") throw new TypeError("linegate: checkWrite needs a request object");
  // `now`, `limits` and `acceptPartial` go as given: the wasm side validates them.
  const opts = { ...requestHead(req), now: req.now, limits: req.limits, acceptPartial: req.acceptPartial };
  const body = req.body;
  if (body instanceof Uint8Array && body.length >= 2 * PIECE && !req.acceptPartial) {
    need("checkWrite()");
    return checkInPieces(glue.StreamChecker.forRequest(opts), body);
  }
  return withBody("checkWrite", body, (buf) => glue.checkWrite(buf, opts));
}

// A large body goes through the incremental check a piece at a time, which gives the same
// answer for any chunking. Copied whole into wasm memory first, a 50 MB body grew the
// instance's memory by its size for good (RSS +64 MiB, +15 with pieces) and the copy cost
// ~0.17 ms/MB, a sixth of the check; a piece is copied into memory the cache still holds
// and parsed there (~0.12 ms/MB: reading the caller's bytes remains).
const PIECE = 1 << 20;

function checkInPieces(raw, body) {
  try {
    for (let i = 0; i < body.length && !raw.decided(); i += PIECE) raw.push(body.subarray(i, i + PIECE));
    return raw.finish();
  } finally {
    raw.free();
  }
}

/**
 * The credentials of a write request as its endpoint reads them: `{ user, secret }` (`user`
 * null for a token), or null when it has none. On `/write` they come from `u`/`p`,
 * `Authorization: Token [user:]secret` or Basic, in InfluxDB's order. Given a `url` (and no
 * `endpoint`), they are read as InfluxDB reads them at its path: so on `/write` and
 * `/query`, the `Authorization` token (`Token`/`Bearer`) alone elsewhere.
 */
export function credentials(req) {
  need("credentials");
  if (req === null || typeof req !== "object") throw new TypeError("linegate: credentials needs a request object");
  const head = requestHead(req);
  // Given a URL of any path, core reads the credentials as InfluxDB does at that path.
  if ((req.endpoint === undefined || req.endpoint === null) && req.url !== undefined && req.url !== null) {
    head.path = pathOfUrl(req.url);
  }
  return glue.writeCredentials(head);
}

/**
 * Step 1 of a write as the request alone decides it, before its body is read: null when it
 * goes on, or the 401 rejection when it has no credentials (on `/api/v2/write` also a blank
 * `Authorization`; on `/write` none, unless `req.upstream` is `"influxdb1"`, which decides
 * itself). The rule is the core's (`pipeline::given_credentials`).
 */
export function credentialsCheck(req) {
  need("credentialsCheck");
  if (req === null || typeof req !== "object") throw new TypeError("linegate: credentialsCheck needs a request object");
  return glue.credentialsCheck({ ...requestHead(req), upstream: req.upstream });
}

/**
 * Where a checked `/api/v2/write` request goes on `req.upstream` (InfluxDB 1.x or
 * VictoriaMetrics: `{ path, authorization }`), null when it goes unchanged, or a rejection
 * verdict when the upstream cannot take it. The rules are the core's (`upstream`).
 */
export function upstreamWrite(req) {
  need("upstreamWrite");
  if (req === null || typeof req !== "object") throw new TypeError("linegate: upstreamWrite needs a request object");
  return glue.upstreamWrite({ ...requestHead(req), upstream: req.upstream });
}

/**
 * Checks a batch as the server would answer an authorized write to an existing bucket, and
 * explains the answer: the verdict plus diagnostics, warnings and (optionally) a summary.
 */
export function validate(body, opts) {
  return withBody("validate", body, (buf) => glue.validate(buf, opts));
}

/**
 * The points of a batch as plain objects (BigInt for integer and unsigned values and for
 * times). Throws a LinegateError (with the validation) when InfluxDB would reject the batch.
 */
export function parse(body, opts) {
  const r = withBody("parse", body, (buf) => glue.parse(buf, opts));
  if (r.points === null) throw new LinegateError(r.validation);
  return pointsFromColumns(r.points);
}

const utf8 = new TextDecoder();

// Field value types, from the Rust enum (src/columns.rs) through the glue.
const { Float: T_FLOAT, Integer: T_INTEGER, Unsigned: T_UNSIGNED, String: T_STRING, False: T_FALSE } = glue.FieldCode;

// Turns the flat arrays of the wasm side (see PointColumns in src/columns.rs) into plain
// objects. Texts come numbered; each is made once, from one decoded string (or as bytes
// when it is not UTF-8), and shared by every point that names it.
function pointsFromColumns(c) {
  const { shape, refs, lens, raw, floats, ints } = c;
  const decoded = utf8.decode(c.text);
  const texts = new Array(lens.length);
  for (let i = 0, t = 0, r = 0; i < lens.length; i++) {
    const n = lens[i] >>> 1;
    texts[i] = lens[i] & 1 ? raw.slice(r, (r += n)) : decoded.slice(t, (t += n));
  }
  let s = 0;
  let k = 0;
  let fi = 0;
  let ii = 0;
  const nextText = () => {
    const v = texts[refs[k++]];
    // Bytes are copied per use: a Uint8Array is mutable, a shared one would not be plain data.
    return typeof v === "string" ? v : v.slice();
  };
  const points = new Array(c.count);
  for (let p = 0; p < c.count; p++) {
    const ntags = shape[s++];
    const nfields = shape[s++];
    const line = shape[s++];
    const measurement = nextText();
    const tags = new Array(ntags);
    for (let i = 0; i < ntags; i++) tags[i] = [nextText(), nextText()];
    const fields = new Array(nfields);
    for (let i = 0; i < nfields; i++) {
      const key = nextText();
      const code = shape[s++];
      if (code === T_FLOAT) fields[i] = { key, type: "float", value: floats[fi++] };
      else if (code === T_INTEGER) fields[i] = { key, type: "integer", value: ints[ii++] };
      else if (code === T_UNSIGNED) fields[i] = { key, type: "unsigned", value: BigInt.asUintN(64, ints[ii++]) };
      else if (code === T_STRING) fields[i] = { key, type: "string", value: nextText() };
      else fields[i] = { key, type: "boolean", value: code !== T_FALSE };
    }
    points[p] = { measurement, tags, fields, time: ints[ii++], line };
  }
  return points;
}

/**
 * InfluxDB's own answer of a kind a server makes itself (`unauthorized`, `not-found`,
 * `internal`, `method-not-allowed`, `unavailable`, `ping`, `health`), as
 * `{ status, headers, body }` for `new Response(body, { status, headers })`.
 */
export function answer(kind, args) {
  need("answer()");
  return glue.answer(kind, args);
}

// ---- write quotas (spec Part D.2) -----------------------------------------------------
// The decisions, for a Worker that keeps the counts and series sets in its own storage.

/**
 * The names a write request's quotas are kept under, from its head (`checkWrite`'s request
 * without the body): `{ tenant, bucket }`, or null when InfluxDB answers the head first.
 */
export function quotaNames(req) {
  need("quotaNames()");
  if (req === null || typeof req !== "object") throw new TypeError("linegate: quotaNames needs a request object");
  return glue.quotaNames(requestHead(req));
}

/**
 * The rate decision before the body is read: null, or the 429 answer (with `Retry-After` to
 * the window's end) when `usage.bytes` counted in `usage.window` is at or above `limit`.
 */
export function checkRate(tenant, usage, limit, nowMs = Date.now()) {
  need("checkRate()");
  return glue.checkRate(String(tenant), usage?.window ?? 0, usage?.bytes ?? 0, limit, nowMs);
}

/** The usage `{ window, bytes }` after `bytes` more were stored at `nowMs`. */
export function countRate(usage, bytes, nowMs = Date.now()) {
  need("countRate()");
  return glue.countRate(usage?.window ?? 0, usage?.bytes ?? 0, nowMs, bytes);
}

/**
 * The admission of a batch's distinct series (input order) against a bucket's set: `known`
 * (one truthy value per series), the set's `count` and the `limit`. `{ refused, add,
 * refusedAt }`: how many new series did not fit, the indices of those to add to the set
 * (none when one was refused, unless `partial`), and the indices of those that did not fit
 * (a partial write's `Checker.refuseSeries` takes them).
 */
export function admitSeries(known, count, limit, { partial = false } = {}) {
  need("admitSeries()");
  const k = known instanceof Uint8Array ? known : Uint8Array.from(known, (x) => (x ? 1 : 0));
  return glue.admitSeries(k, count, limit, partial);
}

// A series hash as the sets keep it: 16 hex digits.
const hex64 = (h) => h.toString(16).padStart(16, "0");

/**
 * The header that names one accepted batch on every attempt to deliver it (a random id,
 * 16-64 characters of [0-9A-Za-z_-]): linegate-backend stores a batch whose id it stored
 * before only once, and answers the repeat 204. InfluxDB ignores it.
 */
export function batchIdHeader() {
  need("batchIdHeader()");
  return glue.batchIdHeader();
}

/**
 * The header an edge sets to its client's address when it forwards a request: the backend
 * counts failed authentication per client by it, believing it only from the proxies its
 * operator names (`--trusted-proxies`).
 */
export function clientAddressHeader() {
  need("clientAddressHeader()");
  return glue.clientAddressHeader();
}

/**
 * Store-and-forward's policy (linegate-core's `delivery`): what to do with a stored batch
 * after one delivery attempt. `attempt` is `{ status, retryAfter }` (the upstream's answer)
 * or `{ failure: "unreachable" | "timeout" }`, with the batch (`body`, `contentEncoding`:
 * read only on a 413), its `history` so far, `now` (ms), `random` and `policy`. The answer
 * says `delivered`, `retry` (`afterMs`), `split` (`at`, in `plain` when the batch was gzip)
 * or `dead` (`reason`), with the `history` to keep for the next attempt.
 */
export function deliveryDecision(attempt) {
  need("deliveryDecision()");
  return glue.deliveryDecision(attempt);
}

/**
 * SPOOL=fallback's rule: whether a live write's answer `status` means the batch is kept to be
 * delivered later (429, 5xx) instead of passed back to the client.
 */
export function fallbackHolds(status) {
  need("fallbackHolds()");
  return glue.fallbackHolds(status);
}

/**
 * Where a batch is cut in two on a 413: the start of the logical line with points nearest
 * the middle (a LF inside a quoted string is not a line end), or null for a single line.
 */
export function splitPoint(body) {
  need("splitPoint()");
  return glue.splitPoint(chunkBytes(body)) ?? null;
}

/**
 * A whole gzip body decoded as InfluxDB reads it (every member, Go's error texts; throws on
 * a bad body), up to `opts.limit` decoded bytes (default 512 MiB).
 */
export function gunzip(body, opts) {
  need("gunzip()");
  return glue.gunzip(chunkBytes(body), opts?.limit);
}

/** `gunzip` fed in pieces: `push(chunk)` returns the bytes decoded so far, `finish()` the rest. */
export class Gunzip {
  #raw;

  constructor(opts) {
    need("new Gunzip()");
    this.#raw = new glue.Gunzip(opts?.limit);
  }

  #live() {
    if (this.#raw === null) throw new Error("linegate: this Gunzip has finished or was freed");
    return this.#raw;
  }

  /** The decoded bytes of the next chunk (throws on a bad body). */
  push(chunk) {
    return this.#live().push(chunkBytes(chunk));
  }

  /** The last decoded bytes; throws when the body did not end after a whole member. Frees it. */
  finish() {
    const raw = this.#live();
    try {
      return raw.finish();
    } finally {
      this.free();
    }
  }

  /** Frees the wasm memory now. */
  free() {
    if (this.#raw !== null) {
      this.#raw.free();
      this.#raw = null;
    }
  }
}
if (typeof Symbol.dispose === "symbol") Gunzip.prototype[Symbol.dispose] = Gunzip.prototype.free;

/**
 * The `precision` values clients of `endpoint` (`"/api/v2/write"` or `"/write"`) send, each
 * with how the endpoint reads given timestamps under it: `[{ value, unit, ignoresUnit }]`
 * (`ignoresUnit`: a coarser 1.x unit that `/write` reads as nanoseconds).
 */
export function precisions(endpoint = "/api/v2/write") {
  need("precisions()");
  return glue.precisions(endpoint);
}

/**
 * The most bytes a gzip member header can take before the check decides on it: enough of a
 * body for every check that comes before the size check.
 */
export function maxGzipHeader() {
  need("maxGzipHeader()");
  return glue.maxGzipHeader();
}

/** The version of the series hash `Checker.seriesHashes` gives (stored sets record it). */
export function seriesHashVersion() {
  need("seriesHashVersion()");
  return glue.seriesHashVersion();
}

/**
 * How much of a request body to read and hold, from its `Content-Length` value (null or
 * undefined when it has none) and the body limit `maxBody`: `{ declared, tooLarge, cap,
 * hold }`. A body declared `tooLarge` is answered 413 after the checks that come first,
 * which need at most its first `cap` bytes.
 */
export function bodyRead(contentLength, maxBody) {
  need("bodyRead()");
  return glue.bodyRead(contentLength ?? "", maxBody);
}

/**
 * The name of a write's queue in an edge spool: the JSON array of `path` and the parameters
 * of `query` (raw, with or without its `?`) that name the bucket (`org`, `orgID`, `bucket`;
 * v1's `/write`: `db`, `rp`), decoded as `URLSearchParams` decodes them.
 */
export function spoolName(path, query = "") {
  need("spoolName()");
  // Which parameters name the bucket is core's rule; the text is the one the spool has
  // always used (its objects are named by it).
  const q = new URLSearchParams(query);
  return JSON.stringify([path, ...glue.spoolParams(path).split(",").map((k) => q.get(k) ?? "")]);
}

/** The package (and crate) version. */
export function version() {
  need("version()");
  return glue.version();
}

// Chunk bytes for Checker.push: a string goes as its UTF-8 bytes.
function chunkBytes(chunk) {
  if (chunk instanceof Uint8Array) return chunk;
  if (typeof chunk === "string") return encoder.encode(chunk);
  if (ArrayBuffer.isView(chunk)) return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (chunk instanceof ArrayBuffer || (typeof SharedArrayBuffer === "function" && chunk instanceof SharedArrayBuffer)) {
    return new Uint8Array(chunk);
  }
  throw new TypeError("linegate: a chunk must be a Uint8Array, an ArrayBuffer or a string");
}

// Checker.forRequest hands its raw checker to the constructor through this.
const RAW = Symbol("raw");

// Each class's raw wasm object, for the other's methods (set by their static blocks).
let checkerRaw;
let knownRaw;

/**
 * The check fed chunk by chunk as a body arrives: `push(chunk)` each piece, then
 * `finish()` gives `validate`'s Validation (`new Checker(opts)`, a batch) or `checkWrite`'s
 * verdict (`Checker.forRequest(req)`, a live request), equal to the one-shot answer for any
 * chunking. Only a pending partial line and the inflate window are held, never the body.
 * `decided()` says the answer is known already (reading can stop). Free it with `free()`
 * or `using` when it is dropped unfinished; `finish()` frees it.
 */
export class Checker {
  #raw;

  constructor(opts, raw) {
    need("new Checker()");
    this.#raw = opts === RAW ? raw : glue.StreamChecker.forBatch(opts);
  }

  /** A live write request: `checkWrite`'s request without the body. */
  static forRequest(req) {
    need("Checker.forRequest()");
    if (req === null || typeof req !== "object") throw new TypeError("linegate: Checker.forRequest needs a request object");
    const opts = { ...requestHead(req), now: req.now, limits: req.limits, acceptPartial: req.acceptPartial, upstream: req.upstream };
    const raw = glue.StreamChecker.forRequest(opts);
    // The write quotas (spec D.2): the batch's distinct series (`verdict.series`, of the
    // lines that go on) and its decoded size (`verdict.decoded`), when asked for. "held":
    // the series stay in the checker (`unknownSeries`, `seriesHashes`, `KnownSeries`), so a
    // batch of known series hands none to JS.
    const series = req.series === true || req.series === "held";
    if (series) raw.collectSeries();
    const c = new Checker(RAW, raw);
    c.#series = series;
    c.#inVerdict = req.series === true;
    c.#decoded = req.decoded === true || series;
    return c;
  }

  static {
    checkerRaw = (c) => c.#live();
  }

  #series = false;
  #inVerdict = false;
  #decoded = false;

  #live() {
    if (this.#raw === null) throw new Error("linegate: this Checker has finished or was freed");
    return this.#raw;
  }

  /** Feeds the next bytes of the body. */
  push(chunk) {
    this.#live().push(chunkBytes(chunk));
  }

  /**
   * A partial write's accepted lines parsed since the last call (each followed by LF), to
   * send on while the body still arrives; `finish()`'s `forward` then holds only the rest.
   */
  takeAccepted() {
    return this.#live().takeAccepted();
  }

  /** Whether the answer is already known whatever else arrives. */
  decided() {
    return this.#raw !== null && this.#raw.decided();
  }

  /** Bytes pushed so far. */
  get received() {
    return this.#live().received;
  }

  /**
   * Ends the body and gives the answer; frees the checker, except after a verdict with
   * `series` (then `refuseSeries` may follow: call `free()` when done).
   */
  finish() {
    const raw = this.#live();
    let keep = false;
    try {
      const v = raw.finish();
      keep = this.#series && v.action !== "reject";
      return this.#shape(v);
    } finally {
      if (!keep) this.free();
    }
  }

  #shape(v) {
    const raw = this.#raw;
    if (this.#inVerdict && v.action !== "reject") v.series = Array.from(raw.seriesHashes(), hex64);
    if (this.#decoded && v.action !== "reject") v.decoded = raw.decoded;
    return v;
  }

  /**
   * The series quota with partial writes (spec D.2 with D.1), after `finish()`: the lines of
   * the series at `refused` (indices into `verdict.series`) become rejected lines, and the
   * verdict is made again (`partial`, or `reject` when no line is left; its `series` are
   * those left, to admit again). Null when the write is not partial: then the series 429.
   */
  refuseSeries(refused) {
    const raw = this.#live();
    const v = raw.refuseSeries(Uint32Array.from(refused));
    return v === null ? null : this.#shape(v);
  }

  /**
   * After `finish()` with `series`: the indices (a Uint32Array, into the batch's distinct
   * series as `verdict.series` lists them) of the series not in `known`, a `KnownSeries`
   * (under `bucket`, when given); empty when every one is known.
   */
  unknownSeries(known, bucket) {
    return knownRaw(known).series(this.#live(), false, bucketName(bucket));
  }

  /** After `finish()` with `series`: the series at `indices` (all when omitted), 16 hex digits each. */
  seriesHashes(indices) {
    // All the words cross (a copy of 8 bytes each); only those asked for become text.
    const all = this.#live().seriesHashes();
    if (indices === undefined) return Array.from(all, hex64);
    return Array.from(indices, (i) => {
      if (all[i] === undefined) throw new RangeError(`linegate: no series at index ${i}`);
      return hex64(all[i]);
    });
  }

  /** Frees the wasm memory now (an unfinished check is dropped). */
  free() {
    if (this.#raw !== null) {
      this.#raw.free();
      this.#raw = null;
    }
  }
}
if (typeof Symbol.dispose === "symbol") Checker.prototype[Symbol.dispose] = Checker.prototype.free;

// A KnownSeries' bucket argument: a name (as UTF-8), or none (undefined: empty).
const NO_BUCKET = new Uint8Array(0);
function bucketName(bucket) {
  if (bucket === undefined) return NO_BUCKET;
  if (typeof bucket !== "string" || bucket === "") throw new TypeError("linegate: a bucket is named by a non-empty string");
  return encoder.encode(bucket);
}

/**
 * Series a quota's authority admitted, held in wasm memory (linegate-core's `KnownSet`): a
 * door's memory so a batch of known series needs no call to the authority (spec D.2).
 * At most `max` series: when the new series of a batch would pass it, the set is dropped
 * whole first (the next batches ask the authority again). Only put in what the authority
 * admitted: it stays the one that counts. `free()` it when dropped.
 */
export class KnownSeries {
  #raw;

  constructor(max) {
    need("new KnownSeries()");
    if (!Number.isInteger(max) || max < 0 || max > 0xffffffff) {
      throw new TypeError("linegate: KnownSeries needs a whole number of series ≥ 0");
    }
    this.#raw = new glue.KnownSeries(max);
    this.max = max;
  }

  static {
    knownRaw = (k) => {
      if (!(k instanceof KnownSeries)) throw new TypeError("linegate: not a KnownSeries");
      return k.#live();
    };
  }

  #live() {
    if (this.#raw === null) throw new Error("linegate: this KnownSeries was freed");
    return this.#raw;
  }

  /** How many series it holds. */
  get size() {
    return this.#live().size;
  }

  /**
   * Whether the series of this hash (16 hex digits, as `verdict.series` gives it) is held
   * (under `bucket`, when given).
   */
  has(hash, bucket) {
    if (typeof hash !== "string" || !/^[0-9a-f]{16}$/.test(hash)) return false;
    return this.#live().has(BigInt(`0x${hash}`), bucketName(bucket));
  }

  /**
   * Records every distinct series of a finished `Checker` (with `series`), once the
   * authority admitted them, under `bucket` when given (one set for many buckets, one
   * bound). Returns the set's size after.
   */
  remember(checker, bucket) {
    const raw = this.#live();
    raw.series(checkerRaw(checker), true, bucketName(bucket));
    return raw.size;
  }

  /** Drops every series. */
  clear() {
    this.#live().free();
    this.#raw = new glue.KnownSeries(this.max);
  }

  /** Frees the wasm memory now. */
  free() {
    if (this.#raw !== null) {
      this.#raw.free();
      this.#raw = null;
    }
  }
}
if (typeof Symbol.dispose === "symbol") KnownSeries.prototype[Symbol.dispose] = KnownSeries.prototype.free;

// The value a cancelled call throws: the signal's reason, as fetch throws it, else an
// Error named AbortError (the wasm side's progress.rs makes the same).
function abortReason(signal) {
  if (signal.reason !== undefined) return signal.reason;
  const e = new Error("linegate: the check was aborted");
  e.name = "AbortError";
  return e;
}

const READ_SIZE = 64 * 1024;

// One reading loop over a ReadableStream, or an async iterable (a Node Readable): next()
// gives the next chunk or undefined at the end; stop() cancels the source.
function chunkSource(source) {
  if (source !== null && typeof source === "object" && typeof source.getReader === "function") {
    // A byte stream (a request or response body, File.stream()) is read into one 64 KiB
    // buffer of ours, handed back by each read: a Worker's body otherwise comes in ~4 KB
    // pieces, each a promise turn and a crossing into wasm. Each chunk is pushed (copied)
    // before the next read, so one buffer does.
    let buf = null;
    let reader;
    try {
      reader = source.getReader({ mode: "byob" });
      buf = new Uint8Array(READ_SIZE);
    } catch {
      reader = source.getReader();
    }
    // A hand-made byte stream that closes without answering the pending read into our
    // buffer (`byobRequest.respond(0)`) leaves that read pending for ever; its end is then
    // seen on `closed`. A read into a view resolves as soon as one byte is in, so nothing
    // is lost by ending there (an error rejects both).
    const CLOSED = {};
    const closed = buf === null ? null : reader.closed.then(() => CLOSED);
    closed?.catch(() => {});
    let ended = false;
    return {
      next: async () => {
        if (buf === null) {
          const r = await reader.read();
          return r.done ? undefined : r.value;
        }
        if (ended) return undefined;
        const read = reader.read(buf);
        read.catch(() => {});
        const r = await Promise.race([read, closed]);
        if (r === CLOSED) {
          ended = true;
          return undefined;
        }
        if (r.value !== undefined) buf = new Uint8Array(r.value.buffer);
        ended = r.done;
        return r.value !== undefined && r.value.length > 0 ? r.value : ended ? undefined : new Uint8Array(0);
      },
      stop: (why) => reader.cancel(why).catch(() => {}),
      done: () => {
        try {
          reader.releaseLock();
        } catch {
          // A read left pending (above) on an engine that refuses to release then.
        }
      },
    };
  }
  if (source !== null && typeof source === "object" && typeof source[Symbol.asyncIterator] === "function") {
    const it = source[Symbol.asyncIterator]();
    return {
      next: async () => {
        const r = await it.next();
        return r.done ? undefined : r.value;
      },
      // A Node Readable's iterator destroys the stream on return().
      stop: async () => {
        try {
          await it.return?.();
        } catch {
          // The source failed while being stopped: the answer is known already.
        }
      },
      done: () => {},
    };
  }
  throw new TypeError("linegate: checkStream needs a ReadableStream or an async iterable of chunks");
}

/**
 * Checks a body as it is read from `source` (a ReadableStream, a Node Readable or any async
 * iterable of chunks), never holding it whole. With `opts.request` (`checkWrite`'s request
 * without the body) the answer is the verdict; else `validate`'s Validation for `opts`.
 * Reading stops as soon as the answer is known (the source is cancelled). `opts.signal`
 * cancels (the source too): the promise rejects with `signal.reason`. `opts.onProgress`
 * gets the bytes read so far (and `opts.size`, or 0); returning `false` cancels with an
 * AbortError.
 */
export async function checkStream(source, opts) {
  need("checkStream()");
  const { request, signal, onProgress, size, ...rest } = opts ?? {};
  if (signal !== undefined && signal !== null && (typeof signal !== "object" || !("aborted" in signal))) {
    throw new TypeError("linegate: signal must be an AbortSignal");
  }
  if (onProgress !== undefined && onProgress !== null && typeof onProgress !== "function") {
    throw new TypeError("linegate: onProgress must be a function");
  }
  if (signal?.aborted) throw abortReason(signal);
  const checker = request !== undefined && request !== null ? Checker.forRequest(request) : new Checker(rest);
  let src;
  let onAbort;
  try {
    src = chunkSource(source);
    // A pending read ends at once on abort: the source is cancelled and the reason thrown.
    const aborted = signal
      ? new Promise((_, reject) => {
          onAbort = () => reject(abortReason(signal));
          signal.addEventListener?.("abort", onAbort, { once: true });
        })
      : null;
    aborted?.catch(() => {});
    const total = typeof size === "number" ? size : 0;
    for (;;) {
      const chunk = aborted ? await Promise.race([src.next(), aborted]) : await src.next();
      if (signal?.aborted) throw abortReason(signal);
      if (chunk === undefined) {
        src.done();
        break;
      }
      checker.push(chunk);
      if (onProgress && onProgress(checker.received, total) === false) {
        const e = new Error("linegate: cancelled by onProgress");
        e.name = "AbortError";
        throw e;
      }
      if (checker.decided()) {
        await src.stop();
        break;
      }
    }
    return checker.finish();
  } catch (e) {
    if (src) await src.stop(e);
    throw e;
  } finally {
    if (onAbort) signal.removeEventListener?.("abort", onAbort);
    checker.free();
  }
}
