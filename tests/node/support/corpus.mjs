// The corpus as the package's tests use it, on the shared reader (tests/support/corpus.mjs).
import {
  NOW,
  CORPUS,
  SHARED,
  hasCorpus,
  corpusRows,
  sentBody,
  corpusQuery,
  rowHasBucket,
  rowMaxBatch,
  expectedBody,
  offsetExempt,
  encodeQueryValue,
} from "../../support/corpus.mjs";
import assert from "node:assert/strict";

export { NOW };
export const sharedDir = SHARED + "/";
export const corpusDir = CORPUS + "/";

function v1Query(row) {
  const p = row.precision;
  return "db=b" + (p === null || p === undefined ? "" : "&precision=" + encodeQueryValue(p));
}

export function haveCorpus() {
  return hasCorpus;
}

/**
 * Every recorded request, with the body as sent and InfluxDB's answer: to `/api/v2/write`
 * (`expected.jsonl`), or with `v1` to v1's `/write?db=b` (`v1-expected.jsonl`).
 */
export function loadCases({ v1 = false } = {}) {
  return corpusRows(v1 ? "v1-expected.jsonl" : "expected.jsonl").map((row) => ({
    row,
    run: row.run,
    file: row.file,
    body: sentBody(row),
    oracleGzip: row.gzipped_by_oracle === true,
    query: v1 ? v1Query(row) : corpusQuery(row),
    bucket: rowHasBucket(row),
    precision: row.precision ?? undefined,
    contentEncoding: row.content_encoding ?? undefined,
    maxBatch: rowMaxBatch(row) ?? undefined,
    status: row.status,
    /** Our exact body: InfluxDB's, plus `"line"` on parse errors (spec Part A §1). */
    want: expectedBody(row),
    offsetExempt: offsetExempt(row),
  }));
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

/** A corpus point as the package's `parse` gives it (floats as their bits). */
export function wantPoint(p) {
  return {
    measurement: p.measurement,
    tags: p.tags,
    fields: p.fields.map((f) =>
      f.type === "float"
        ? { key: f.key, type: f.type, bits: f.f64_bits }
        : { key: f.key, type: f.type, value: f.value },
    ),
    time: p.time,
    line: p.line,
  };
}

/** A `parse` point in the corpus's form, asserting the JS types of its values. */
export function gotPoint(p) {
  return {
    measurement: corpusText(p.measurement),
    tags: p.tags.map(([k, v]) => [corpusText(k), corpusText(v)]),
    fields: p.fields.map((f) => {
      if (f.type === "float") {
        assert.equal(typeof f.value, "number");
        return { key: corpusText(f.key), type: f.type, bits: f64Bits(f.value) };
      }
      if (f.type === "integer" || f.type === "unsigned") assert.equal(typeof f.value, "bigint");
      return { key: corpusText(f.key), type: f.type, value: corpusText(f.value) };
    }),
    time: p.time,
    line: BigInt(p.line),
  };
}
