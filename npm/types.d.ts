// Generated from the Rust types of src/results.rs (ts-rs) by tests/dts.rs: do not
// edit. `LINEGATE_DTS_WRITE=npm/types.d.ts cargo test -p linegate --features ts
// --test dts` writes it again; index.d.ts re-exports these types.

import type { Text } from "./index.js";

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
