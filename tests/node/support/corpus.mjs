// Reading ../shared/corpus (InfluxDB OSS v2's recorded answers) for the package's tests.
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { parseJsonBigInt } from "./json-bigint.mjs";

/** The server clock the corpus was recorded with. */
export const NOW = 1700000000123456789n;

export const sharedDir = fileURLToPath(new URL("../../../../shared/", import.meta.url));
export const corpusDir = sharedDir + "corpus/";

/** Whether ../shared/corpus is there (it sits beside the project root in CI). */
export function haveCorpus() {
  return existsSync(corpusDir + "expected.jsonl");
}

function encode(s) {
  return [...new TextEncoder().encode(s)]
    .map((b) => {
      const c = String.fromCharCode(b);
      return /[A-Za-z0-9\-_.~]/.test(c) ? c : "%" + b.toString(16).toUpperCase().padStart(2, "0");
    })
    .join("");
}

/**
 * Every recorded request, with the body as sent and InfluxDB's answer: of
 * `/api/v2/write` (`expected.jsonl`), or with `v1` of v1's `/write?db=b` (`v1-expected.jsonl`).
 */
export function loadCases({ v1 = false } = {}) {
  const text = readFileSync(corpusDir + (v1 ? "v1-expected.jsonl" : "expected.jsonl"), "utf8");
  // Split on LF only: rows hold raw U+2028 and friends.
  return text
    .split("\n")
    .filter((l) => l.length > 0)
    .map((l) => {
      const row = parseJsonBigInt(l);
      const raw = readFileSync(corpusDir + "cases/" + row.file);
      const oracleGzip = row.gzipped_by_oracle === true;
      const body = oracleGzip ? gzipSync(raw) : new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
      const m = /^max-batch-bytes=(\d+)/.exec(row.run);
      const bucket = !row.run.startsWith("no-bucket-param");
      let query = v1 ? "db=b" : "org=o" + (bucket ? "&bucket=b" : "");
      if (row.precision !== null && row.precision !== undefined) query += "&precision=" + encode(row.precision);
      const firstLine = row.failures && row.failures.length > 0 ? row.failures[0].line : undefined;
      let want = row.body;
      if (row.status === 400n && firstLine !== undefined) {
        want = want.slice(0, -1) + `,"line":${firstLine}}`;
      }
      return {
        row,
        run: row.run,
        file: row.file,
        body,
        oracleGzip,
        query,
        bucket,
        precision: row.precision ?? undefined,
        contentEncoding: row.content_encoding ?? undefined,
        maxBatch: m ? Number(m[1]) : undefined,
        status: Number(row.status),
        /** Our exact body: InfluxDB's, plus `"line"` on parse errors (spec Part A §1). */
        want,
        /** Go's corrupt-deflate offset may differ (spec Part A §2). */
        offsetExempt: row.body.includes("flate: corrupt input before offset"),
      };
    });
}

/** Text as the corpus writes it: a string, or `{hex}` for bytes that are not UTF-8. */
export function corpusText(t) {
  if (typeof t === "string") return t;
  if (t instanceof Uint8Array) return { hex: Buffer.from(t).toString("hex") };
  return t;
}

export function f64Bits(v) {
  const dv = new DataView(new ArrayBuffer(8));
  dv.setFloat64(0, v);
  return dv.getBigUint64(0).toString(16).padStart(16, "0");
}
