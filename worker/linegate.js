// The linegate package (pkg/, built by `npm run build`), initialised synchronously from its
// .wasm, which the Worker imports as a compiled WebAssembly.Module.
import wasm from "../pkg/linegate.wasm";
import { initSync, checkWrite, Checker, answer, credentials, deliveryDecision, upstreamWrite } from "../pkg/web.js";

initSync(wasm);

export { checkWrite, Checker, answer, credentials, deliveryDecision, upstreamWrite };
