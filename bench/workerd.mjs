// The CPU time of workerd processes, for the Worker benchmarks: each Worker runs in its own
// workerd process (a child of this one), whose threads' run time /proc/<pid>/task/*/schedstat
// gives in nanoseconds (/proc/<pid>/stat counts 10 ms ticks, too coarse for one request).

import fs from "node:fs";

// This process's workerd children.
export function workerdPids() {
  const pids = new Set();
  for (const d of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const m = /^\d+ \((.*)\) \S+ (\d+)/.exec(fs.readFileSync(`/proc/${d}/stat`, "utf8"));
      if (m && m[1].includes("workerd") && Number(m[2]) === process.pid) pids.add(Number(d));
    } catch {}
  }
  return pids;
}

// Starts a Worker with `start()` and finds the workerd child it made.
export async function startWithPid(start) {
  const before = workerdPids();
  const w = await start();
  const pid = [...workerdPids()].find((p) => !before.has(p));
  if (pid === undefined) throw new Error("no workerd child");
  return { w, pid };
}

// CPU time of all of the process's threads, in ms (schedstat's first field: ns on the CPU).
export function cpuMs(pid) {
  let ns = 0;
  for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(fs.readFileSync(`/proc/${pid}/task/${t}/schedstat`, "utf8").split(" ")[0]);
    } catch {
      // A thread that ended between the listing and the read.
    }
  }
  return ns / 1e6;
}
