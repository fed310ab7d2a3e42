// Generated from the Rust types of src/results.rs (ts-rs) and linegate-core's tables
// of answers by tests/dts.rs: do not edit. `LINEGATE_DTS_WRITE=npm/types.d.ts cargo
// test -p linegate --features ts --test dts` writes it again; index.d.ts re-exports
// these types.

import type { Text } from "./index.js";

/**
 * InfluxDB's error codes, as in the body's `code` and the `X-Platform-Error-Code`
 * header: the write check's (`linegate_core::answers::WRITE_CHECK_ANSWERS`) and the
 * series quota's.
 */
export type ErrorCode = "invalid" | "unauthorized" | "not found" | "request too large" | "internal error" | "too many requests";

/**
 * A timestamp precision, as the `precision` parameter names it (`Precision::ALL`).
 */
export type Precision = "ns" | "us" | "ms" | "s";

/**
 * What an edge forwards to: InfluxDB OSS v2 (as linegate), InfluxDB 1.x, or
 * VictoriaMetrics (`upstream::Kind::ALL`).
 */
export type UpstreamKind = "influxdb2" | "influxdb1" | "victoriametrics";

/**
 * Why a stored batch became a dead letter (`delivery::DeadReason::ALL`).
 */
export type DeadLetterReason = "refused" | "too-large" | "undecodable" | "gave-up";

/**
 * The headers of an error answer.
 */
export type ErrorHeaders<C extends ErrorCode = ErrorCode> = { "Content-Type": "application/json; charset=utf-8", "X-Platform-Error-Code": C, };

/**
 * The statuses of a rejected write (`linegate_core::answers::WRITE_CHECK_ANSWERS`).
 */
export type RejectStatus = 400 | 401 | 404 | 413 | 500;

/**
 * A partial write's status: the parse errors' (`Rejection::parse_errors`).
 */
export type PartialStatus = 400;

/**
 * A partial write's error code: the parse errors'.
 */
export type PartialCode = "invalid";

/**
 * `checkWrite`'s answer: `forward`, or `reject` with the exact answer and, as data, the
 * error code and the first rejected line (parse errors; else null). Its TypeScript
 * (`Forward`, `Reject`, `PartialWrite` in `npm/types.d.ts`) is generated from it.
 */
export type CheckAnswer = { "action": "forward", points: number, lines: number, } | { "action": "reject", status: RejectStatus, 
/**
 * InfluxDB's error code (also the X-Platform-Error-Code header).
 */
code: ErrorCode, 
/**
 * The first rejected line, for parse errors (it is also in the body); null otherwise.
 */
line: number | null, 
/**
 * The response headers, ready for `new Response(body, { status, headers })`.
 */
headers: ErrorHeaders, 
/**
 * The exact response body.
 */
body: string, } | { "action": "partial", status: PartialStatus, code: PartialCode, 
/**
 * The first rejected line (it is also in the body): a partial write has one.
 */
line: number, headers: ErrorHeaders<PartialCode>, 
/**
 * The answer to give once `forward` is stored.
 */
body: string, accepted: number, rejected: number, forward: Uint8Array, 
/**
 * The rejected lines (up to 64 MiB of them; `rejected` counts them all).
 */
rejectedLines: Array<RejectedLine>, 
/**
 * What the rejected lines are recorded under: the path and query string without
 * `u` and `p`.
 */
destination: string, };

/**
 * A write to forward as it is.
 */
export type Forward = Extract<CheckAnswer, { "action": "forward" }>;

/**
 * A write to answer instead of forwarding.
 */
export type Reject = Extract<CheckAnswer, { "action": "reject" }>;

/**
 * The series quota's 429 (spec D.2, `Rejection::series_quota`), as
 * `Checker.refuseSeries` answers it.
 */
export type SeriesQuotaReject = Omit<Reject, "status" | "code" | "headers" | "line"> & { status: 429, code: "too many requests", headers: ErrorHeaders<"too many requests">, line: null, };

/**
 * A partial write (spec Part D.1): send `forward` (the accepted lines, plain: no
 * Content-Encoding, same path and query) and, once it is stored, answer with
 * `status`, `headers` and `body`; keep `rejectedLines`.
 */
