// Node entry: instantiates the wasm module at import, so `checkWrite` is ready to call.
import { readFileSync } from "node:fs";
import { initSync } from "./api.js";

initSync(readFileSync(new URL("./linegate.wasm", import.meta.url)));

export * from "./api.js";
