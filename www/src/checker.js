// Owns the check worker. The wasm module is compiled once here and handed to each worker, so
// cancelling (terminating the worker) and starting again costs milliseconds.

export class Checker {
  constructor(wasmUrl) {
    this.module = WebAssembly.compileStreaming(fetch(wasmUrl));
    this.worker = null;
    this.ready = null;
    this.pending = new Map(); // id -> { resolve, reject, onProgress }
    this.nextId = 1;
    this.busy = 0; // checks in flight
    this.version = '';
    this.precisions = null; // { endpoint: [{ value, unit, ignoresUnit }] }, once ready
  }

  spawn() {
    const w = new Worker(new URL('./check-worker.js', import.meta.url), { type: 'module' });
    this.worker = w;
    this.ready = new Promise((resolve, reject) => {
      this.readyReject = reject;
      w.onmessage = (e) => {
        const m = e.data;
        if (m.type === 'ready') {
          this.version = m.version;
          this.precisions = m.precisions;
          resolve();
          return;
        }
        const p = this.pending.get(m.id);
        if (!p) return;
        if (m.type === 'progress') {
          if (p.onProgress) p.onProgress(m);
          return;
        }
        this.pending.delete(m.id);
        if (p.check) this.busy--;
        if (m.type === 'error') p.reject(new Error(m.message));
        else p.resolve(m);
      };
      w.onerror = (e) => {
        const err = new Error(e.message || 'the checker stopped');
        reject(err);
        this.failAll(err);
      };
    });
    this.ready.catch(() => {}); // a cancelled start is the caller's to see, not unhandled
    this.module.then((module) => w.postMessage({ type: 'init', module }), (err) => this.failAll(err));
    return this.ready;
  }

  failAll(err) {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    this.busy = 0;
  }

  async ensure() {
    if (!this.worker) this.spawn();
    return this.ready;
  }

  request(msg, extra = {}) {
    // Cancelled between the worker's start and this request: nothing would ever answer.
    if (!this.worker) return Promise.reject(cancelledError());
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, ...extra });
      this.worker.postMessage({ ...msg, id });
    });
  }

  // Starts a check; one already running is cancelled first (its promise rejects).
  async check(source, options, onProgress) {
    if (this.busy > 0) this.cancel();
    await this.ensure();
    this.busy++;
    const m = await this.request({ type: 'check', source, options }, { onProgress, check: true });
    return m.result;
  }

  cancel() {
    if (!this.worker) return;
    this.worker.terminate();
    this.worker = null;
    const err = cancelledError();
    // A check still waiting for this worker to start would wait forever on a terminated
    // worker's 'ready': it is cancelled as well.
    this.readyReject(err);
    this.failAll(err);
  }

  async lines(from, count) {
    await this.ensure();
    return this.request({ type: 'lines', from, count });
  }
}

function cancelledError() {
  const err = new Error('cancelled');
  err.cancelled = true;
  return err;
}
