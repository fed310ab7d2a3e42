// Offline support: every file of the build is cached on install and served from the cache
// first. The build fills in VERSION (a hash of all files) and ASSETS; a new build makes a new
// cache and drops the old one. Requests to other origins (the optional "Send") pass through.
const VERSION = '__VERSION__';
const ASSETS = __ASSETS__;
const CACHE = `linegate-www-${VERSION}`;

self.addEventListener('install', (e) => {
  e.waitUntil(
    caches
      .open(CACHE)
      .then((c) => c.addAll(ASSETS.map((a) => new Request(a, { cache: 'reload' }))))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (e) => {
  e.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith('linegate-www-') && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener('fetch', (e) => {
  const url = new URL(e.request.url);
  if (e.request.method !== 'GET' || url.origin !== self.location.origin) return;
  e.respondWith(
    caches.open(CACHE).then(async (c) => {
      const key = url.pathname.endsWith('/') ? new URL('./', url).href : e.request;
      const hit = await c.match(key, { ignoreSearch: true });
      return hit || fetch(e.request);
    }),
  );
});
