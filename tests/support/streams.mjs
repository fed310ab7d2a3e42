// Web streams over a body in pieces, as a runtime hands bodies over (tests and benchmarks).

/** A default stream of `size`-byte chunks; `onPull(offset)` sees each pull. */
export function webStream(bytes, size, onPull) {
  let i = 0;
  return new ReadableStream({
    pull(ctl) {
      onPull?.(i);
      if (i >= bytes.length) return ctl.close();
      ctl.enqueue(bytes.slice(i, i + size));
      i += size;
    },
  });
}

/**
 * A byte stream (what a request or response body is) of at most `size` bytes per read. A
 * reader that brings its own buffer gets it filled (`counts.byob` counts those reads); one
 * that does not gets chunks. `sloppy` closes without answering the pending read
 * (`respond(0)`), which the streams standard lets leave that read pending for ever.
 */
export function byteStream(bytes, size, { counts, sloppy = false } = {}) {
  let i = 0;
  return new ReadableStream({
    type: "bytes",
    pull(ctl) {
      if (i >= bytes.length) {
        ctl.close();
        if (!sloppy) ctl.byobRequest?.respond(0);
        return;
      }
      const req = ctl.byobRequest;
      if (req) {
        if (counts) counts.byob = (counts.byob ?? 0) + 1;
        const n = Math.min(size, req.view.byteLength, bytes.length - i);
        new Uint8Array(req.view.buffer, req.view.byteOffset, n).set(bytes.subarray(i, i + n));
        req.respond(n);
        i += n;
      } else {
        ctl.enqueue(bytes.slice(i, i + size));
        i += size;
      }
    },
  });
}
