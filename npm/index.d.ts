// Types of the linegate package (every entry: node.js, web.js). They need no DOM lib and no
// @types/node: the few platform types used are declared below as empty interfaces that
// merge with the real ones when a lib declares them.
// Generated (types.d.ts; tests/dts.rs fails when it and the Rust types differ): the data
// types of the answers (verdicts, validations, diagnostics, warnings, summaries,
// credentials, error codes and headers), from the Rust types the wasm side serializes and
// core's tables; and every option object, or part of one, that the wasm side reads
// (WriteRequest, Limits, BatchOptions, ExplainOptions, UpstreamOption, Endpoint,
// AcceptPartial), from the declarations src/options.rs reads them by.
// Written here: the API of api.js (functions, classes, JSDoc), and what api.js alone reads
// or builds: a request's `url`, `headers` and `body`, `Checker.forRequest`'s `series` and
// `decoded`, `checkStream`'s options, and the points `parse` builds from the wasm side's
// columns. tests/node/dts-drift.test.mjs checks real answers against all of it.

import type {
  AcceptedValidation,
  AcceptPartial,
  BatchOptions,
  Endpoint,
  ExplainOptions,
  UpstreamOption,
  ValidateOptions,
  WriteRequest,
  Answer,
  AnswerKind,
  BodyRead,
  Credentials,
  DeadLetterReason,
  DeliveryAttempt,
  DeliveryDecision,
  DeliveryHistory,
  DeliveryPolicy,
  Diagnostic,
  ErrorCode,
  ErrorHeaders,
  Limits,
  Forward as CheckForward,
  PartialWrite as CheckPartialWrite,
  Precision,
  QuotaNames,
  PrecisionRule,
  RateAnswer,
  RateUsage,
  Reject,
  RejectedLine,
  RejectedValidation,
  SeriesAdmission,
  SeriesQuotaReject,
  Summary,
  UpstreamKind,
  UpstreamWrite,
  Warning,
} from "./types.js";
export type {
  AcceptedValidation,
  AcceptPartial,
  BatchOptions,
  Endpoint,
  ExplainOptions,
  UpstreamOption,
  ValidateOptions,
  WriteRequest,
  Answer,
  AnswerKind,
  BodyRead,
  Credentials,
  DeadLetterReason,
  DeliveryAttempt,
  DeliveryDecision,
  DeliveryHistory,
  DeliveryPolicy,
  Diagnostic,
  ErrorCode,
  ErrorHeaders,
  Limits,
  Precision,
  QuotaNames,
  PrecisionRule,
  RateAnswer,
  RateUsage,
  Reject,
  RejectedLine,
  RejectedValidation,
  SeriesAdmission,
  SeriesQuotaReject,
  Summary,
  UpstreamKind,
  UpstreamWrite,
  Warning,
} from "./types.js";

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace WebAssembly {
    interface Module {}
  }
  interface Response {}
  interface Request {}
  interface URL {}
  interface SymbolConstructor {
    readonly dispose: unique symbol;
  }
}

/** A request body: bytes, or a string (sent as its UTF-8 bytes), or a body already in wasm memory. */
export type Body = Uint8Array | ArrayBuffer | ArrayBufferView | string | BodyBuffer;

/** What `Checker.forRequest` adds to a write that goes on (api.js): the write quotas' extras. */
type QuotaExtras = {
  /** With `Checker.forRequest({ ..., series: true })`: the batch's distinct series (16 hex digits each, input order), for the series quota. */
  series?: string[];
  /** With `Checker.forRequest({ ..., decoded: true })` (or `series`): the body's bytes after gzip decoding. */
  decoded?: number;
};
/** A write to forward as it is. */
export type Forward = CheckForward & QuotaExtras;
/**
 * A partial write (spec Part D.1): send `forward` (the accepted lines, plain: no
 * Content-Encoding, same path and query) and, once it is stored, answer with `status`,
 * `headers` and `body`; keep `rejectedLines`. `series` and `decoded`: as `Forward`'s, of
 * the accepted lines.
 */
export type PartialWrite = CheckPartialWrite & QuotaExtras;
export type Verdict = Forward | Reject;
/** What a check with `acceptPartial` gives: a Verdict, or a partial write. */
export type PartialVerdict = Verdict | PartialWrite;