export type PartialWrite = Extract<CheckAnswer, { "action": "partial" }>;

/**
 * What a batch's validation explains beyond InfluxDB's answer.
 */
export type Explained = { 
/**
 * Points in the batch (of the accepted lines, when some are rejected).
 */
points: number, lines: number, 
/**
 * Lines rejected (the diagnostics list is capped like the message; this is the total).
 */
rejected: number, diagnostics: Array<Diagnostic>, warnings: Array<Warning>, warningsTotal: number, summary: Summary | null, };

/**
 * A batch InfluxDB would accept (204).
 */
export type AcceptedValidation = Explained & { action: "forward", status: 204, headers: null, body: "", code: null, line: null, 
/**
 * The precision used.
 */
precision: Precision, };

/**
 * A batch InfluxDB would reject, with its exact answer.
 */
export type RejectedValidation = Explained & { action: "reject", status: 400 | 413 | 500, 
/**
 * The error response headers.
 */
headers: ErrorHeaders<"invalid" | "request too large" | "internal error">, 
/**
 * The exact response body.
 */
body: string, 
/**
 * InfluxDB's error code.
 */
code: "invalid" | "request too large" | "internal error", 
/**
 * First rejected line, for parse errors; null otherwise.
 */
line: number | null, 
/**
 * The precision used; null when the request failed before (bad precision, gzip, size).
 */
precision: Precision | null, };

/**
 * The 429 of the rate quota (`Rejection::rate_quota`): with `Retry-After` (whole
 * seconds to the window's end).
 */
export type RateAnswer = { status: 429, headers: { "Content-Type": "application/json; charset=utf-8", "X-Platform-Error-Code": "too many requests", "Retry-After": string, }, body: string, };

/**
 * A rejected line, explained.
 */
export type Diagnostic = { 
/**
 * 1-based physical line where the rejected line starts.
 */
line: number, 
/**
 * 1-based byte column of the failing spot in that line.
 */
column: number, 
/**
 * Stable name of the error (`invalid-number`, `bad-timestamp`, …).
 */
code: string, 
/**
 * InfluxDB's reason, exactly (`invalid number`, …).
 */
reason: string, 
/**
 * What probably went wrong and how to fix it.
 */
hint: string, 
/**
 * Physical lines the logical line spans (> 1 when a stray quote or `\` joined lines).
 */
spans: number, 
/**
 * Byte range of the quoted line text in the (decoded) body.
 */
textStart: number, textLength: number, 
/**
 * The physical line as written (at most 400 bytes of it, around the spot), for
 * display: core's one excerpt window (`linegate_core::diagnostics::excerpt`), the same
 * the CLI shows.
 */
excerpt: string, 
/**
 * Index of the failing spot in `excerpt` (a JS string index: UTF-16 units).
 */
excerptSpot: number, 
/**
 * Whether `excerpt` is cut from a longer line before and after it.
 */
excerptCutBefore: boolean, excerptCutAfter: boolean, };

/**
 * A warning about an accepted line: what storage would do with its point.
 */
export type Warning = { line: number, kind: "field-type-conflict" | "time-field" | "string-too-long" | "timestamp-unit" | "v1-precision", message: string, };

/**
 * What a batch holds.
 */
export type Summary = { points: number, fields: number, 
/**
 * Distinct series (exact up to a million, a lower bound past that).
 */
series: number, 
/**
 * Points per measurement, sorted by name.
 */
measurements: Array<{ name: Text, points: number, }>, fieldTypes: { float: number, integer: number, unsigned: number, string: number, boolean: number, }, minTime: bigint | null, maxTime: bigint | null, 
/**
 * Points per time bucket of equal width between minTime and maxTime.
 */
histogram: Array<number>, };

/**
 * A rejected line of a partial write, to keep (and fix).
 */
export type RejectedLine = { line: number, reason: Text, text: Text, };

/**
 * A request's credentials: a token (`user` null), or a v1 user name and password.
 */
export type Credentials = { user: Text | null, secret: Text, };

/**
 * Size limits in bytes (spec Part A §4). A size equal to or above a limit gets 413;
 * `Infinity` is none.
 */
