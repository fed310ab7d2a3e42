// Number, size and time formatting shared by the page.

export function int(n) {
  if (n === null || n === undefined) return '—';
  return (typeof n === 'bigint' ? n : BigInt(Math.round(Number(n)))).toLocaleString('en-US');
}

export function bytes(n) {
  n = Number(n);
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let u = -1;
  do {
    n /= 1024;
    u++;
  } while (n >= 1024 && u < units.length - 1);
  return `${n.toFixed(n < 10 ? 2 : 1)} ${units[u]}`;
}

// Nanoseconds since 1970 (BigInt or number) as an RFC 3339 UTC time with all 9 digits.
export function nsToISO(ns) {
  const v = BigInt(ns);
  const ms = v / 1000000n - (v % 1000000n < 0n ? 1n : 0n);
  const sub = ((v % 1000000000n) + 1000000000n) % 1000000000n;
  const d = new Date(Number(ms));
  if (Number.isNaN(d.getTime())) return `${v} ns`;
  const iso = d.toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ (or ±YYYYYY for far years)
  return `${iso.slice(0, iso.indexOf('.'))}.${sub.toString().padStart(9, '0')}Z`;
}

// Shortest readable span between two ns times.
export function span(ns) {
  let s = Number(BigInt(ns)) / 1e9;
  if (s < 1e-3) return `${Number(BigInt(ns))} ns`;
  if (s < 1) return `${(s * 1000).toFixed(1)} ms`;
  if (s < 120) return `${s.toFixed(1)} s`;
  if (s < 7200) return `${(s / 60).toFixed(1)} min`;
  if (s < 172800) return `${(s / 3600).toFixed(1)} h`;
  if (s < 3 * 365 * 86400) return `${(s / 86400).toFixed(1)} days`;
  return `${(s / (365.25 * 86400)).toFixed(1)} years`;
}

// "16M", "512k", "1G", "1000" → bytes (KiB-based suffixes); "" → undefined; NaN on error.
export function parseSize(s) {
  s = s.trim();
  if (s === '') return undefined;
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]?)(?:i?b)?$/i.exec(s);
  if (!m) return NaN;
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2].toLowerCase()];
  return Math.floor(Number(m[1]) * mult);
}

export function text(v) {
  // The package gives names as strings, or as bytes when they are not valid UTF-8.
  if (typeof v === 'string') return v;
  if (v instanceof Uint8Array) return new TextDecoder().decode(v);
  return String(v);
}
