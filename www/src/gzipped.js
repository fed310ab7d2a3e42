// Whether a file the page is given is gzip, when nobody said: its name ends in .gz or .gzip,
// or it starts with gzip's magic bytes (a gzip file saved under another name). One rule for
// the page (which shows small plain files in the editor) and the check worker (which sends
// Content-Encoding: gzip for it); no module imports, so the page loads it without the engine.

/** `head`: the file's first two bytes (a Uint8Array or an ArrayBuffer). */
export function looksGzipped(name, head) {
  const b = head instanceof Uint8Array ? head : new Uint8Array(head);
  return /\.gz(ip)?$/i.test(name || '') || (b[0] === 0x1f && b[1] === 0x8b);
}
