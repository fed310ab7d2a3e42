#!/usr/bin/env node
// Write-quota benchmark: what QUOTA_WRITE_BYTES and QUOTA_SERIES add to a write's latency
// through the Worker. Four Workers in workerd (Miniflare, the quota Durable Objects in
// memory) — quotas off, rate only, series only, both — in front of the real
// linegate-backend on 127.0.0.1; one request at a time, configurations interleaved round by
// round so that load drift hits each alike. The batches repeat known series (the common
// case: the series check looks every series up, none is new).
//
//   nice -n 10 node bench/quota.mjs [--rounds 5] [--writes 200] [--lines 100]

import { parseArgs } from "node:util";
import { startBackend, startWorker, send, SETUP } from "../tests/worker/helpers.mjs";

const { values: opt } = parseArgs({
  options: {
    rounds: { type: "string", default: "5" },
    writes: { type: "string", default: "200" },
    lines: { type: "string", default: "100" },
  },
});
const AUTH = { Authorization: `Token ${SETUP.token}` };
const DO = { durableObjects: { QUOTA_DO: { className: "Quota", useSQLite: true } } };
const CONFIGS = {
  off: {},
  rate: { QUOTA_WRITE_BYTES: String(1e15) },
  series: { QUOTA_SERIES: "1000000" },
  both: { QUOTA_WRITE_BYTES: String(1e15), QUOTA_SERIES: "1000000" },
};

const lines = Number(opt.lines);
const body = Array.from({ length: lines }, (_, i) => `cpu,host=h${i},region=r${i % 7} usage=${i}.5,idle=${i}i 1700000000000000000`).join("\n") + "\n";
const backend = await startBackend();
const workers = {};
for (const [name, vars] of Object.entries(CONFIGS)) {
  workers[name] = await startWorker({ BACKEND_URL: backend.url, ...vars }, { miniflare: DO });
}
const ms = Object.fromEntries(Object.keys(CONFIGS).map((k) => [k, []]));
try {
  for (let r = 0; r < Number(opt.rounds); r++) {
    for (const [name, w] of Object.entries(workers)) {
      for (let i = 0; i < Number(opt.writes); i++) {
        const t0 = performance.now();
        const res = await send(w.url, { path: "/api/v2/write?org=o&bucket=b", headers: AUTH, body });
        const t = performance.now() - t0;
        if (res.status !== 204) throw new Error(`${name}: ${res.status} ${res.body}`);
        if (r > 0 || i >= 20) ms[name].push(t); // the first writes warm up
      }
    }
  }
} finally {
  for (const w of Object.values(workers)) await w.close();
  await backend.close();
}
const q = (a, p) => a.slice().sort((x, y) => x - y)[Math.floor(p * (a.length - 1))];
const base = q(ms.off, 0.5);
console.log(`${lines}-line batches (${body.length} B), ${Object.values(ms)[0].length} writes each, p50 / p90 ms per write:`);
for (const [name, a] of Object.entries(ms)) {
  const p50 = q(a, 0.5);
  console.log(`  ${name.padEnd(7)} p50 ${p50.toFixed(2)}  p90 ${q(a, 0.9).toFixed(2)}  (+${(p50 - base).toFixed(2)} ms over off)`);
}
