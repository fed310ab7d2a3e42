// The public API of the linegate package, shared by every entry module (node.js, web.js).
// It normalises what users pass (body types, headers, URL, options) and calls the wasm
// exports of glue.js, which wasm-bindgen generates from the root crate. No line-protocol
// logic lives here: every answer comes from linegate-core compiled to wasm.

import * as glue from "./glue.js";

export const BodyBuffer = glue.BodyBuffer;

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

// The module is built with WebAssembly SIMD (simd128), which every current engine runs;
// say so when an older one refuses it.
function explainCompileError(e) {
  if (e instanceof WebAssembly.CompileError) {
    const err = new WebAssembly.CompileError(
      `linegate: this engine cannot compile linegate.wasm (${e.message}); it needs WebAssembly ` +
        "SIMD (Chrome/Edge 91+, Firefox 89+, Safari 16.4+, Node 16.4+); a build without it: " +
        "LINEGATE_SIMD=0 npm run build",
    );
    err.cause = e;
    return err;
  }
  return e;
}

/**
 * Instantiates the package synchronously from a compiled `WebAssembly.Module` (what a
 * Cloudflare Worker gets from `import wasm from "linegate/linegate.wasm"`) or from the
 * `.wasm` bytes. Calling it again is harmless.
 */
export function initSync(module) {
  if (!ready) {
    const m = toModuleInput(module);
    if (m === undefined || m === null) {
      throw new TypeError("linegate: initSync needs the compiled WebAssembly.Module (or the .wasm bytes)");
    }
    try {
      wasm = glue.initSync({ module: m });
    } catch (e) {
      throw explainCompileError(e);
    }
    ready = true;
  }
}

/**
 * Instantiates the package asynchronously (for a browser's main thread, where large modules
 * must not be compiled synchronously). `input` is a `WebAssembly.Module`, the bytes, a
 * `Response`, or a URL; by default the `linegate.wasm` next to this file is fetched.
 */
export async function init(input) {
  if (ready) return;
  let m = toModuleInput(input);
  if (m === undefined) m = new URL("./linegate.wasm", import.meta.url);
  if (!(m instanceof WebAssembly.Module)) {
    if (typeof m === "string" || m instanceof URL || (typeof Request === "function" && m instanceof Request)) {
      m = fetch(m);
    }
    m = await m;
    if (typeof Response === "function" && m instanceof Response) {
      const res = m;
      if (!res.ok) throw new Error(`linegate: fetching the module gave HTTP ${res.status} (${res.url})`);
      try {
        m = await WebAssembly.compileStreaming(res.clone());
      } catch {
        // No streaming compile here, or the server's Content-Type is not application/wasm.
        m = await compileBytes(await res.arrayBuffer());
      }
    } else if (!(m instanceof WebAssembly.Module)) {
      m = await compileBytes(m);
    }
  }
  initSync(m);
}

async function compileBytes(bytes) {
  try {
    return await WebAssembly.compile(bytes);
  } catch (e) {
    throw explainCompileError(e);
  }
}

/** Whether the wasm module is instantiated. */
export function isReady() {
  return ready;
}

function need() {
  if (!ready) {
    throw new Error(
      "linegate: the wasm module is not initialised; call initSync(module) or await init() first " +
        "(only the Node entry initialises itself)",
    );
  }
}

