// The spool (SPOOL=fallback|always): accepted batches kept durably in Durable Objects with
// SQLite storage, one per destination, and delivered to BACKEND_URL in order by each
// object's alarm. See worker/README.md, "Spool". One job per file under spool/:
//
// - write.js:   the write path (spool or forward) and a write's destination;
// - object.js:  the Durable Object `Spool` (holding, the delivery loop, the index object);
// - deliver.js: one delivery attempt, bounded in time, decided by the package's policy;
// - store.js:   its SQL;
// - secrets.js: the credentials kept with a batch, sealed under SPOOL_KEY;
// - admin.js:   GET /spool, POST /spool/replay|drop.

export { spoolWrite, destination } from "./spool/write.js";
export { Spool } from "./spool/object.js";
export { isSpoolAdmin, spoolAdmin } from "./spool/admin.js";
