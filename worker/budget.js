// The isolate's budget of request-body bytes in flight (issue 25 item 8): every write holds
// its body (what it forwards) while it is checked and sent, and concurrent writes share one
// isolate's 128 MB. A write reserves what it may hold before reading a byte — core's
// `bodyRead(...).hold`: its declared length, MAX_BODY_BYTES when it declares none, or the
// gzip header bound when it is declared too large — and a write that does not fit is
// answered 503 with Retry-After (core's answer) without its body being read.

import { answer } from "./linegate.js";

// Bytes reserved by the writes of this isolate (module state lives as long as the isolate).
let held = 0;

/** Bytes reserved now (for logs and tests). */
export const heldBytes = () => held;

/**
 * Reserves `n` bytes (what a write's body may hold, `bodyRead(...).hold`): a release
 * function, or null when they do not fit. A write alone always fits (BODY_BUDGET_BYTES
 * below MAX_BODY_BYTES must not stop every write).
 */
export function reserve(n, cfg) {
  if (held > 0 && held + n > cfg.bodyBudget) return null;
  held += n;
  let done = false;
  return () => {
    if (!done) held -= n;
    done = true;
  };
}

export const busy = (retryAfter) => {
  const a = answer("busy", { retryAfter });
  return new Response(a.body, { status: a.status, headers: a.headers });
};
