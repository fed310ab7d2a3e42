// The Worker (Miniflare's workerd) in front of a backend, for crates/backend/examples/
// realdb-bench.sh: `node bench/worker-front.mjs BACKEND_URL BACKEND_KIND` prints the
// Worker's URL and serves until killed.
import { startWorker } from "../tests/worker/helpers.mjs";

const [backend, kind] = process.argv.slice(2);
const w = await startWorker({ BACKEND_URL: backend, BACKEND_KIND: kind ?? "influxdb2" });
process.stdout.write(`${w.url.origin}\n`);
process.on("SIGTERM", async () => {
  await w.close();
  process.exit(0);
});
