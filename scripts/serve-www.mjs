#!/usr/bin/env node
// A tiny static server for the built page (www/dist), Node built-ins only.
//
//   node scripts/serve-www.mjs [--dir www/dist] [--host 127.0.0.1] [--port 8080]
//
// It serves files and nothing else: the page checks data in the browser and never posts here.

import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

export function startServer({ dir = path.join(root, 'www', 'dist'), host = '127.0.0.1', port = 8080, log = false } = {}) {
  const base = path.resolve(dir);
  const server = http.createServer((req, res) => {
    const done = (status, body, headers = {}) => {
      res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', ...headers });
      res.end(body);
      if (log) console.log(`${status} ${req.method} ${req.url}`);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return done(405, 'method not allowed\n', { Allow: 'GET, HEAD' });
    let rel;
    try {
      rel = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    } catch {
      return done(400, 'bad path\n');
    }
    if (rel.endsWith('/')) rel += 'index.html';
    const file = path.resolve(base, `.${rel}`);
    if (file !== base && !file.startsWith(base + path.sep)) return done(403, 'forbidden\n');
    fs.stat(file, (err, st) => {
      if (err || !st.isFile()) return done(404, 'not found\n');
      const ext = path.extname(file);
      // The page and its service worker are always revalidated; a new build replaces the
      // cached files as a whole (the service worker's cache is keyed by the build hash).
      res.writeHead(200, {
        'Content-Type': TYPES[ext] || 'application/octet-stream',
        'Content-Length': st.size,
        'Cache-Control': 'no-cache',
        'X-Content-Type-Options': 'nosniff',
        'Referrer-Policy': 'no-referrer',
        'Cross-Origin-Opener-Policy': 'same-origin',
      });
      if (req.method === 'HEAD') return res.end();
      fs.createReadStream(file).pipe(res);
      if (log) console.log(`200 ${req.method} ${req.url}`);
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const a = server.address();
      resolve({ server, url: `http://${a.address}:${a.port}/`, close: () => new Promise((r) => server.close(r)) });
    });
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const arg = (n, d) => {
    const i = process.argv.indexOf(n);
    return i > 0 ? process.argv[i + 1] : d;
  };
  const dir = path.resolve(arg('--dir', path.join(root, 'www', 'dist')));
  if (!fs.existsSync(path.join(dir, 'index.html'))) {
    console.error(`serve-www: ${dir}/index.html is missing; build the page first (npm run build:www)`);
    process.exit(1);
  }
  const { url } = await startServer({
    dir,
    host: arg('--host', '127.0.0.1'),
    port: Number(arg('--port', 8080)),
    log: process.argv.includes('--log'),
  });
  console.log(`linegate page: ${url} (serving ${path.relative(process.cwd(), dir) || dir})`);
}