/** What `checkWrite` reads of a fetch `Headers` (a Request's headers, for instance). */
export type HeadersLike = { get(name: string): string | null; has(name: string): boolean };

/**
 * A write request: what the wasm side reads (`WriteRequest`, generated) and what api.js
 * turns into it (the query of `url`, the two headers that matter) or sends (`body`).
 */
export type CheckWriteRequest = WriteRequest & {
  /** The request URL; its query string is used when `query` is absent. */
  url?: string | URL | undefined;
  /** Request headers; names are case-insensitive. Only Authorization and Content-Encoding matter. */
  headers?: Record<string, string | readonly string[] | undefined> | HeadersLike | undefined;
  body: Body;
};

/** A request checked with `acceptPartial` given. */
export type PartialRequest = CheckWriteRequest & { acceptPartial: AcceptPartial };

/** Checks a write request as InfluxDB OSS v2 would answer it: forward, or reject with the exact answer. */
export function checkWrite(req: PartialRequest): PartialVerdict;
export function checkWrite(req: CheckWriteRequest): Verdict;



/**
 * Where a checked `/api/v2/write` request goes on `req.upstream` (`/write?db=&rp=` for
 * InfluxDB 1.x and VictoriaMetrics, with their credentials): null when it goes unchanged,
 * or a rejection when the upstream cannot take it.
 */
export function upstreamWrite(
  req: Omit<CheckWriteRequest, "body" | "now" | "limits"> & { upstream: UpstreamKind },
): UpstreamWrite | Extract<Verdict, { action: "reject" }> | null;

/**
 * What `Checker.forRequest` takes beside the request: the upstream's rules (`UpstreamOption`,
 * read by the wasm side) and the quotas' extras (read by api.js).
 */
export type ForRequestOptions = UpstreamOption & {
  /**
   * A forward verdict also gives the batch's distinct series (`series`) and decoded size;
   * `"held"`: the series stay in the checker, not in the verdict (`unknownSeries`,
   * `seriesHashes`, `KnownSeries.remember`), so a batch of known series hands none to JS.
   */
  series?: boolean | "held" | undefined;
  /** A forward verdict also gives the body's decoded size (`decoded`). */
  decoded?: boolean | undefined;
};

/**
 * The credentials of a write request as its endpoint reads them; null when it has none. Given
 * a `url` and no `endpoint`: as InfluxDB reads them at the URL's path (v1's rule on `/write`
 * and `/query`, the `Authorization` token elsewhere).
 */
export function credentials(req: Omit<CheckWriteRequest, "body" | "now" | "limits">): Credentials | null;

/**
 * Step 1 of a write as the request alone decides it, before its body is read: null when it
 * goes on, or the 401 rejection when it has no credentials (on `/api/v2/write` also a blank
 * `Authorization`; on `/write` none, unless `upstream` is InfluxDB 1.x, which decides itself).
 */
export function credentialsCheck(
  req: Omit<CheckWriteRequest, "body" | "now" | "limits"> & UpstreamOption,
): Reject | null;

/** Text from the body: a string when it is valid UTF-8, else its raw bytes. */
export type Text = string | Uint8Array;



/** Narrow on `action` (or `status`): an accepted batch has no headers, code or line. */
export type Validation = AcceptedValidation | RejectedValidation;

/** What the check reads of an `AbortSignal`. */
export type AbortSignalLike = { readonly aborted: boolean; readonly reason?: unknown };


/** Checks a batch as the server would answer an authorized write to an existing bucket, and explains it. */
export function validate(body: Body, opts?: ValidateOptions): Validation;

// Points are written here on purpose: api.js builds them from the wasm side's flat
// columns (src/columns.rs), and each field's `value` is a different JS type per `type`
// (number, bigint, Text, boolean), a union no Rust type of the wasm side has.
export type FieldValue = number | bigint | string | Uint8Array | boolean;

export type Field =
  | { key: Text; type: "float"; value: number }
  | { key: Text; type: "integer" | "unsigned"; value: bigint }
  | { key: Text; type: "string"; value: Text }
  | { key: Text; type: "boolean"; value: boolean };

