// What the spool keeps of a batch's credentials: the target (path and query: v1's `u`/`p`
// live there) and the forwarded headers (`Authorization`), nothing else, in the batch's own
// row, deleted with it. With SPOOL_KEY set (a secret) both are sealed with AES-GCM under a key
// derived from it, so neither the database, its free pages nor a backup hold a usable
// credential; without it they are kept as received (worker/README.md, "Spool").

const SEALED = "sealed:v1:";
const keys = new WeakMap();
const enc = new TextEncoder();
const dec = new TextDecoder();

function key(cfg) {
  let k = keys.get(cfg);
  if (k === undefined) {
    k =
      cfg.spool.key === null
        ? Promise.resolve(null)
        : crypto.subtle
            .digest("SHA-256", enc.encode(`linegate spool v1\u0000${cfg.spool.key}`))
            .then((raw) => crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt", "decrypt"]));
    keys.set(cfg, k);
  }
  return k;
}

/** `text` as stored: sealed when SPOOL_KEY is set. */
export async function seal(cfg, text) {
  const k = await key(cfg);
  if (k === null) return text;
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ct = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv }, k, enc.encode(text)));
  const all = new Uint8Array(iv.length + ct.length);
  all.set(iv);
  all.set(ct, iv.length);
  return SEALED + btoa(String.fromCharCode(...all));
}

/** The text `seal` stored; throws when it was sealed and SPOOL_KEY is unset or another. */
export async function unseal(cfg, stored) {
  if (!stored.startsWith(SEALED)) return stored;
  const k = await key(cfg);
  if (k === null) throw new Error("batch sealed with SPOOL_KEY, which is not set");
  const all = Uint8Array.from(atob(stored.slice(SEALED.length)), (c) => c.charCodeAt(0));
  const pt = await crypto.subtle.decrypt({ name: "AES-GCM", iv: all.subarray(0, 12) }, k, all.subarray(12));
  return dec.decode(pt);
}
