// The one place the page sends data anywhere: an explicit POST of the checked bytes to the
// write endpoint the user typed, with the token from the form (never stored).

// `endpoint` is the path chosen on the page: v2's `/api/v2/write` (org, bucket) or v1's
// `/write` (db, rp). The URL may be a server root or already end in either write path (one
// typed before switching): that path is replaced by the chosen one.
export function writeUrl(base, { endpoint = '/api/v2/write', org, bucket, db, rp, precision, partial = false }) {
  const u = new URL(base);
  u.pathname = u.pathname.replace(/\/+$/, '').replace(/\/api\/v2\/write$|\/write$/, '') + endpoint;
  if (endpoint === '/write') {
    u.searchParams.set('db', db);
    if (rp) u.searchParams.set('rp', rp);
  } else {
    u.searchParams.set('org', org);
    u.searchParams.set('bucket', bucket);
  }
  u.searchParams.set('precision', precision);
  // A partial write (spec Part D.1): the server keeps the good lines of a bad batch.
  if (partial) u.searchParams.set('accept_partial', 'true');
  return u;
}

export async function send({ url, endpoint, org, bucket, db, rp, token, precision, partial, gzip, body, timeoutMs = 120000 }) {
  let u;
  try {
    u = writeUrl(url, { endpoint, org, bucket, db, rp, precision, partial });
  } catch {
    throw new Error(`“${url}” is not a URL`);
  }
  // `Token` at both endpoints: v1's /write reads `Token [user:]secret` too (spec Part C).
  const headers = {
    Authorization: `Token ${token}`,
    'Content-Type': 'text/plain; charset=utf-8',
  };
  if (gzip) headers['Content-Encoding'] = 'gzip';
  const ctl = new AbortController();
  const t = setTimeout(() => ctl.abort(), timeoutMs);
  try {
    const res = await fetch(u, {
      method: 'POST',
      headers,
      body, // a File or Blob: the browser streams it, the page never copies it
      mode: 'cors',
      credentials: 'omit',
      cache: 'no-store',
      referrerPolicy: 'no-referrer',
      signal: ctl.signal,
    });
    return { status: res.status, statusText: res.statusText, url: u.origin + u.pathname, body: await res.text() };
  } catch (err) {
    throw new Error(err.name === 'AbortError' ? 'No answer within 2 minutes' : `The request failed (${err.message})`);
  } finally {
    clearTimeout(t);
  }
}
