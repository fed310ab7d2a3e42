// Random access to the checked bytes, for excerpts of rejected lines and the file viewer.
// The check itself never needs this: the body lives in wasm memory. A Blob keeps large data
// out of the JS heap (Chromium pages big blobs to disk) and slices cheaply.

import { Gunzip } from './engine.js';

const LF = 10;
const CHECKPOINT = 1024; // remember the offset of every 1024th line

export class ByteSource {
  constructor(blob) {
    this.blob = blob;
    this.size = blob.size;
    this.checkpoints = null; // Float64Array: offset where line k*CHECKPOINT+1 starts
    this.lineCount = 0;
  }

  async read(start, end) {
    start = Math.max(0, start);
    end = Math.min(this.size, end);
    if (end <= start) return new Uint8Array(0);
    return new Uint8Array(await this.blob.slice(start, end).arrayBuffer());
  }

  // One streaming pass counting LFs; physical lines are LF-separated only, like InfluxDB's.
  async index() {
    if (this.checkpoints) return;
    const cps = [0];
    let line = 1; // line number at the current position
    let offset = 0;
    const reader = this.blob.stream().getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      let i = value.indexOf(LF);
      while (i !== -1) {
        line++;
        if ((line - 1) % CHECKPOINT === 0) cps.push(offset + i + 1);
        i = value.indexOf(LF, i + 1);
      }
      offset += value.length;
    }
    // A trailing LF does not start another line.
    this.lineCount = this.size === 0 ? 0 : line - (this.lastByteIsLF ? 1 : 0);
    this.checkpoints = Float64Array.from(cps);
  }

  async lastByte() {
    if (this.size === 0) return -1;
    return (await this.read(this.size - 1, this.size))[0];
  }

  async prepare() {
    this.lastByteIsLF = (await this.lastByte()) === LF;
    await this.index();
  }

  // Lines [from, from+count) (1-based) as byte arrays, each cut to maxBytes.
  async lines(from, count, maxBytes = 4000) {
    await this.prepare();
    from = Math.max(1, Math.min(from, Math.max(1, this.lineCount)));
    const cp = Math.floor((from - 1) / CHECKPOINT);
    let line = cp * CHECKPOINT + 1;
    const reader = this.blob.slice(this.checkpoints[cp]).stream().getReader();
    const out = [];
    let parts = [];
    let kept = 0;
    let cut = false;
    const finish = () => {
      if (line >= from) out.push({ n: line, bytes: concat(parts, kept), cut });
      parts = [];
      kept = 0;
      cut = false;
      line++;
    };
    read: for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        if (line <= this.lineCount && out.length < count) finish();
        break;
      }
      let s = 0;
      for (;;) {
        const i = value.indexOf(LF, s);
        const end = i === -1 ? value.length : i;
        if (line >= from) {
          const take = Math.min(end - s, maxBytes - kept);
          if (take > 0) {
            parts.push(value.slice(s, s + take));
            kept += take;
          }
          if (end - s > take) cut = true;
        }
        if (i === -1) break;
        finish();
        if (out.length >= count) {
          reader.cancel();
          break read;
        }
        s = i + 1;
      }
    }
    return { lines: out, total: this.lineCount };
  }
}

function concat(parts, n) {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

// Decompresses gzip into a Blob for random access (for showing lines), with the package's
// gzip reader: the one the check uses, so the viewer shows the bytes the verdict is about,
// several gzip members included (the browser's DecompressionStream stops after the first).
export async function gunzipToBlob(blob) {
  const chunks = [];
  const keep = (bytes) => {
    if (bytes.length === 0) return;
    chunks.push(bytes);
    // Group small chunks so the Blob does not hold millions of parts.
    if (chunks.length > 256) {
      const b = new Blob(chunks);
      chunks.length = 0;
      chunks.push(b);
    }
  };
  const gz = new Gunzip();
  try {
    const reader = blob.stream().getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      keep(gz.push(value));
    }
    keep(gz.finish());
  } finally {
    gz.free();
  }
  return new Blob(chunks);
}
