// The services the "Send" test writes to: linegate-backend (crates/backend) and the Worker
// under `wrangler dev`, both on free loopback ports, each stopped by close().

import fs from 'node:fs';
import os from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { spawn, execFileSync } from 'node:child_process';
import { root } from './harness.mjs';
import { stopGroup } from '../support/process.mjs';

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function waitFor(what, proc, out, probe, ms) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`${what} exited (${proc.exitCode}): ${out()}`);
    try {
      if (await probe()) return;
    } catch {}
    if (Date.now() > deadline) throw new Error(`${what} did not start in ${ms} ms: ${out()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// LINEGATE_BACKEND_BIN, else the newest build under the cargo target dir.
export function backendBin() {
  if (process.env.LINEGATE_BACKEND_BIN) return process.env.LINEGATE_BACKEND_BIN;
  const target = process.env.CARGO_TARGET_DIR || path.join(root, 'target');
  const found = ['release', 'debug']
    .map((p) => path.join(target, p, 'linegate-backend'))
    .filter((f) => fs.existsSync(f))
    .sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs);
  if (!found.length) {
    throw new Error(`linegate-backend is not built under ${target}: run cargo build -p linegate-backend (or set LINEGATE_BACKEND_BIN)`);
  }
  return found[0];
}

export async function startBackend({ org, bucket, token }) {
  const bin = backendBin();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'linegate-www-backend-'));
  const port = await freePort();
  const args = ['serve', '--data', dir, '--bind', `127.0.0.1:${port}`, '--setup-org', org, '--setup-bucket', bucket, '--setup-token', token];
  const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (c) => (out += c));
  proc.stderr.on('data', (c) => (out += c));
  const url = `http://127.0.0.1:${port}`;
  await waitFor('linegate-backend', proc, () => out, async () => (await fetch(`${url}/health`)).status === 200, 30000);
  return {
    url,
    export: () => execFileSync(bin, ['export', '--data', dir, '--bucket', bucket, '--raw'], { encoding: 'utf8' }),
    async close() {
      if (proc.exitCode === null) {
        proc.kill('SIGTERM');
        await new Promise((r) => proc.once('exit', r));
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

// `wrangler dev` of the repository's Worker in front of `backend`, allowing `origin` (CORS).
export async function startWorker({ backend, origin, vars = {} }) {
  const port = await freePort();
  const inspector = await freePort();
  const state = fs.mkdtempSync(path.join(os.tmpdir(), 'linegate-www-wrangler-'));
  const env = { ...process.env, WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1', FORCE_COLOR: '0' };
  // A process group of its own, so wrangler and its workerd stop together.
  const proc = spawn(
    path.join(root, 'node_modules', '.bin', 'wrangler'),
    ['dev', '--ip', '127.0.0.1', '--port', String(port), '--inspector-port', String(inspector), '--persist-to', state,
      '--var', `BACKEND_URL:${backend}`, '--var', `CORS_ORIGINS:${origin}`,
      ...Object.entries(vars).flatMap(([k, v]) => ['--var', `${k}:${v}`]), '--log-level', 'warn'],
    { cwd: root, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  proc.stdout.on('data', (c) => (out += c));
  proc.stderr.on('data', (c) => (out += c));
  const url = `http://127.0.0.1:${port}`;
  await waitFor('wrangler dev', proc, () => out, async () => (await fetch(`${url}/ping`)).status === 204, 120000);
  return {
    url,
    async close() {
      await stopGroup(proc);
      fs.rmSync(state, { recursive: true, force: true });
    },
  };
}
