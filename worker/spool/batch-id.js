// A batch's id (core's BATCH_ID_HEADER): 128 random bits as 32 hex digits. The Worker
// names each accepted write with one; the spool keeps it with the batch and sends it on
// every delivery attempt, and gives each half of a split batch an id of its own.

import { BATCH_ID_HEADER } from "../linegate.js";

export function newBatchId() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}

/** `headers` (a plain object) with a new batch id, whatever case the old one's name had. */
export function withNewBatchId(headers) {
  const h = {};
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() !== BATCH_ID_HEADER.toLowerCase()) h[k] = v;
  h[BATCH_ID_HEADER] = newBatchId();
  return h;
}