export type Point = {
  measurement: Text;
  /** Sorted by raw key, unescaped. `Object.fromEntries(p.tags)` gives an object. */
  tags: [Text, Text][];
  /** In input order; duplicate keys are kept, as InfluxDB's parser keeps them. */
  fields: Field[];
  /** Nanoseconds since the epoch. */
  time: bigint;
  /** 1-based physical line. */
  line: number;
};

/** The points of a batch. Throws a LinegateError when InfluxDB would reject the batch. */
export function parse(body: Body, opts?: BatchOptions): Point[];

export class LinegateError extends Error {
  name: "LinegateError";
  status: RejectedValidation["status"];
  code: RejectedValidation["code"];
  line: number | null;
  body: string;
  diagnostics: Diagnostic[];
  validation: RejectedValidation;
}

/** A body held in wasm memory, filled chunk by chunk (a large file read with progress, never held twice). */
export class BodyBuffer {
  constructor(capacity?: number);
  static fromBytes(bytes: Uint8Array): BodyBuffer;
  static fromString(text: string): BodyBuffer;
  push(chunk: Uint8Array): void;
  clear(): void;
  readonly length: number;
  /** Frees the wasm memory now (else the garbage collector does, eventually). */
  free(): void;
  /** `using buf = new BodyBuffer()` frees it at the end of the block. */
  [Symbol.dispose](): void;
}

/** A chunk of a body as it arrives: bytes, or a string (its UTF-8 bytes). */
export type Chunk = Uint8Array | ArrayBuffer | ArrayBufferView | string;

/**
 * The check fed chunk by chunk as a body arrives, never holding it whole: `push` each
 * piece, then `finish()`. The answer equals the one-shot call's for any chunking.
 * `R` is what `finish()` gives: a Validation (`new Checker(opts)`, as `validate`) or a
 * Verdict (`Checker.forRequest(req)`, as `checkWrite`).
 */
export class Checker<R extends Validation | Verdict | PartialVerdict = Validation> {
  /** A batch, as `validate` checks it (`onProgress` and `signal` are `checkStream`'s). */
  constructor(opts?: Omit<ValidateOptions, "onProgress" | "signal">);
  /**
   * A live write request: `checkWrite`'s request without the body. `series`/`decoded`: a
   * forward verdict also gives the batch's distinct series / its decoded size (the write
   * quotas). With `upstream`, the edge's rules for that kind: InfluxDB 1.x takes v1 writes
   * without credentials, and points the upstream cannot store as sent are refused (400).
   */
  static forRequest(req: Omit<PartialRequest, "body"> & ForRequestOptions): Checker<PartialVerdict>;
  static forRequest(req: Omit<CheckWriteRequest, "body"> & ForRequestOptions): Checker<Verdict>;
  /** Feeds the next bytes of the body. */
  push(chunk: Chunk): void;
  /** A partial write's accepted lines parsed since the last call; `finish()`'s `forward` then holds the rest. */
  takeAccepted(): Uint8Array;
  /** Whether the answer is already known whatever else arrives (reading can stop). */
  decided(): boolean;
  /** Bytes pushed so far. */
  readonly received: number;
  /** Ends the body and gives the answer; frees the checker (not after a verdict with `series`: then `free()` it). */
  finish(): R;
  /**
   * The series quota with partial writes (spec D.2 with D.1), after `finish()`: the lines of
   * the series at `refused` (indices into `verdict.series`) become rejected lines and the
   * verdict is made again (its `series`: those left, to admit again); null when the write
   * is not partial (answer the series 429).
   */
  refuseSeries(refused: ArrayLike<number>): PartialWrite | Reject | SeriesQuotaReject | null;
  /**
   * After `finish()` with `series`: the indices (into the batch's distinct series, as
   * `verdict.series` lists them) of those not in `known` (under `bucket`, when given);
   * empty when all are known.
   */
  unknownSeries(known: KnownSeries, bucket?: string): Uint32Array;
  /** After `finish()` with `series`: the series at `indices` (all when omitted), 16 hex digits each. */
  seriesHashes(indices?: ArrayLike<number>): string[];
  /** Frees the wasm memory now (an unfinished check is dropped). */
  free(): void;
  /** `using c = new Checker()` frees it at the end of the block. */
  [Symbol.dispose](): void;
}

