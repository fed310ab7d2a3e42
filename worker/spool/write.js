// The write path for SPOOL=fallback|always, once the edge check has passed: which object
// holds a write (its destination), and when a batch goes to the backend now or to the spool.

import { fallbackHolds, spoolName } from "../linegate.js";
import { internal, spoolFull, spoolUnavailable } from "../respond.js";

/**
 * The object of a write's destination, and its name (what the admin endpoint shows): core's
 * `spoolName`, the path and the parameters that name the bucket, so order is kept per
 * bucket and one bucket's backlog holds up no other.
 */
export function destination(cfg, url) {
  const name = spoolName(url.pathname, url.search);
  return { name, stub: cfg.spool.ns.get(cfg.spool.ns.idFromName(name)) };
}

function spooled() {
  return new Response(null, { status: 204, headers: { "X-Linegate-Spooled": "1" } });
}

/**
 * `batch` is `{ target, headers, body }` (target: path + query string; headers: the
 * forwarded ones); `forward()` sends it to the backend now and resolves with its Response,
 * or null when the backend was unreachable or timed out (write.js logs why).
 */
export async function spoolWrite(cfg, url, batch, log, forward) {
  if (!cfg.spool.open && cfg.edgeTokens.length === 0) {
    // Fail closed: a spool anyone can fill (any token gets the spool's 204) runs only when
    // the operator says so (SPOOL_OPEN=on), else writes get 500 until EDGE_TOKENS is set.
    log.action = "spool_closed";
    log.error = "SPOOL needs EDGE_TOKENS, or SPOOL_OPEN=on to run open";
    return internal();
  }
  const { name, stub } = destination(cfg, url);
  if (cfg.spool.mode === "fallback") {
    // Batches already waiting go first: a write sent after one that got the spool's 204
    // must not overtake it.
    let waiting;
    try {
      waiting = await stub.waiting();
    } catch (e) {
      // The object cannot be asked: forward anyway (the backend being up matters more
      // than the order against batches this object may hold).
      log.spool_error = String(e && e.message).slice(0, 200);
      waiting = 0;
    }
    if (waiting === 0) {
      const res = await forward();
      if (res !== null && !fallbackHolds(res.status)) return res;
      if (res !== null) {
        log.backend_status = res.status;
        await res.body?.cancel();
      }
    } else {
      log.behind = waiting;
    }
  }
  const t0 = performance.now();
  let held;
  try {
    held = await stub.hold(name, batch.target, batch.headers, batch.body);
  } catch (e) {
    // Not stored, so no 204: the client is asked to retry.
    log.action = "spool_unavailable";
    log.spool_error = String(e && e.message).slice(0, 200);
    return spoolUnavailable(cfg.retryAfter);
  }
  log.spool_ms = Math.round((performance.now() - t0) * 100) / 100;
  if (!held.ok) {
    log.action = "spool_full";
    return spoolFull(cfg.retryAfter);
  }
  // The object's storage write is confirmed (hold awaits its sync): the 204 may go.
  log.action = "spooled";
  log.seq = held.seq;
  return spooled();
}