export type Limits = { 
/**
 * Body as received (compressed, if it is). Default 512 MiB.
 */
maxBody?: number | bigint | undefined, 
/**
 * Body after gzip decoding (InfluxDB's MaxBatchSizeBytes). Default 512 MiB.
 */
maxBatch?: number | bigint | undefined, 
/**
 * Escaped bytes of the 400 message before it is cut short. Default 16 MiB.
 */
maxMessage?: number | bigint | undefined, };

/**
 * A `precision` value an endpoint's clients send, and how the endpoint reads given
 * timestamps under it (`precisions`).
 */
export type PrecisionRule = { value: string, 
/**
 * The unit given timestamps are read in.
 */
unit: Precision, 
/**
 * A coarser 1.x unit (`u`, `m`, `h`) that `/write` reads as nanoseconds.
 */
ignoresUnit: boolean, };

/**
 * Where a checked v2 write goes on an upstream of another kind, and the Authorization to
 * send (null: none).
 */
export type UpstreamWrite = { path: string, authorization: string | null, };

/**
 * A complete answer: `new Response(a.body, { status: a.status, headers: a.headers })`.
 */
export type Answer = { status: number, headers: Record<string, string>, body: string | null, };

/**
 * The kinds of `answer` ([`ANSWER_KINDS`]).
 */
export type AnswerKind = "unauthorized" | "not-found" | "internal" | "too-large" | "method-not-allowed" | "unavailable" | "spool-full" | "spool-unavailable" | "busy" | "series-quota" | "ping" | "health";

/**
 * The names a request's quotas are kept under: the tenant (query-encoded) and the
 * destination bucket.
 */
export type QuotaNames = { tenant: string, bucket: string, };

/**
 * A tenant's count: the window's start (seconds of Unix time) and the bytes in it.
 */
export type RateUsage = { window: number, bytes: number, };

/**
 * New series admitted in input order while the set's `count` is below `limit`: how many
 * were refused, and the indices to add (none when one was refused, unless `partial`).
 */
export type SeriesAdmission = { refused: number, add: Uint32Array, };

/**
 * Store-and-forward's knobs (linegate-core's `delivery::Policy`); absent fields take its
 * defaults. Read from JS (`deliveryDecision`'s `policy`).
 */
export type DeliveryPolicy = { 
/**
 * First backoff step, doubling per failed attempt (default 1000).
 */
backoffBaseMs?: number, 
/**
 * Longest backoff step (default 300000).
 */
backoffCapMs?: number, 
/**
 * The door sends its own token with every batch: 401/403 wait instead of being dead
 * letters (default false).
 */
ownCredentials?: boolean, 
/**
 * Shortest wait after 401/403 with `ownCredentials` (default 60000).
 */
authRetryMs?: number, 
/**
 * Strikes (failures that may be the batch's fault) before it may become a dead letter
 * (default 10).
 */
maxStrikes?: number, 
/**
 * Age of the first strike before it may become a dead letter (default 600000).
 */
maxStrikeAgeMs?: number, 
/**
 * Largest decoded gzip body taken apart on a 413 (default 512 MiB).
 */
splitLimit?: number, };

/**
 * What a door keeps of a batch's attempts between them.
 */
export type DeliveryHistory = { attempts: number, strikes: number, firstStrikeMs: number | null, };

/**
 * One delivery attempt: the upstream's answer (or why there was none), the batch, its
 * history. Read from JS (`deliveryDecision`).
 */
export type DeliveryAttempt = { 
/**
 * The batch as stored (read only on a 413).
 */
body?: Uint8Array, contentEncoding?: string | null, history?: DeliveryHistory, 
/**
 * ms since the epoch (default: now).
 */
now?: number, 
/**
 * In [0, 1): the backoff's jitter (default: Math.random()).
 */
random?: number, policy?: DeliveryPolicy, } & ({ status: number, retryAfter?: string | null, } | { failure: "unreachable" | "timeout", });

/**
 * What to do with the batch; `history` is what to keep for its next attempt.
 */
export type DeliveryDecision = { "action": "delivered", history: DeliveryHistory, } | { "action": "retry", afterMs: number, strike: boolean, history: DeliveryHistory, } | { "action": "split", at: number, plain: Uint8Array | null, history: DeliveryHistory, } | { "action": "dead", reason: DeadLetterReason, history: DeliveryHistory, };
