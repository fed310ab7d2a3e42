// Compiled by toolchains.test.mjs in a fresh project (the packed package installed) with
// tsc --strict --exactOptionalPropertyTypes, under moduleResolution bundler, node16 and
// nodenext, with and without the DOM lib: every export, used as the README shows. No
// `console` here: without the DOM lib or @types/node there is none.
import {
  checkWrite,
  validate,
  parse,
  init,
  initSync,
  isReady,
  version,
  BodyBuffer,
  LinegateError,
  answer,
  bodyRead,
  spoolName,
  seriesHashVersion,
  Checker,
  checkStream,
  type Chunk,
  type ChunkSource,
  type StreamOptions,
  type Answer,
  type AnswerKind,
  type BodyRead,
  type Body,
  type Limits,
  type ErrorCode,
  type ErrorHeaders,
  type Forward,
  type Reject,
  type Verdict,
  type PartialVerdict,
  type PartialWrite,
  type RejectedLine,
  type HeadersLike,
  type CheckWriteRequest,
  type Text,
  type Diagnostic,
  type Warning,
  type Summary,
  type Precision,
  type AcceptedValidation,
  type RejectedValidation,
  type Validation,
  type AbortSignalLike,
  type BatchOptions,
  type ValidateOptions,
  type FieldValue,
  type Field,
  type Point,
  type ModuleInput,
} from "linegate";

declare const bytes: Uint8Array;
declare const module: WebAssembly.Module;
declare const response: Response;
declare const url: URL;
declare const headers: HeadersLike;
declare const gzipped: boolean;
declare const signal: AbortSignalLike;

initSync(module);
initSync({ module });
initSync(bytes);
await init();
await init(response);
await init(Promise.resolve(response));
await init(url);
await init("/linegate.wasm");
const ready: boolean = isReady();
const ver: string = version();
const plan: BodyRead = bodyRead(headers.get("content-length"), 1 << 20);
const held: number = plan.tooLarge ? plan.cap : plan.hold;
const queue: string = spoolName("/api/v2/write", "?org=o&bucket=b");
const hashVersion: number = seriesHashVersion();

const limits: Limits = { maxBody: 1 << 20, maxBatch: 2n ** 30n };
const body: Body = bytes;
const req: CheckWriteRequest = {
  query: "org=o&bucket=b&precision=ns",
  headers: { authorization: "Token t", "content-encoding": gzipped ? "gzip" : undefined },
  body,
  now: 1700000000123456789n,
  limits,
};
const v: Verdict = checkWrite(req);
checkWrite({ url, headers, body: new ArrayBuffer(0) });
checkWrite({ url: "/api/v2/write?org=o&bucket=b", body: "m f=1" });
if (v.action === "forward") {
  const f: Forward = v;
  const n: number = f.points + f.lines;
  void n;
} else {
  const r: Reject = v;
  const code: ErrorCode = r.code;
  const h: ErrorHeaders = r.headers;
  const asRecord: Record<string, string> = r.headers;
  const line: number | null = r.line;
  void [code, h, asRecord, line];
}

// Partial writes: only a request with acceptPartial can be `partial`.
const pv: PartialVerdict = checkWrite({ ...req, acceptPartial: true });
if (pv.action === "partial") {
  const p: PartialWrite = pv;
  const kept: RejectedLine[] = p.rejectedLines;
  const bytes: Uint8Array = p.forward;
  const counts: number = p.accepted + p.rejected + p.line;
  const where: string = p.destination;
  void [kept, bytes, counts, where];
}
const partialChecker: Checker<PartialVerdict> = Checker.forRequest({ query: "org=o&bucket=b", acceptPartial: "request" });
const piece: Uint8Array = partialChecker.takeAccepted();
void piece;

// The README's own option, under exactOptionalPropertyTypes.
const opts: ValidateOptions = {
  precision: "s",
  contentEncoding: gzipped ? "gzip" : undefined,
  summary: 40,
  warnings: true,
  signal,
  onProgress: (done: number, total: number) => done < total,
};
const val: Validation = validate(bytes, opts);
if (val.action === "forward") {
  const a: AcceptedValidation = val;
  const p: Precision = a.precision;
  void p;
} else {
  const r: RejectedValidation = val;
  void r;
}
const first: Diagnostic | undefined = val.diagnostics[0];
const where: string = first ? `${first.line}:${first.column} ${first.reason} (${first.hint}) ${first.excerpt.slice(first.excerptSpot)}` : "";
const warn: Warning | undefined = val.warnings[0];
const summary: Summary | null = val.summary;
const minTime: bigint | null = summary?.minTime ?? null;
const name: Text | undefined = summary?.measurements[0]?.name;
void [where, warn, minTime, name];

const bopts: BatchOptions = { now: 1n, precision: undefined };
const pts: Point[] = parse("m f=1i", bopts);
for (const p of pts) {
  for (const f of p.fields as Field[]) {
    const value: FieldValue = f.value;
    if (f.type === "integer") {
      const big: bigint = f.value;
      void big;
    } else if (f.type === "float") {
      const x: number = f.value;
      void x;
    }
    void value;
  }
  const t: bigint = p.time;
  void t;
}
try {
  parse("bad");
} catch (e) {
  if (e instanceof LinegateError) {
    const s: 400 | 413 | 500 = e.status;
    const val2: RejectedValidation = e.validation;
    void [s, val2];
  }
}

const buf = new BodyBuffer(1024);
buf.push(bytes);
validate(buf);
const len: number = buf.length;
buf.clear();
buf[Symbol.dispose]();
const other = BodyBuffer.fromString("m f=1");
other.free();
BodyBuffer.fromBytes(bytes).free();
const input: ModuleInput = bytes;
void [ready, ver, len, input];
const kind: AnswerKind = "ping";
const answers: Answer[] = [
  answer("unauthorized"),
  answer("method-not-allowed", { allow: "POST" }),
  answer("unavailable", { retryAfter: 30 }),
  answer(kind, { version: "v2.7.11" }),
  answer("spool-full", { retryAfter: 5 }),
  answer("spool-unavailable", { retryAfter: 5 }),
  answer("health", { version: "v2.7.11", commit: "abc" }),
];
const status: number = answers[0]!.status;
const ab: string | null = answers[0]!.body;
void [status, ab];

// The streaming check: a batch's Validation, a live request's Verdict.
const ck = new Checker({ contentEncoding: "gzip", now: 1n, summary: 8 });
const chunk: Chunk = bytes;
ck.push(chunk);
ck.push("m f=1\n");
const early: boolean = ck.decided();
const got: number = ck.received;
const batchAnswer: Validation = ck.finish();
const live = Checker.forRequest({ url, headers, now: 1n, limits });
live[Symbol.dispose]();
const liveAnswer: Verdict = Checker.forRequest({ query: "org=o&bucket=b" }).finish();
async function* pieces(): AsyncGenerator<Uint8Array> {
  yield bytes;
}
const src: ChunkSource = pieces();
const sopts: StreamOptions = { signal, size: 10, onProgress: (done: number, total: number) => done < total };
const streamed: Validation = await checkStream(src, { ...sopts, precision: "s", summary: true });
const streamedLive: Verdict = await checkStream(pieces(), { request: { url: "/write?db=b", headers }, signal });
void [early, got, batchAnswer, liveAnswer, streamed, streamedLive];