/** An error thrown by `parse` when InfluxDB would reject the batch. */
export class LinegateError extends Error {
  constructor(validation) {
    const first = validation.diagnostics && validation.diagnostics[0];
    const what = first ? `line ${first.line}: ${first.reason}` : validation.body;
    super(`linegate: InfluxDB would answer ${validation.status}: ${what}`);
    this.name = "LinegateError";
    this.status = validation.status;
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
  need();
  if (typeof s !== "string") throw new TypeError("linegate: BodyBuffer.fromString needs a string");
  return stringBody(s);
};

// Returns [BodyBuffer, owned]: the caller frees an owned buffer after the call.
function toBody(body, what) {
  if (body instanceof glue.BodyBuffer) return [body, false];
  if (typeof body === "string") return [stringBody(body), true];
  if (body instanceof Uint8Array) return [glue.BodyBuffer.fromBytes(body), true];
  if (ArrayBuffer.isView(body)) {
    return [glue.BodyBuffer.fromBytes(new Uint8Array(body.buffer, body.byteOffset, body.byteLength)), true];
  }
  if (body instanceof ArrayBuffer || (typeof SharedArrayBuffer === "function" && body instanceof SharedArrayBuffer)) {
    return [glue.BodyBuffer.fromBytes(new Uint8Array(body)), true];
  }
  throw new TypeError(`linegate: ${what} must be a Uint8Array, an ArrayBuffer, a string or a BodyBuffer`);
}

function withBody(body, what, f) {
  need();
  const [buf, owned] = toBody(body, what);
  try {
    return f(buf);
  } catch (e) {
    // onProgress returned false: surface it the way fetch and streams report a cancel.
    if (e instanceof Error && e.message === "linegate: cancelled by onProgress") e.name = "AbortError";
    throw e;
  } finally {
    if (owned) buf.free();
  }
}

const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;

function nowOpt(now) {
  if (now === undefined || now === null) return undefined;
  if (typeof now === "number" && Number.isSafeInteger(now)) now = BigInt(now);
  if (typeof now !== "bigint") throw new TypeError("linegate: now must be a bigint (nanoseconds since the epoch)");
  if (now < I64_MIN || now > I64_MAX) throw new RangeError("linegate: now must fit in 64 bits");
  return now;
}

function limitsOpt(limits) {
  if (limits === undefined || limits === null) return undefined;
  if (typeof limits !== "object") throw new TypeError("linegate: limits must be an object");
  const out = {};
  for (const k of ["maxBody", "maxBatch", "maxMessage"]) {
    const v = limits[k];
    if (v === undefined || v === null) continue;
    const n = typeof v === "bigint" ? Number(v) : v;
    if (typeof n !== "number" || Number.isNaN(n) || n < 0) {
      throw new TypeError(`linegate: limits.${k} must be a non-negative number of bytes`);
    }
    out[k] = n;
  }
  return out;
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

const ENDPOINTS = ["/api/v2/write", "/write"];

// The write endpoint: the `endpoint` option, else the path of `url` when it names one.
function endpointOf(req) {
  if (req.endpoint !== undefined && req.endpoint !== null) {
    if (!ENDPOINTS.includes(req.endpoint)) {
      throw new TypeError('linegate: endpoint must be "/api/v2/write" or "/write"');
    }
    return req.endpoint;
  }
  if (req.url === undefined || req.url === null) return undefined;
  const path = typeof req.url === "string" ? new URL(req.url, "http://x").pathname : req.url.pathname;
  return ENDPOINTS.includes(path) ? path : undefined;
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

// The parts of a request the checks read before the body.
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
    endpoint: endpointOf(req),
    query,
    authorization: h.authorization,
    contentEncoding: h.contentEncoding,
  };
}

/**
 * The credentials of a write request as its endpoint reads them: `{ user, secret }` (`user`
 * null for a token), or null when it has none. On `/write` they come from `u`/`p`,
 * `Authorization: Token [user:]secret` or Basic, in InfluxDB's order.
 */
export function credentials(req) {
  need();
  if (req === null || typeof req !== "object") throw new TypeError("linegate: credentials needs a request object");
  return glue.writeCredentials(requestHead(req));
}

/**
 * Checks a write request as InfluxDB OSS v2 would answer it (spec Part A): forward it, or
 * reject it with the exact status, headers and JSON body.
 */
export function checkWrite(req) {
  if (req === null || typeof req !== "object") throw new TypeError("linegate: checkWrite needs a request object");
  const opts = {
    ...requestHead(req),
    now: nowOpt(req.now),
    limits: limitsOpt(req.limits),
  };
  return withBody(req.body, "body", (buf) => glue.checkWrite(buf, opts));
}

function batchOpts(opts) {
  if (opts === undefined || opts === null) opts = {};
  if (typeof opts !== "object") throw new TypeError("linegate: options must be an object");
  let summaryBuckets;
  if (opts.summary === true) summaryBuckets = 50;
  else if (typeof opts.summary === "number") summaryBuckets = Math.max(0, Math.floor(opts.summary));
  else if (opts.summary !== undefined && opts.summary !== false && opts.summary !== null) {
    throw new TypeError("linegate: summary must be a boolean or a number of histogram bars");
  }
  if (opts.onProgress !== undefined && opts.onProgress !== null && typeof opts.onProgress !== "function") {
    throw new TypeError("linegate: onProgress must be a function");
  }
  return [
    {
      endpoint: endpointOf({ endpoint: opts.endpoint }),
      precision: strOpt(opts.precision, "precision"),
      contentEncoding: strOpt(opts.contentEncoding, "contentEncoding"),
      now: nowOpt(opts.now),
      limits: limitsOpt(opts.limits),
      warnings: opts.warnings === undefined ? undefined : Boolean(opts.warnings),
      summaryBuckets,
    },
    opts.onProgress ?? undefined,
  ];
}

/**
 * Checks a batch as the server would answer an authorized write to an existing bucket, and
 * explains the answer: the verdict plus diagnostics, warnings and (optionally) a summary.
 */
export function validate(body, opts) {
  const [o, onProgress] = batchOpts(opts);
  return withBody(body, "body", (buf) => glue.validate(buf, o, onProgress));
}

/**
 * The points of a batch as plain objects (BigInt for integer and unsigned values and for
 * times). Throws a LinegateError (with the validation) when InfluxDB would reject the batch.
 */
export function parse(body, opts) {
  const [o, onProgress] = batchOpts(opts);
  const r = withBody(body, "body", (buf) => glue.parse(buf, { ...o, warnings: false }, onProgress));
  if (r.points === null) throw new LinegateError(r.validation);
  return pointsFromColumns(r.points);
}

const utf8 = new TextDecoder();

// Field value types, as src/lib.rs writes them.
const T_FLOAT = 0;
const T_INTEGER = 1;
const T_UNSIGNED = 2;
const T_STRING = 3;
const T_FALSE = 4;

// Turns the flat arrays of the wasm side (see PointColumns in src/lib.rs) into plain
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

/** The package (and crate) version. */
export function version() {
  need();
  return glue.version();
}
