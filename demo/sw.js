// Service worker of the rxsync demo: keeps the app shell (HTML, CSS, JS) in Cache Storage so
// the page loads, and its outbox is read back from IndexedDB, even when the browser is offline.
// Only shell files are answered from here; API requests (/todos, /__faults, ...) are never
// touched, so the sync engine always talks to the real network.
// demo/build.ts fills in the version (a hash of the shell) and the file list.
const VERSION = '__VERSION__';
const SHELL = __SHELL__;
const CACHE = `rxsync-demo-shell-${VERSION}`;

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(SHELL))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter((name) => name.startsWith('rxsync-demo-shell-') && name !== CACHE).map((name) => caches.delete(name))))
      .then(() => self.clients.claim()),
  );
});

const shellPaths = new Set(SHELL.map((path) => new URL(path, self.registration.scope).pathname));

// Cache first: the shell of this build is in the cache from install on. A new build comes
// with a new sw.js, which the browser picks up on the next navigation.
self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== 'GET' || url.origin !== self.location.origin || !shellPaths.has(url.pathname)) return;
  event.respondWith(
    caches
      .open(CACHE)
      .then((cache) => cache.match(event.request, { ignoreSearch: true }))
      .then((cached) => cached ?? fetch(event.request)),
  );
});
