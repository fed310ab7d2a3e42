// The linegate package (pkg/, built by `npm run build`), initialised synchronously from its
// .wasm, which the Worker imports as a compiled WebAssembly.Module.
import wasm from "../pkg/linegate.wasm";
import { initSync, checkWrite, Checker, answer, credentials, deliveryDecision, fallbackHolds, clientAddressHeader, upstreamWrite } from "../pkg/web.js";

initSync(wasm);

// Read once: core's name for the header that tells the backend who the client is.
export const CLIENT_ADDRESS_HEADER = clientAddressHeader();

export { checkWrite, Checker, answer, credentials, deliveryDecision, fallbackHolds, upstreamWrite };
