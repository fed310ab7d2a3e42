// Browser, Web Worker and Cloudflare Worker entry: call `initSync(module)` with the compiled
// module (a Worker imports "linegate/linegate.wasm" as one) or `await init()` first.
export * from "./api.js";
