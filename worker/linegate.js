// The linegate package (pkg/, built by `npm run build`), initialised synchronously from its
// .wasm, which the Worker imports as a compiled WebAssembly.Module.
import wasm from "../pkg/linegate.wasm";
import {
  initSync,
  checkWrite,
  Checker,
  KnownSeries,
  answer,
  credentials,
  credentialsCheck,
  deliveryDecision,
  fallbackHolds,
  clientAddressHeader,
  batchIdHeader,
  bodyRead,
  quotaNames,
  spoolName,
  checkRate,
  countRate,
  admitSeries,
  seriesHashVersion,
  upstreamWrite,
} from "../pkg/web.js";

initSync(wasm);

// Read once: core's name for the header that tells the backend who the client is.
export const CLIENT_ADDRESS_HEADER = clientAddressHeader();
// Core's name for the header that names a batch on every delivery attempt (the backend
// stores a repeated id once).
export const BATCH_ID_HEADER = batchIdHeader();
// The series hash the quota's sets hold (core's): an object whose set is of another version
// starts a new one.
export const SERIES_HASH_VERSION = seriesHashVersion();

export {
  bodyRead,
  checkWrite,
  Checker,
  KnownSeries,
  answer,
  credentials,
  credentialsCheck,
  deliveryDecision,
  fallbackHolds,
  quotaNames,
  checkRate,
  countRate,
  admitSeries,
  spoolName,
  upstreamWrite,
};