/**
 * Series a quota's authority admitted, held in wasm memory: a door's memory so a batch of
 * known series needs no call to the authority (spec D.2). At most `max` series: when a
 * batch's new series would pass it, the set is dropped whole first. Only put in what the
 * authority admitted. One set may serve many buckets: pass the bucket to `remember`,
 * `unknownSeries` and `has` (the bound then covers them all).
 */
export class KnownSeries {
  constructor(max: number);
  /** The most series it holds. */
  readonly max: number;
  /** How many series it holds. */
  readonly size: number;
  /** Whether the series of this hash (16 hex digits, as `verdict.series` gives it) is held (under `bucket`, when given). */
  has(hash: string, bucket?: string): boolean;
  /** Records every distinct series of a finished `Checker` (with `series`), under `bucket` when given; the set's size after. */
  remember(checker: Checker<Verdict | PartialVerdict>, bucket?: string): number;
  /** Drops every series. */
  clear(): void;
  /** Frees the wasm memory now. */
  free(): void;
  /** `using k = new KnownSeries(n)` frees it at the end of the block. */
  [Symbol.dispose](): void;
}

/** What `checkStream` reads: a ReadableStream (its `getReader()`), a Node Readable or any async iterable of chunks. */
export type ChunkSource =
  | { getReader(): { read(): PromiseLike<{ done: boolean; value?: Chunk | undefined }>; cancel(reason?: unknown): PromiseLike<void>; releaseLock(): void } }
  | AsyncIterable<Chunk>;

/** `checkStream`'s own options (read by api.js, which feeds the Checker: none reaches the wasm side). */
export type StreamOptions = {
  /**
   * Called after each chunk with the bytes read so far and `size` (0 when not given).
   * Returning `false` cancels: the promise rejects with an Error named "AbortError".
   */
  onProgress?: ((bytesRead: number, bytesTotal: number) => boolean | void) | undefined;
  /** The body's size when known (a file's), passed on to `onProgress`. */
  size?: number | undefined;
  /** Cancels the reading (the source is cancelled) once aborted: the promise rejects with `signal.reason`. */
  signal?: (AbortSignalLike & { addEventListener?(type: "abort", f: () => void, o?: { once?: boolean }): void; removeEventListener?(type: "abort", f: () => void): void }) | undefined;
};

/**
 * Checks a body as it is read, for a batch (`validate`'s options and answer) or, with
 * `request`, a live write request (`checkWrite`'s verdict). Reading stops, and the source is
 * cancelled, as soon as the answer is known.
 */
export function checkStream(
  source: ChunkSource,
  opts: StreamOptions & { request: Omit<PartialRequest, "body"> },
): Promise<PartialVerdict>;
export function checkStream(
  source: ChunkSource,
  opts: StreamOptions & { request: Omit<CheckWriteRequest, "body"> },
): Promise<Verdict>;
export function checkStream(
  source: ChunkSource,
  opts?: StreamOptions & Omit<ValidateOptions, "onProgress" | "signal"> & { request?: undefined },
): Promise<Validation>;

/** A compiled module or its bytes. */
export type ModuleInput = WebAssembly.Module | ArrayBuffer | ArrayBufferView;

/** Instantiates the module synchronously (browsers' Web Workers, Cloudflare Workers). No-op once done. */
export function initSync(module: ModuleInput | { module: ModuleInput }): void;
/** Instantiates the module asynchronously; fetches the linegate.wasm beside the package's code by default. */
export function init(
  input?: ModuleInput | Response | PromiseLike<Response> | Request | URL | string | { module: ModuleInput },
): Promise<void>;

/**
 * InfluxDB OSS v2's own answer of a kind a server makes itself, exactly (status, headers,
 * body): for an InfluxDB-compatible endpoint. `body` is null when the answer has none.
 */
