// index.d.ts against what the wasm side really serializes (src/results.rs, src/columns.rs):
// real answers of every kind (each verdict, each validation, points of every field type, a
// LinegateError) are written out as TypeScript literals, each `satisfies` the exact type
// index.d.ts declares for it, and tsc --strict --exactOptionalPropertyTypes compiles them.
// A field Rust adds, drops, renames or retypes fails here (excess or missing property,
// wrong literal), as does a status or code the declared unions do not list.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { checkWrite, validate, parse, answer, deliveryDecision, LinegateError } from "linegate";

const require = createRequire(import.meta.url);
let tsc;
try {
  tsc = require.resolve("typescript/bin/tsc");
} catch {
  tsc = undefined;
}

// A JS value as a TypeScript expression of its exact shape.
function literal(v) {
  if (v === null) return "null";
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "number") return Number.isFinite(v) ? String(v) : "Infinity";
  if (typeof v === "bigint") return `${v}n`;
  if (typeof v === "boolean") return String(v);
  if (v instanceof Uint8Array) return `new Uint8Array([${[...v].join(",")}])`;
  if (Array.isArray(v)) return `[${v.map(literal).join(", ")}]`;
  if (typeof v === "object") {
    return `{ ${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}: ${literal(x)}`).join(", ")} }`;
  }
  throw new Error(`no literal for ${typeof v}`);
}

const auth = { authorization: "Token t" };
const NOW = 1700000000123456789n;

function samples() {
  const out = [];
  const verdict = (req) => {
    const v = checkWrite({ query: "org=o&bucket=b", headers: auth, now: NOW, ...req });
    out.push([v, { forward: "Forward", reject: "Reject", partial: "PartialWrite" }[v.action]]);
    return v;
  };
  assert.equal(verdict({ body: "m f=1i 1\n" }).action, "forward");
  const statuses = [
    verdict({ body: "m f=1\nm f=oops\n" }),
    verdict({ headers: {}, body: "m f=1" }),
    verdict({ query: "org=o", body: "m f=1" }),
    verdict({ body: "m f=1", limits: { maxBody: 2 } }),
    verdict({ headers: { ...auth, "content-encoding": "gzip" }, body: "plain" }),
    verdict({ query: "org=o&bucket=b&precision=h", body: "m f=1" }),
  ].map((v) => v.status);
  assert.deepEqual(statuses, [400, 401, 404, 413, 500, 400]);
  assert.equal(verdict({ body: "m f=1\nm f=oops\nm\xff f=\"\xff\" 3\n\xff\n", acceptPartial: true }).action, "partial");

  const validation = (body, opts) => {
    const v = validate(body, { now: NOW, ...opts });
    out.push([v, v.action === "forward" ? "AcceptedValidation" : "RejectedValidation"]);
    return v;
  };
  const ok = validation("m,t=a f=1,time=2i 10\nm f=2i 20\nm\xff f=\"s\" 30\n", { summary: 4 });
  assert.ok(ok.warnings.length > 0 && ok.summary !== null);
  validation(new Uint8Array([0x6d, 0xff, 0x20, 0x66, 0x3d, 0x31, 0x0a]), { summary: true });
  validation("m f=1\nm\tf=1\nm f=x\n", { summary: true });
  validation("m f=1", { precision: "h" });
  validation("m f=1", { limits: { maxBatch: 2 } });
  validation(gzipSync("m f=1").subarray(0, 12), { contentEncoding: "gzip" });

  const points = parse("m,t=v i=-1i,u=2u,f=0.5,b=t,s=\"x\" 1\nm\xff f=1 2\n", { now: NOW });
  out.push([points, "Point[]"]);
  try {
    parse("m f=1\nbad\n");
  } catch (e) {
    assert.ok(e instanceof LinegateError);
    const { name, status, code, line, body, diagnostics, validation: val } = e;
    out.push([{ name, status, code, line, body, diagnostics, validation: val },
      'Pick<LinegateError, "name" | "status" | "code" | "line" | "body" | "diagnostics" | "validation">']);
  }
  for (const [kind, args] of [["unauthorized"], ["not-found"], ["internal"], ["method-not-allowed", { allow: "POST" }],
    ["unavailable", { retryAfter: 5 }], ["ping", { version: "v2.7.11" }], ["health", { version: "v2.7.11", commit: "c" }],
    ["spool-full", { retryAfter: 5 }], ["spool-unavailable", { retryAfter: 5 }]]) {
    out.push([answer(kind, args), "Answer"]);
  }
  const decision = (attempt) => {
    const d = deliveryDecision({ now: 1_700_000_000_000, random: 0.5, ...attempt });
    out.push([d, "DeliveryDecision"]);
    return d.action;
  };
  const actions = [
    decision({ status: 204 }),
    decision({ status: 500, history: { attempts: 2, strikes: 1, firstStrikeMs: 1_699_999_999_000 } }),
    decision({ failure: "timeout" }),
    decision({ status: 413, body: new TextEncoder().encode("a v=1\nb v=2\n") }),
    decision({ status: 413, body: gzipSync("a v=1\nb v=2\n"), contentEncoding: "gzip" }),
    decision({ status: 404 }),
  ];
  assert.deepEqual(actions, ["delivered", "retry", "retry", "split", "split", "dead"]);
  return out;
}

test("index.d.ts declares exactly what the wasm side serializes", { skip: tsc ? false : "typescript is not installed" }, () => {
  const list = samples();
  const names = [...new Set(list.map(([, t]) => t.replace(/^Pick<(\w+).*$/, "$1").replace("[]", "")))];
  let src = `import type { ${names.join(", ")} } from "linegate";\n`;
  list.forEach(([v, type], i) => {
    src += `export const v${i} = ${literal(v)} satisfies ${type};\n`;
  });
  {
    // Inside the project, so "linegate" resolves to the built package as it does for users.
    const file = fileURLToPath(new URL(`./types/.drift-${process.pid}.mts`, import.meta.url));
    writeFileSync(file, src);
    try {
      const r = spawnSync(
        process.execPath,
        [tsc, "--noEmit", "--strict", "--exactOptionalPropertyTypes", "--target", "es2022", "--module", "nodenext",
          "--moduleResolution", "nodenext", "--lib", "es2022", "--skipLibCheck", "false", file],
        { encoding: "utf8" },
      );
      assert.equal(r.status, 0, r.stdout + r.stderr + "\n" + src);
    } finally {
      rmSync(file, { force: true });
    }
  }
});
