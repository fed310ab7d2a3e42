// One delivery attempt of a stored batch, bounded in time from the request to the last byte
// read of the answer, and never throwing: what the backend did is handed to the package's
// delivery policy (linegate-core's `delivery`), which decides; this file only moves bytes.

import { deliveryDecision } from "../linegate.js";

// Kept of a dead letter's answer body (it is shown at the admin endpoint).
const ANSWER_MAX = 4096;

/**
 * Sends `batch` (`{ target, headers, body, history }`) to the backend and asks the policy what
 * to do next. Resolves with `{ decision, status, answer, error }`: `status` null when no
 * answer came, `answer` the first bytes of a dead letter's answer body as text.
 */
export async function attempt(cfg, batch, policy) {
  const abort = new AbortController();
  // One deadline for the whole attempt: connecting, the status line and headers, and the
  // body read below. A 4xx whose body stalls or resets costs one timeout, not the queue.
  const timer = setTimeout(() => abort.abort(), cfg.timeoutMs);
  const out = { decision: null, status: null, answer: null, error: null };
  try {
    let res = null;
    let failure = null;
    try {
      if (cfg.backend === null) throw new Error("BACKEND_URL is not set");
      res = await fetch(cfg.backend + batch.target, {
        method: "POST",
        headers: batch.headers,
        body: batch.body,
        redirect: "manual",
        signal: abort.signal,
      });
    } catch (e) {
      failure = abort.signal.aborted ? "timeout" : "unreachable";
      out.error = abort.signal.aborted ? "backend timeout" : message(e);
    }
    const asked = res === null ? { failure } : { status: res.status, retryAfter: res.headers.get("Retry-After") };
    out.status = res?.status ?? null;
    out.decision = deliveryDecision({
      ...asked,
      body: batch.body,
      contentEncoding: header(batch.headers, "Content-Encoding"),
      history: batch.history,
      policy,
    });
    if (res !== null) {
      // Only a dead letter keeps the answer's body; any other is not read.
      if (out.decision.action === "dead") out.answer = await answerText(res, ANSWER_MAX, abort.signal);
      else await res.body?.cancel().catch(() => {});
    }
  } catch (e) {
    // Not expected (the package refused its input): counted as a failed attempt all the same.
    out.error = message(e);
    out.decision ??= { action: "retry", afterMs: cfg.spool.backoffCapMs, strike: false, history: batch.history };
  } finally {
    clearTimeout(timer);
  }
  return out;
}

function message(e) {
  return String(e && e.message).slice(0, 200);
}

/** A header's value from a plain object of headers, whatever the name's case. */
export function header(headers, name) {
  const k = Object.keys(headers).find((h) => h.toLowerCase() === name.toLowerCase());
  return k === undefined ? null : headers[k];
}

// At most `max` bytes of an answer's body, as text; the rest is not read. A body that
// stalls past the deadline or fails midway leaves what had arrived.
async function answerText(res, max, signal) {
  if (res.body === null) return "";
  const reader = res.body.getReader();
  const chunks = [];
  let n = 0;
  const aborted = new Promise((resolve) => {
    if (signal.aborted) resolve({ done: true });
    signal.addEventListener("abort", () => resolve({ done: true }), { once: true });
  });
  try {
    while (n < max) {
      const { done, value } = await Promise.race([reader.read(), aborted]);
      if (done) break;
      chunks.push(value);
      n += value.length;
    }
  } catch {
    // Reset mid-body: what arrived is kept.
  }
  reader.cancel().catch(() => {});
  const all = new Uint8Array(Math.min(n, max));
  let at = 0;
  for (const c of chunks) {
    const take = Math.min(c.length, all.length - at);
    all.set(c.subarray(0, take), at);
    at += take;
  }
  return new TextDecoder().decode(all);
}
