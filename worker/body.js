// Reads a request body once, holding at most `cap` bytes of it (and, for a write, checking
// it as it arrives).

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
 * Returns `{ bytes, over, decided }`. `over` is true when the body is at least `maxBody`
 * bytes long; then `bytes` is a prefix of it (at most `maxBody` bytes, or only HEADER_PREFIX
 * bytes when the declared Content-Length already says it is too large) and the rest was
 * dropped. `start(cap)`, when given, returns a sink (`push(chunk)`, `decided()`) that sees
 * each held chunk as it arrives (the check, with `cap` as its body limit); once it has
 * decided, the rest is dropped too (`decided` is then true).
 */
export async function readBody(request, maxBody, start) {
  if (request.body === null) return new Body([], 0, false, false);
  const declared = contentLength(request);
  const tooLarge = declared !== null && declared >= maxBody;
  const cap = tooLarge ? Math.min(maxBody, HEADER_PREFIX) : maxBody;
  // The chunks as they arrived, kept as they are: no buffer grown ahead of the bytes on the
  // client's word, and no copies (a doubling buffer left two to three bodies' worth of
  // garbage behind; the check itself holds only a partial line and the inflate window).
  const chunks = [];
  let n = 0;
  let full = false;
  let decided = false;
  const sink = start ? start(cap) : null;
  const reader = request.body.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    const take = Math.min(value.length, cap - n);
    const chunk = take === value.length ? value : value.subarray(0, take);
    chunks.push(chunk);
    n += take;
    // Checked as it arrives: only the bytes as received are held, never a decoded copy.
    if (sink) sink.push(chunk);
    if (n >= cap) {
      full = true;
      break;
    }
    if (sink && sink.decided()) {
      decided = true;
      break;
    }
  }
  if (full || decided) await discard(reader);
  else reader.releaseLock();
  // Filling the cap means maxBody bytes were read, or a header-sized prefix of a body
  // declared too large: either way the body is too large.
  return new Body(chunks, n, full, decided);
}

/** A body as received: its chunks, `length`, and `bytes` (joined on first use). */
export class Body {
  constructor(chunks, length, over, decided) {
    this.chunks = chunks;
    this.length = length;
    this.over = over;
    this.decided = decided;
  }

  get bytes() {
    if (this.chunks.length !== 1) {
      const b = new Uint8Array(this.length);
      let at = 0;
      for (const c of this.chunks) {
        b.set(c, at);
        at += c.length;
      }
      this.chunks = [b];
    }
    return this.chunks[0] ?? new Uint8Array(0);
  }

  /** A fresh stream of the chunks, of known length (sent with Content-Length). */
  stream() {
    const chunks = this.chunks;
    let i = 0;
    const src = new ReadableStream({
      pull(ctl) {
        if (i < chunks.length) ctl.enqueue(chunks[i++]);
        else ctl.close();
      },
    });
    // workerd's FixedLengthStream gives the request its Content-Length; elsewhere the bytes.
    if (typeof FixedLengthStream !== "function") return this.bytes;
    return src.pipeThrough(new FixedLengthStream(this.length));
  }
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
