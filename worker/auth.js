// Optional edge authentication: EDGE_TOKENS lists the tokens the edge lets through.
// The Authorization header is still forwarded (its first value); the backend checks it again.

import { credentials } from "./linegate.js";
import { firstValue } from "./body.js";

const enc = new TextEncoder();
const digests = new WeakMap();

// A secret's digest: a string, or bytes that are not UTF-8.
async function sha256(s) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", typeof s === "string" ? enc.encode(s) : s));
}

// Compares digests, so neither the token's content nor its length shows in the timing.
async function same(a, b) {
  return crypto.subtle.timingSafeEqual(a, b);
}

function tokenDigests(cfg) {
  let d = digests.get(cfg);
  if (!d) {
    d = Promise.all(cfg.edgeTokens.map(sha256));
    digests.set(cfg, d);
  }
  return d;
}

// Whether the credential the backend will act on for this request is one of EDGE_TOKENS,
// read by core as the backend reads it: on /write v1's (u/p first, then `Token
// [user:]secret` or Basic), on every other path the `Authorization` token alone (`Token`
// or `Bearer`; a u/p in the query means nothing to the backend there, so nothing here).
export async function edgeAuthorized(request, cfg) {
  if (cfg.edgeTokens.length === 0) return true;
  const authorization = firstValue(request.headers, "Authorization") ?? undefined;
  const c = credentials({ url: request.url, headers: { authorization } });
  return c !== null && (await edgeSecretAllowed(c.secret, cfg));
}

// Whether a secret (a string, or bytes that are not UTF-8) is one of EDGE_TOKENS.
export async function edgeSecretAllowed(secret, cfg) {
  if (cfg.edgeTokens.length === 0) return true;
  const given = await sha256(secret);
  let ok = false;
  for (const d of await tokenDigests(cfg)) {
    // No early exit: every configured token is compared.
    if (await same(given, d)) ok = true;
  }
  return ok;
}

// Whether a request to an admin endpoint (/spool, /quota) carries its token: the bearer
// token as InfluxDB's v2 endpoints read one (core says, not a regex), compared by digest in
// constant time, so neither content nor length shows in the timing.
export async function adminAuthorized(request, token) {
  // The first Authorization header, as every other read of it here and as Go reads it.
  const c = credentials({ headers: { authorization: firstValue(request.headers, "Authorization") ?? undefined } });
  if (c === null || c.user !== null) return false;
  return same(await sha256(c.secret), await sha256(token));
}

// The client's address as Cloudflare saw it (never a header the client chose): the backend
// counts failed authentication per client by it when it trusts this Worker as a proxy.
export function clientAddress(request) {
  return request.headers.get("CF-Connecting-IP");
}
