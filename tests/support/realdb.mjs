// Real databases on 127.0.0.1 for the tests (issue 24): InfluxDB 1.x (`influxd`) and
// VictoriaMetrics (`victoria-metrics`), installed from Debian's packages by scripts/setup.sh,
// each on a free port with its data in a temporary folder. `null` when the binary is absent
// (the caller skips, saying so).

import { spawn, execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import http from "node:http";

export function installed(bin) {
  try {
    execFileSync("sh", ["-c", `command -v ${bin}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

async function freePort() {
  const s = http.createServer();
  await new Promise((r) => s.listen(0, "127.0.0.1", r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

function get(url) {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode));
    });
    req.on("error", () => resolve(0));
  });
}

/**
 * Starts `kind` ("influxdb1" | "victoriametrics"): `{ url, port, kill(), start(), close() }`;
 * `kill` is SIGKILL, `start` runs it again on the same port and data.
 */
export async function startRealDb(kind, extra = []) {
  const bin = kind === "influxdb1" ? "influxd" : "victoria-metrics";
  if (!installed(bin)) return null;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `linegate-${kind}-`));
  const port = await freePort();
  const rpc = await freePort();
  let args;
  if (kind === "influxdb1") {
    const conf = path.join(dir, "influxdb.conf");
    fs.writeFileSync(
      conf,
      [
        "reporting-disabled = true",
        `bind-address = "127.0.0.1:${rpc}"`,
        "[meta]",
        `  dir = "${dir}/meta"`,
        "[data]",
        `  dir = "${dir}/data"`,
        `  wal-dir = "${dir}/wal"`,
        "  query-log-enabled = false",
        "[http]",
        `  bind-address = "127.0.0.1:${port}"`,
        "  log-enabled = false",
        "[monitor]",
        "  store-enabled = false",
        "[continuous_queries]",
        "  enabled = false",
        "",
      ].join("\n"),
    );
    args = ["-config", conf];
  } else {
    args = [`-storageDataPath=${dir}/vm`, `-httpListenAddr=127.0.0.1:${port}`, "-loggerLevel=ERROR"];
  }
  const url = `http://127.0.0.1:${port}`;
  const probe = kind === "influxdb1" ? ["/ping", 204] : ["/health", 200];
  let proc = null;
  const db = {
    url,
    port,
    async start() {
      proc = spawn(bin, [...args, ...extra], { stdio: "ignore" });
      const deadline = Date.now() + 30_000;
      while ((await get(url + probe[0])) !== probe[1]) {
        if (proc.exitCode !== null) throw new Error(`${bin} exited with ${proc.exitCode}`);
        if (Date.now() > deadline) throw new Error(`${bin} did not start`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async kill() {
      if (proc === null) return;
      const p = proc;
      proc = null;
      if (p.exitCode === null) {
        const gone = new Promise((r) => p.once("exit", r));
        p.kill("SIGKILL");
        await gone;
      }
    },
    async close() {
      await db.kill();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  await db.start();
  return db;
}