export function answer(kind: "unauthorized" | "not-found" | "internal" | "too-large"): Answer;
/** 405, with `Allow`. */
export function answer(kind: "method-not-allowed", args: { allow: string }): Answer;
/** 503, with `Retry-After` (seconds): the write backend is unreachable, or linegate's edge spool is full or failed. */
export function answer(kind: "unavailable" | "spool-full" | "spool-unavailable" | "busy", args: { retryAfter: number }): Answer;
/** 429 of the series quota (spec D.2), without `Retry-After`. */
export function answer(kind: "series-quota"): Answer;
/** `/ping`: 204 with InfluxDB's build headers. */
export function answer(kind: "ping", args: { version: string }): Answer;
/**
 * The header that names one accepted batch on every attempt to deliver it (a random id,
 * 16-64 characters of [0-9A-Za-z_-]); linegate-backend stores a repeated id only once.
 */
export function batchIdHeader(): string;
/**
 * The header an edge sets to its client's address when it forwards a request (believed by
 * the backend only from the proxies its operator names, `--trusted-proxies`).
 */
export function clientAddressHeader(): string;

/** The most bytes a gzip member header can take before the check decides on it. */
export function maxGzipHeader(): number;
/** The version of the series hash `Checker.seriesHashes` gives (stored sets record it). */
export function seriesHashVersion(): number;

/**
 * How much of a request body to read and hold, from its `Content-Length` value (null or
 * undefined when it has none) under the body limit `maxBody`. A body declared `tooLarge`
 * is answered 413 (`answer("too-large")`) after the checks that come first, which need at
 * most its first `cap` bytes.
 */
export function bodyRead(contentLength: string | null | undefined, maxBody: number): BodyRead;

/**
 * The name of a write's queue in an edge spool: the JSON array of `path` and the parameters
 * of `query` (raw, with or without its `?`) that name the bucket (`org`, `orgID`, `bucket`;
 * v1's `/write`: `db`, `rp`), each the first value, decoded as `URLSearchParams` decodes it.
 */
export function spoolName(path: string, query?: string): string;

/** `/health`: 200, InfluxDB's text. */
export function answer(kind: "health", args: { version: string; commit: string }): Answer;
/** The `precision` values clients of `endpoint` send, in the order a chooser lists them, with how each is read. */
export function precisions(endpoint?: Endpoint): PrecisionRule[];
export function isReady(): boolean;
export function version(): string;

// ---- write quotas (spec Part D.2): the decisions, for a Worker's own storage ----------

/** Names from the head, or null when InfluxDB answers the head first. */
export function quotaNames(req: Omit<CheckWriteRequest, "body" | "now" | "limits">): QuotaNames | null;

/** null (go on), or the 429 when `usage` is at or above `limit` at `nowMs` (default: now). */
export function checkRate(tenant: string, usage: RateUsage | null | undefined, limit: number, nowMs?: number): RateAnswer | null;
/** The usage after `bytes` more were stored at `nowMs` (a count of an older window starts over). */
export function countRate(usage: RateUsage | null | undefined, bytes: number, nowMs?: number): RateUsage;
export function admitSeries(
  known: Uint8Array | ArrayLike<unknown>,
  count: number,
  limit: number,
  opts?: { partial?: boolean | undefined },
): SeriesAdmission;
/** Store-and-forward's policy: what to do with a stored batch after one delivery attempt. */
export function deliveryDecision(attempt: DeliveryAttempt): DeliveryDecision;
/** SPOOL=fallback's rule: whether a live write's answer status means the batch is kept for later (429, 5xx). */
export function fallbackHolds(status: number): boolean;
/** Where a batch is cut on a 413 (the start of the logical line nearest the middle), or null for one line. */
export function splitPoint(body: Uint8Array | ArrayBuffer | ArrayBufferView | string): number | null;
/** A whole gzip body decoded as InfluxDB reads it (every member); throws on a bad body or past `limit` decoded bytes. */
export function gunzip(body: Uint8Array | ArrayBuffer | ArrayBufferView | string, opts?: { limit?: number }): Uint8Array;
/** `gunzip` fed in pieces. */
export class Gunzip {
  constructor(opts?: { limit?: number });
  /** The decoded bytes of the next chunk. */
  push(chunk: Uint8Array | ArrayBuffer | ArrayBufferView | string): Uint8Array;
  /** The last decoded bytes; throws unless the body ended after a whole member. Frees it. */
  finish(): Uint8Array;
  free(): void;
  [Symbol.dispose](): void;
}
