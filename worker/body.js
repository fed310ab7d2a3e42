// Reads a request body once, holding at most `cap` bytes of it (and, for a write, checking
// it as it arrives).

// workerd cannot read a request body once the response is sent, and closes a connection
// whose body was left unread; a client still uploading then gets a reset instead of our
// answer. So the rest of a body we do not need is read and dropped (never held) before
// answering, up to this many bytes; past that the upload is cut off.
export const DISCARD_MAX = 128 * 1024 * 1024;

async function discard(reader) {
  let n = 0;
  // A BYOB reader needs a buffer to read into: one scratch buffer, handed back each time.
  const byob = typeof ReadableStreamBYOBReader === "function" && reader instanceof ReadableStreamBYOBReader;
  let scratch = byob ? new Uint8Array(SCRATCH) : null;
  try {
    for (;;) {
      const { done, value } = byob ? await reader.read(scratch) : await reader.read();
      if (done) return;
      if (byob) scratch = new Uint8Array(value.buffer);
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
 * Returns the body as a `Body`. Its `over` is true when the body is at least `cap` bytes
 * long (core's `bodyRead(...).cap`: maxBody, or only the gzip header bound — enough for
 * every check before the size check, spec Part A §3 — when the declared Content-Length
 * already says it is too large); then it holds that prefix and the rest was dropped. `start(cap)`, when given, returns a sink (`push(chunk)`, `decided()`) that sees
 * each held chunk as it arrives (the check, with `cap` as its body limit); once it has
 * decided, the rest is dropped too (`decided` is then true). `declared`, when given, is the
 * body's Content-Length (core's `bodyRead(...).declared`): it only ever makes a slab smaller.
 */
export async function readBody(request, cap, start, declared = null) {
  if (request.body === null) return new Body([], 0, false, false);
  const sink = start ? start(cap) : null;
  const slabs = new Slabs(cap, declared);
  let decided = false;
  let reader;
  try {
    reader = request.body.getReader({ mode: "byob" });
  } catch {
    // A body from a JS stream that is not a byte stream: read its chunks and copy them in.
    reader = request.body.getReader();
  }
  const byob = reader instanceof ReadableStreamBYOBReader;
  for (;;) {
    let value;
    let done;
    if (byob) {
      const view = slabs.room();
      if (view === null) break;
      // A default reader gets workerd's ~4 KB socket pieces, each a promise turn and a
      // crossing into wasm; a read into a view of ours takes all that has arrived, up to it.
      ({ value, done } = await reader.read(view));
      // The read transferred the slab's buffer to `value`, even when it brought nothing.
      if (value !== undefined) slabs.filled(value);
    } else {
      ({ value, done } = await reader.read());
      if (value !== undefined) value = slabs.append(value);
    }
    // Checked as it arrives: only the bytes as received are held, never a decoded copy.
    if (sink && value !== undefined && value.length > 0) sink.push(value);
    if (done || slabs.length >= cap) break;
    if (sink && sink.decided()) {
      decided = true;
      break;
    }
  }
  const full = slabs.length >= cap;
  if (full || decided) await discard(reader);
  else reader.releaseLock();
  // Filling the cap means maxBody bytes were read, or a header-sized prefix of a body
  // declared too large: either way the body is too large.
  return new Body(slabs.chunks(), slabs.length, full, decided);
}

// The buffer a dropped body is read into.
const SCRATCH = 64 * 1024;
// The body is read straight into slabs that grow with what has arrived (each as large as
// the body so far, from 64 KiB to 1 MiB): no buffer sized on the client's word, no copy, no
// per-piece garbage, and at most one slab's unused tail. A declared length only cuts a slab
// down to what it leaves (HTTP framing holds the body to it): the last slab is not up to
// 1 MiB more than the rest of the body, which a gzipped batch mostly is not (a 1.2 MB body
// took 2 MiB of slabs, and allocating them cost workerd ~0.4 ms a request).
const SLAB_MIN = 64 * 1024;
const SLAB_MAX = 1024 * 1024;

class Slabs {
  constructor(cap, declared) {
    this.cap = cap;
    this.declared = declared;
    // Whether the one small slab that reads the end after the declared bytes was made.
    this.probed = false;
    this.full = [];
    this.slab = null;
    this.used = 0;
    this.length = 0;
  }

  /** A view of the free part of the current slab (a new one when it is full), or null at the cap. */
  room() {
    const left = this.cap - this.length;
    if (left <= 0) return null;
    if (this.slab === null || this.used === this.slab.length) {
      if (this.slab !== null) this.full.push(this.slab);
      let size = Math.min(left, Math.max(SLAB_MIN, Math.min(SLAB_MAX, this.length)));
      if (this.declared !== null) {
        const rest = this.declared - this.length;
        if (rest > 0) size = Math.min(size, rest);
        else if (!this.probed) {
          // All declared bytes are in: a read into one byte sees the end. A body longer
          // than declared (not over HTTP) gets the usual slabs after it.
          this.probed = true;
          size = 1;
        }
      }
      this.slab = new Uint8Array(size);
      this.used = 0;
    }
    // A slab is never larger than what was left under the cap when it was made.
    return new Uint8Array(this.slab.buffer, this.used, this.slab.length - this.used);
  }

  /** The read filled `value` (a view of the slab's buffer, transferred by the read). */
  filled(value) {
    this.slab = new Uint8Array(value.buffer);
    this.used += value.length;
    this.length += value.length;
  }

  /** Copies what of `chunk` fits under the cap; returns that part of it. */
  append(chunk) {
    const take = chunk.subarray(0, Math.max(0, Math.min(chunk.length, this.cap - this.length)));
    let at = 0;
    while (at < take.length) {
      const view = this.room();
      const n = Math.min(view.length, take.length - at);
      view.set(take.subarray(at, at + n));
      this.used += n;
      this.length += n;
      at += n;
    }
    return take;
  }

  chunks() {
    const out = this.full;
    if (this.slab !== null && this.used > 0) out.push(this.slab.subarray(0, this.used));
    this.full = [];
    this.slab = null;
    return out;
  }
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
