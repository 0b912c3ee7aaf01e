// sw.js: spotlight.cam's service worker. Precaches the app shell (the
// build writes the list below), answers navigations from the network
// first and from the cached index.html when offline, serves the hashed
// assets from the cache. Never touches the API or the Socket.IO endpoint.
/* eslint-env serviceworker */
const VERSION = 'dev'; /* __SC_VERSION__ */
const PRECACHE = ['/index.html']; /* __SC_PRECACHE__ */
const CACHE = `spotlight-shell-${VERSION}`;

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(PRECACHE.map((u) => new Request(u, { cache: 'reload' }))))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith('spotlight-shell-') && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

function bypass(url) {
  return url.pathname.startsWith('/api/') || url.pathname === '/api' || url.pathname.startsWith('/socket.io/');
}

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin || bypass(url)) return;

  if (req.mode === 'navigate') {
    // Network first: a deploy shows at once; offline, the cached shell.
    event.respondWith(
      fetch(req).catch(async () => {
        const cache = await caches.open(CACHE);
        return (await cache.match('/index.html')) || Response.error();
      }),
    );
    return;
  }

  // The shell's files: from the cache, else the network (and keep hashed
  // assets loaded later, such as lazily loaded chunks).
  event.respondWith(
    caches.open(CACHE).then(async (cache) => {
      const hit = await cache.match(req, { ignoreSearch: url.pathname.startsWith('/assets/') });
      if (hit) return hit;
      const res = await fetch(req);
      if (res.ok && url.pathname.startsWith('/assets/')) cache.put(req, res.clone());
      return res;
    }),
  );
});
