// The shipped TypeScript types (pkg/index.d.ts, through the package's "types" condition)
// compile the README's uses under --strict and reject the misuses marked in the fixture.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
let tsc;
try {
  tsc = require.resolve("typescript/bin/tsc");
} catch {
  tsc = undefined;
}

test("index.d.ts types the documented API", { skip: tsc ? false : "typescript is not installed (npm install)" }, () => {
  const fixture = fileURLToPath(new URL("./types/usage.ts", import.meta.url));
  const r = spawnSync(
    process.execPath,
    [tsc, "--noEmit", "--strict", "--target", "es2022", "--module", "nodenext", "--moduleResolution", "nodenext",
      "--lib", "es2022,dom", "--skipLibCheck", "false", fixture],
    { encoding: "utf8" },
  );
  assert.equal(r.status, 0, r.stdout + r.stderr);
});
