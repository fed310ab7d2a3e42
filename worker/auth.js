// Optional edge authentication: EDGE_TOKENS lists the tokens the edge lets through.
// The Authorization header is still forwarded (its first value); the backend checks it again.

import { credentials } from "./linegate.js";
import { firstValue } from "./body.js";

const enc = new TextEncoder();
const digests = new WeakMap();

async function sha256(s) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", enc.encode(s)));
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
  const given =
    typeof secret === "string" ? await sha256(secret) : new Uint8Array(await crypto.subtle.digest("SHA-256", secret));
  let ok = false;
  for (const d of await tokenDigests(cfg)) {
    // No early exit: every configured token is compared.
    if (await same(given, d)) ok = true;
  }
  return ok;
}

// The client's address as Cloudflare saw it (never a header the client chose): the backend
// counts failed authentication per client by it when it trusts this Worker as a proxy.
export function clientAddress(request) {
  return request.headers.get("CF-Connecting-IP");
}
