// The one reader of ../shared/corpus (InfluxDB OSS v2's recorded answers) for the JS test
// suites: tests/node (the package), tests/worker (the Worker in workerd), tests/browser
// (the page). Rows keep their 64-bit numbers exact (BigInt); `status` is a plain number.
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { parseJsonBigInt } from "./json-bigint.mjs";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** ../shared beside the project root (LINEGATE_SHARED overrides it). */
export const SHARED = process.env.LINEGATE_SHARED || resolve(ROOT, "../shared");
export const CORPUS = join(SHARED, "corpus");

/** The server clock the corpus was recorded with. */
export const NOW = 1700000000123456789n;

/** Whether ../shared/corpus is there (it sits beside the project root in CI). */
export const hasCorpus = existsSync(join(CORPUS, "expected.jsonl"));

/** Rows of corpus/expected.jsonl, split on LF only (bodies hold raw U+2028 and friends). */
export function corpusRows(file = "expected.jsonl") {
  return readFileSync(join(CORPUS, file), "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => {
      const row = parseJsonBigInt(l);
      row.status = Number(row.status);
      return row;
    });
}

/** The case file's bytes, as recorded. */
export function caseBytes(row) {
  const raw = readFileSync(join(CORPUS, "cases", row.file));
  return new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
}

/** The body as it was sent: the case file, gzipped here when the oracle gzipped it. */
export function sentBody(row) {
  return row.gzipped_by_oracle === true ? new Uint8Array(gzipSync(caseBytes(row))) : caseBytes(row);
}

/** Percent-encodes all but RFC 3986's unreserved bytes (what Go's ParseQuery decodes back). */
export function encodeQueryValue(s) {
  return [...new TextEncoder().encode(s)]
    .map((b) => {
      const c = String.fromCharCode(b);
      return /[A-Za-z0-9\-_.~]/.test(c) ? c : "%" + b.toString(16).toUpperCase().padStart(2, "0");
    })
    .join("");
}

/** Whether the run sent a `bucket` parameter. */
export const rowHasBucket = (row) => !row.run.startsWith("no-bucket-param");

/** The query string of the row's request (without `?`). */
export function corpusQuery(row) {
  let q = "org=o" + (rowHasBucket(row) ? "&bucket=b" : "");
  if (row.precision !== null && row.precision !== undefined) q += "&precision=" + encodeQueryValue(row.precision);
  return q;
}

/** `max-batch-bytes=N…` runs ran with that batch limit; null otherwise. */
export function rowMaxBatch(row) {
  const m = /^max-batch-bytes=(\d+)/.exec(row.run);
  return m ? Number(m[1]) : null;
}

/** What linegate answers for a row: OSS's body plus `,"line":N` on parse errors (spec Part A §1). */
export function expectedBody(row) {
  if (row.status === 400 && row.failures && row.failures.length > 0) {
    return row.body.slice(0, -1) + `,"line":${row.failures[0].line}}`;
  }
  return row.body;
}

/** Go's corrupt-deflate offset may differ (spec Part A §2): compare the code only. */
export const offsetExempt = (row) => row.body.includes("flate: corrupt input before offset");

/**
 * Rows of corpus/partial-expected.jsonl (spec Part D.1), each with `request`: its row in
 * expected.jsonl or v1-expected.jsonl (the failures, the content encoding), and `query`.
 */
export function partialRows() {
  const all = { v2: corpusRows("expected.jsonl"), v1: corpusRows("v1-expected.jsonl") };
  return corpusRows("partial-expected.jsonl").map((row) => {
    const request = all[row.endpoint].find((r) => r.run === row.run && r.file === row.file);
    let query = row.endpoint === "v1" ? "db=b" : "org=o&bucket=b";
    if (row.precision !== null && row.precision !== undefined) query += "&precision=" + encodeQueryValue(row.precision);
    return { ...row, request, query, path: row.endpoint === "v1" ? "/write" : "/api/v2/write" };
  });
}
