// Deno entry. From Deno 2.6 the .wasm comes in through the module graph (a source-phase
// import gives the compiled WebAssembly.Module), so no permission is needed. Older Deno
// cannot parse that import, so it sits in a module of its own, loaded dynamically: there it
// fails alone and the file is read instead, as the Node entry does (which needs --allow-read).
import { readFileSync } from "node:fs";
import { initSync } from "./api.js";

let wasm;
try {
  wasm = (await import("./deno-wasm.js")).default;
} catch (e) {
  try {
    wasm = readFileSync(new URL("./linegate.wasm", import.meta.url));
  } catch (read) {
    const err = new Error(
      "linegate: this Deno cannot import linegate.wasm as a module (Deno 2.6+ can, with no permission) " +
        `and may not read it (${read.message}); update Deno, or run with --allow-read`,
    );
    err.cause = e;
    throw err;
  }
}
initSync(wasm);

export * from "./api.js";
