// Narrowing on `action` removes the nullable fields (checked by toolchains.test.mjs with tsc;
// each @ts-expect-error must be an error, or the compile fails).
import { checkWrite, validate, type ErrorHeaders } from "linegate";

const val = validate("m f=1");
// @ts-expect-error: before narrowing, headers may be null
const h0: ErrorHeaders = val.headers;
// @ts-expect-error: before narrowing, code may be null
const c0: string = val.code;
if (val.action === "reject") {
  const h: ErrorHeaders = val.headers;
  const c: string = val.code;
  const s: 400 | 413 | 500 = val.status;
  // @ts-expect-error: a rejection is never 204
  const s204: 204 = val.status;
  void [h, c, s, s204];
} else {
  const h: null = val.headers;
  const c: null = val.code;
  const l: null = val.line;
  const s: 204 = val.status;
  const b: "" = val.body;
  void [h, c, l, s, b];
}

const v = checkWrite({ body: "m f=1" });
if (v.action === "reject") {
  const s: 400 | 401 | 404 | 413 | 500 = v.status;
  const code: string = v.headers["X-Platform-Error-Code"];
  void [s, code];
} else {
  // @ts-expect-error: a forward has no status
  void v.status;
}
// @ts-expect-error: now is a bigint
checkWrite({ body: "", now: "5" });
// @ts-expect-error: the body is required
checkWrite({ query: "" });
void [h0, c0];
