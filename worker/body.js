// Reads a request body once, holding at most `cap` bytes of it.

// A gzip header (RFC 1952) fits in 10 + 2 + 65535 + 2 * 512 + 2 bytes: enough of a body
// for every check that comes before the size check (spec Part A §3).
export const HEADER_PREFIX = 128 * 1024;

// workerd cannot read a request body once the response is sent, and closes a connection
// whose body was left unread; a client still uploading then gets a reset instead of our
// answer. So the rest of a body we do not need is read and dropped (never held) before
// answering, up to this many bytes; past that the upload is cut off.
export const DISCARD_MAX = 128 * 1024 * 1024;

function contentLength(request) {
  const v = request.headers.get("Content-Length");
  return v !== null && /^\d+$/.test(v) ? Number(v) : null;
}

async function discard(reader) {
  let n = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      n += value.length;
      if (n > DISCARD_MAX) {
        await reader.cancel();
        return;
      }
    }
  } catch {
    // The client went away: nothing left to answer.
  }
}

/**
 * Returns `{ bytes, over }`. `over` is true when the body is at least `maxBody` bytes long;
 * then `bytes` is a prefix of it (at most `maxBody` bytes, or only HEADER_PREFIX bytes when
 * the declared Content-Length already says it is too large) and the rest was dropped.
 */
export async function readBody(request, maxBody) {
  if (request.body === null) return { bytes: new Uint8Array(0), over: false };
  const declared = contentLength(request);
  const tooLarge = declared !== null && declared >= maxBody;
  const cap = tooLarge ? Math.min(maxBody, HEADER_PREFIX) : maxBody;
  // The buffer grows with what arrives (doubling), never ahead of it on the client's word:
  // a declared length only caps the growth so a known-length body ends in one exact buffer.
  const limit = declared !== null && !tooLarge ? Math.min(declared, cap) : cap;
  let buf = new Uint8Array(Math.min(limit, 64 * 1024));
  let n = 0;
  let full = false;
  const reader = request.body.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    const take = Math.min(value.length, cap - n);
    if (n + take > buf.length) {
      const want = Math.max(n + take, buf.length * 2);
      buf = grow(buf, n, n + take <= limit ? Math.min(limit, want) : Math.min(cap, want));
    }
    buf.set(take === value.length ? value : value.subarray(0, take), n);
    n += take;
    if (n >= cap) {
      full = true;
      break;
    }
  }
  if (full) await discard(reader);
  else reader.releaseLock();
  const bytes = n === buf.length ? buf : buf.subarray(0, n);
  // Filling the cap means maxBody bytes were read, or a header-sized prefix of a body
  // declared too large: either way the body is too large.
  return { bytes, over: full };
}

function grow(buf, used, size) {
  const b = new Uint8Array(size);
  b.set(buf.subarray(0, used));
  return b;
}

/**
 * A header's first value, as Go's `Header.Get` reads it. workerd joins repeated headers with
 * ", ", so the part before the first ", " is the first one sent (`Content-Encoding: gzip`
 * twice reads as `gzip`, as InfluxDB reads it). Only for headers whose values hold no ", ".
 */
export function firstValue(headers, name) {
  const v = headers.get(name);
  if (v === null) return null;
  const i = v.indexOf(", ");
  return i < 0 ? v : v.slice(0, i);
}

/** Drops a body the Worker answered without needing (404, 405, 401), as above. */
export async function drain(request) {
  if (request.body === null || request.bodyUsed) return;
  await discard(request.body.getReader());
}
