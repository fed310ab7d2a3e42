// Types of the linegate package (every entry: node.js, web.js).

/** A request body: bytes, or a string (sent as its UTF-8 bytes), or a body already in wasm memory. */
export type Body = Uint8Array | ArrayBuffer | ArrayBufferView | string | BodyBuffer;

/** Size limits in bytes (spec Part A §4). A size equal to or above a limit gets 413. */
export type Limits = {
  /** Body as received (compressed, if it is). Default 512 MiB. */
  maxBody?: number;
  /** Body after gzip decoding (InfluxDB's MaxBatchSizeBytes). Default 512 MiB. */
  maxBatch?: number;
  /** Escaped bytes of the 400 message before it is cut short. Default 16 MiB. */
  maxMessage?: number;
};

export type ErrorHeaders = {
  "Content-Type": "application/json; charset=utf-8";
  "X-Platform-Error-Code": string;
};

export type Forward = { action: "forward"; points: number; lines: number };
export type Reject = { action: "reject"; status: number; headers: ErrorHeaders & Record<string, string>; body: string };
export type Verdict = Forward | Reject;

/** The write endpoint: InfluxDB v2's, or the v1-compatibility `/write` (`db`, `rp`, `u`/`p`). */
export type Endpoint = "/api/v2/write" | "/write";

export type CheckWriteRequest = {
  /** Which endpoint the request goes to. Default: the path of `url` when it is `/write`, else `/api/v2/write`. */
  endpoint?: Endpoint;
  /** The raw query string (`org=o&bucket=b&precision=s`; a leading `?` is ignored). */
  query?: string;
  /** The request URL; its query string is used when `query` is absent. */
  url?: string | URL;
  /** Request headers; names are case-insensitive. Only Authorization and Content-Encoding matter. */
  headers?: Record<string, string | string[] | undefined> | Headers;
  body: Body;
  /** The server's clock in ns (lines without a timestamp get it). Default: the wall clock. */
  now?: bigint;
  limits?: Limits;
};

/** Checks a write request as InfluxDB OSS v2 would answer it: forward, or reject with the exact answer. */
export function checkWrite(req: CheckWriteRequest): Verdict;

/** A request's credentials: a token (`user` null), or a v1 user name and password. */
export type Credentials = { user: Text | null; secret: Text };

/** The credentials of a write request as its endpoint reads them; null when it has none. */
export function credentials(req: Omit<CheckWriteRequest, "body" | "now" | "limits">): Credentials | null;

/** Text from the body: a string when it is valid UTF-8, else its raw bytes. */
export type Text = string | Uint8Array;

export type Diagnostic = {
  /** 1-based physical line where the rejected line starts. */
  line: number;
  /** 1-based byte column of the failing spot in that line. */
  column: number;
  /** Stable name of the error (`invalid-number`, `bad-timestamp`, …). */
  code: string;
  /** InfluxDB's reason, exactly (`invalid number`, …). */
  reason: string;
  /** What probably went wrong and how to fix it. */
  hint: string;
  /** Physical lines the logical line spans (> 1 when a stray quote or `\` joined lines). */
  spans: number;
  /** Byte range of the quoted line text in the (decoded) body. */
  textStart: number;
  textLength: number;
  /** The physical line as written (at most about 400 bytes, around the spot), for display. */
  excerpt: string;
  /** Index of the failing spot in `excerpt` (a JS string index). */
  excerptSpot: number;
};

export type Warning = {
  line: number;
  kind: "field-type-conflict" | "time-field" | "string-too-long" | "timestamp-unit";
  message: string;
};

export type Summary = {
  points: number;
  fields: number;
  /** Distinct series (exact up to a million, a lower bound past that). */
  series: number;
  /** Points per measurement, sorted by name. */
  measurements: { name: Text; points: number }[];
  fieldTypes: { float: number; integer: number; unsigned: number; string: number; boolean: number };
  minTime: bigint | null;
  maxTime: bigint | null;
  /** Points per time bucket of equal width between minTime and maxTime. */
  histogram: number[];
};

export type Validation = {
  action: "forward" | "reject";
  /** 204 when InfluxDB would accept the batch. */
  status: number;
  /** The error response headers; null when accepted. */
  headers: ErrorHeaders | null;
  /** The exact response body ("" when accepted). */
  body: string;
  /** InfluxDB's error code (`invalid`, `request too large`, …); null when accepted. */
  code: string | null;
  /** First rejected line, for parse errors. */
  line: number | null;
  /** The precision used; null when the request failed before (bad precision, gzip, size). */
  precision: "ns" | "us" | "ms" | "s" | null;
  points: number;
  lines: number;
  /** Lines rejected (the diagnostics list is capped like the message; this is the total). */
  rejected: number;
  diagnostics: Diagnostic[];
  warnings: Warning[];
  warningsTotal: number;
  summary: Summary | null;
};

export type BatchOptions = {
  /** Check as a write to this endpoint (default `/api/v2/write`); `/write` reads `precision` as InfluxDB's v1 endpoint does. */
  endpoint?: Endpoint;
  /** The `precision` query parameter, verbatim (absent or "" = ns). */
  precision?: string;
  /** The Content-Encoding header, verbatim (`gzip` and `x-gzip` decode). */
  contentEncoding?: string;
  now?: bigint;
  limits?: Limits;
  /**
   * Called about every MiB and at the end with the bytes of the (decoded) body read so far
   * and its size. Returning `false` cancels: the call then throws an Error named "AbortError".
   */
  onProgress?: (bytesRead: number, bytesTotal: number) => boolean | void;
};

export type ValidateOptions = BatchOptions & {
  /** Look for what storage would reject with 422 (default true). */
  warnings?: boolean;
  /** Build a summary; a number sets the histogram's bars (true = 50). */
  summary?: boolean | number;
};

/** Checks a batch as the server would answer an authorized write to an existing bucket, and explains it. */
export function validate(body: Body, opts?: ValidateOptions): Validation;

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
  status: number;
  body: string;
  diagnostics: Diagnostic[];
  validation: Validation;
}

/** A body held in wasm memory, filled chunk by chunk (a large file read with progress, never held twice). */
export class BodyBuffer {
  constructor(capacity?: number);
  static fromBytes(bytes: Uint8Array): BodyBuffer;
  static fromString(text: string): BodyBuffer;
  push(chunk: Uint8Array): void;
  clear(): void;
  readonly length: number;
  free(): void;
}

/** Instantiates the module synchronously (browsers' Web Workers, Cloudflare Workers). No-op once done. */
export function initSync(module: WebAssembly.Module | BufferSource | { module: WebAssembly.Module | BufferSource }): void;
/** Instantiates the module asynchronously; fetches the bundled linegate.wasm by default. */
export function init(input?: WebAssembly.Module | BufferSource | Response | Promise<Response> | URL | string): Promise<void>;
export function isReady(): boolean;
export function version(): string;
