// The npm README's examples, exactly as written (fences marked `file=NAME`), as modules.

import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { createServer } from "node:http";

export function readmeFile(name) {
  const md = readFileSync(fileURLToPath(new URL("../../../npm/README.md", import.meta.url)), "utf8");
  for (const m of md.matchAll(/^```\w+ file=(\S+)\n([\s\S]*?)^```$/gm)) if (m[1] === name) return m[2];
  throw new Error(`README has no ${name}`);
}

// Imports the example `name`, written inside the project so that "linegate" resolves to the
// built package as it does for users; `use(module)` runs while the file exists.
export async function withReadmeModule(name, use) {
  const file = fileURLToPath(new URL(`../.readme-${process.pid}-${name}`, import.meta.url));
  writeFileSync(file, readmeFile(name));
  try {
    return await use(await import(file));
  } finally {
    rmSync(file, { force: true });
  }
}

// An InfluxDB stand-in for the examples on 127.0.0.1: answers 204 and records each request
// as `{ url, encoding, body }` (body as text) in `seen`.
export async function startSink() {
  const seen = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      seen.push({ url: req.url, encoding: req.headers["content-encoding"], body: Buffer.concat(chunks).toString() });
      res.writeHead(204).end();
    });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${server.address().port}`, seen, close: () => server.close() };
}
