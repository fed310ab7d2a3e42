// Compiled by types.test.mjs with tsc --strict: the shipped index.d.ts must type the uses
// the README shows, and reject the misuses below (each marked with @ts-expect-error).
import {
  checkWrite,
  credentials,
  validate,
  parse,
  init,
  initSync,
  BodyBuffer,
  Checker,
  KnownSeries,
  checkStream,
  LinegateError,
  type Verdict,
  type Validation,
  type Point,
} from "linegate";

declare const bytes: Uint8Array;
declare const module: WebAssembly.Module;

initSync(module);
initSync({ module });
await init();
await init(new URL("https://example.com/linegate.wasm"));

const v: Verdict = checkWrite({
  query: "org=o&bucket=b&precision=ns",
  headers: { authorization: "Token t", "content-encoding": "gzip" },
  body: bytes,
  now: 1700000000123456789n,
});
if (v.action === "forward") {
  const n: number = v.points + v.lines;
  void n;
} else {
  const s: number = v.status;
  const b: string = v.body;
  const code: string = v.headers["X-Platform-Error-Code"];
  void [s, b, code];
}
checkWrite({ url: new URL("https://h/api/v2/write?org=o&bucket=b"), headers: new Headers(), body: "m f=1" });
checkWrite({ query: "", body: new ArrayBuffer(0), limits: { maxBody: 1 << 20, maxBatch: 1 << 22 } });
checkWrite({ endpoint: "/write", query: "db=d&u=a&p=b&precision=h", body: "m f=1" });
validate("m f=1 1", { endpoint: "/write", precision: "h" });
// @ts-expect-error only the two write paths are endpoints
checkWrite({ endpoint: "/query", body: "" });
const creds = credentials({ endpoint: "/write", url: "https://h/write?db=d&u=a&p=b" });
if (creds !== null) {
  const secret: string | Uint8Array = creds.secret;
  const user: string | Uint8Array | null = creds.user;
  void [secret, user];
}
// @ts-expect-error: now is a bigint
checkWrite({ query: "", body: "", now: 5 });
// @ts-expect-error: the body is required
checkWrite({ query: "" });

const val: Validation = validate(bytes, {
  precision: "s",
  summary: 40,
  onProgress: (done: number, total: number) => done < total,
});
const first = val.diagnostics[0];
const where: string = `${first.line}:${first.column} ${first.reason} (${first.hint})`;
const minTime: bigint | null = val.summary?.minTime ?? null;
void [where, minTime];

const pts: Point[] = parse("m f=1i", { now: 1n });
for (const p of pts) {
  for (const f of p.fields) {
    if (f.type === "integer") {
      const big: bigint = f.value;
      void big;
    } else if (f.type === "float") {
      const x: number = f.value;
      void x;
    }
  }
  const t: bigint = p.time;
  void t;
}
try {
  parse("bad");
} catch (e) {
  if (e instanceof LinegateError) {
    const s: number = e.status;
    void s;
  }
}

const buf = new BodyBuffer(1024);
buf.push(bytes);
validate(buf);
buf.free();

const ck = new Checker({ now: 1n });
ck.push(bytes);
const streamedBatch: Validation = ck.finish();
// @ts-expect-error a live request's verdict is not a Validation
const wrong: Validation = Checker.forRequest({ query: "org=o&bucket=b" }).finish();
// @ts-expect-error the body is what is pushed, not an option
Checker.forRequest({ query: "org=o", body: bytes });
declare const stream: ReadableStream<Uint8Array>;
void checkStream(stream, { request: { query: "org=o&bucket=b" } }).then((v: Verdict) => v.action);
// @ts-expect-error onProgress takes bytes, not a string
void checkStream(stream, { onProgress: (s: string) => s });
// The series quota's memory of known series, asked without handing hashes to JS.
const known = new KnownSeries(200_000);
const held = Checker.forRequest({ query: "org=o&bucket=b", headers: { authorization: "Token t" }, series: "held" });
held.push(bytes);
held.finish();
const unknown: Uint32Array = held.unknownSeries(known);
const toAsk: string[] = held.seriesHashes(unknown);
const size: number = known.remember(held);
// One set for many buckets: each series under its bucket.
const inBucket: Uint32Array = held.unknownSeries(known, "metrics");
known.remember(held, "metrics");
// @ts-expect-error a bucket is named by a string
held.unknownSeries(known, 7);
// @ts-expect-error series is a boolean or "held"
Checker.forRequest({ query: "org=o&bucket=b", series: "lazy" });
void [streamedBatch, wrong, toAsk, size, inBucket, known.has("0123456789abcdef"), known.has("0123456789abcdef", "metrics")];
