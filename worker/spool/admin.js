// The spool's admin endpoint: GET /spool lists every destination with its queue and dead
// letters; POST /spool/replay and /spool/drop with `dest=ID` (and optionally `id=N`, one
// dead letter) requeue or delete dead letters. Behind `Authorization: Bearer
// SPOOL_ADMIN_TOKEN`; without that token, no endpoint (404).

import { adminAuthorized } from "../auth.js";
import { notFound, unauthorized } from "../respond.js";
import { INDEX } from "./object.js";

function json(status, value) {
  return new Response(JSON.stringify(value, null, 2) + "\n", {
    status,
    headers: { "Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store" },
  });
}

export const isSpoolAdmin = (pathname) => pathname === "/spool" || pathname.startsWith("/spool/");

export async function spoolAdmin(request, url, cfg) {
  const s = cfg.spool;
  if (s.adminToken === null || s.ns === null) return notFound();
  if (!(await adminAuthorized(request, s.adminToken))) return unauthorized();
  const action = url.pathname.slice("/spool".length);
  if (action === "" && (request.method === "GET" || request.method === "HEAD")) {
    const index = s.ns.get(s.ns.idFromName(INDEX));
    const destinations = [];
    for (const { id } of await index.destinations()) {
      destinations.push({ id, ...(await s.ns.get(s.ns.idFromString(id)).stats()) });
    }
    return json(200, { destinations });
  }
  if ((action === "/replay" || action === "/drop") && request.method === "POST") {
    const dest = url.searchParams.get("dest") ?? "";
    const id = url.searchParams.get("id");
    if (!/^[0-9a-f]{64}$/.test(dest) || (id !== null && !/^\d+$/.test(id))) {
      return json(400, { error: "want dest=<destination id> and optionally id=<dead letter id>" });
    }
    let stub;
    try {
      stub = s.ns.get(s.ns.idFromString(dest));
    } catch {
      return json(400, { error: "not a destination id of this spool" });
    }
    const which = id === null ? null : Number(id);
    if (action === "/replay") return json(200, { replayed: await stub.replay(which) });
    return json(200, { dropped: await stub.drop(which) });
  }
  if (action === "/rejected" || action === "/rejected.lp" || action === "/rejected/drop") {
    return rejected(request, url, s, action);
  }
  return json(404, {
    error:
      "GET /spool, POST /spool/replay?dest=ID[&id=N], POST /spool/drop?dest=ID[&id=N], " +
      "GET /spool/rejected[?dest=ID], GET /spool/rejected.lp[?dest=ID], POST /spool/rejected/drop[?dest=ID]",
  });
}

// The rejected lines of partial writes (spec Part D.1.5): listed as JSON, given back as line
// protocol (the lines alone, to fix and send again), or dropped; one destination
// (`dest=ID`) or all of them.
async function rejected(request, url, s, action) {
  const post = action === "/rejected/drop";
  if (post ? request.method !== "POST" : request.method !== "GET" && request.method !== "HEAD") {
    return json(405, { error: post ? "POST only" : "GET only" });
  }
  const dest = url.searchParams.get("dest");
  let ids;
  if (dest === null) {
    ids = (await s.ns.get(s.ns.idFromName(INDEX)).destinations()).map((d) => d.id);
  } else if (/^[0-9a-f]{64}$/.test(dest)) {
    ids = [dest];
  } else {
    return json(400, { error: "dest must be a destination id" });
  }
  const stubs = [];
  for (const id of ids) {
    try {
      stubs.push([id, s.ns.get(s.ns.idFromString(id))]);
    } catch {
      return json(400, { error: "not a destination id of this spool" });
    }
  }
  if (action === "/rejected.lp") {
    const parts = [];
    for (const [, stub] of stubs) parts.push(await stub.rejectedLp());
    return new Response(new Blob(parts), {
      status: 200,
      headers: { "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store" },
    });
  }
  if (post) {
    let dropped = 0;
    for (const [, stub] of stubs) dropped += await stub.dropRejected();
    return json(200, { dropped });
  }
  const destinations = [];
  for (const [id, stub] of stubs) destinations.push({ id, rejected: await stub.rejected(10_000) });
  return json(200, { destinations });
}
