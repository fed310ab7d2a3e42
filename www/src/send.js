// The one place the page sends data anywhere: an explicit POST of the checked bytes to the
// write endpoint the user typed, with the token from the form (never stored).

export function writeUrl(base, { org, bucket, precision }) {
  const u = new URL(base);
  if (!/\/api\/v2\/write\/?$/.test(u.pathname)) u.pathname = `${u.pathname.replace(/\/+$/, '')}/api/v2/write`;
  u.searchParams.set('org', org);
  u.searchParams.set('bucket', bucket);
  u.searchParams.set('precision', precision);
  return u;
}

export async function send({ url, org, bucket, token, precision, gzip, body, timeoutMs = 120000 }) {
  let u;
  try {
    u = writeUrl(url, { org, bucket, precision });
  } catch {
    throw new Error(`“${url}” is not a URL`);
  }
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
