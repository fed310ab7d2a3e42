// Shared set-up of the browser tests: build the page (from the already built pkg/), serve it on
// 127.0.0.1, and drive Debian's Chromium with playwright-core (no downloaded browsers).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { build } from '../../scripts/build-www.mjs';
import { startServer } from '../../scripts/serve-www.mjs';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const shared = process.env.LINEGATE_SHARED || path.resolve(root, '..', 'shared');
export const shotsDir = path.join(root, 'test-output', 'browser');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

let built = null;

// Each test file builds into its own folder so files running in parallel never race.
function buildOnce(name) {
  if (!built) {
    const outDir = path.join(os.tmpdir(), `linegate-www-${name}-${process.pid}`);
    built = build({ outDir, quiet: true });
  }
  return built;
}

export async function open(name, { viewport = { width: 1360, height: 1000 } } = {}) {
  const { outDir } = buildOnce(name);
  const server = await startServer({ dir: outDir, port: 0 });
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'linegate-chromium-'));
  const context = await chromium.launchPersistentContext(userDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const page = context.pages()[0] || (await context.newPage());
  const errors = [];
  page.on('pageerror', (e) => errors.push(e));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(new Error(m.text()));
  });
  await page.goto(server.url);
  await ready(page);
  return {
    page,
    context,
    url: server.url,
    errors,
    async close() {
      await context.close();
      await server.close();
      fs.rmSync(userDir, { recursive: true, force: true });
    },
  };
}

// The page is usable once the checker's worker has instantiated the wasm module.
export async function ready(page) {
  await page.waitForFunction(() => document.body.dataset.ready === 'true');
}

export async function shot(page, name) {
  fs.mkdirSync(shotsDir, { recursive: true });
  const file = path.join(shotsDir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

// Waits until the check started by the last action has finished, returning the verdict shown.
export async function verdict(page, { timeout = 30000 } = {}) {
  await page.waitForFunction(() => document.body.dataset.pending === 'false', null, { timeout });
  const state = await page.evaluate(() => document.body.dataset.state);
  if (state === 'error') throw new Error(await page.textContent('#check-status'));
  return page.evaluate(() => ({
    status: Number(document.getElementById('verdict-status').textContent),
    body: document.getElementById('verdict-body').textContent,
    full: document.getElementById('verdict-body').dataset.full === 'true',
  }));
}

// Loads a file through the file picker (the page marks itself pending at once).
export async function chooseFile(page, file) {
  await page.setInputFiles('#file', file);
}

/**
 * Fills the page's Send form (`fields`: input id → value, e.g. `{ 'send-url': url }`),
 * presses Send and waits for the answer: `{ status, text, body }` as the page shows them.
 */
export async function pressSend(page, fields) {
  if (!(await page.isVisible('#send-url'))) await page.click('#send-box summary');
  for (const [id, value] of Object.entries(fields)) await page.fill(`#${id}`, value);
  await page.evaluate(() => (document.getElementById('send-status').textContent = ''));
  await page.click('#send-go');
  await page.waitForFunction(() => {
    const t = document.getElementById('send-status').textContent;
    return t !== '' && t !== '…';
  }, null, { timeout: 30000 });
  return {
    status: await page.textContent('#send-status'),
    text: await page.textContent('#send-text'),
    body: await page.textContent('#send-body'),
  };
}
