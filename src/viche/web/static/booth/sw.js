// The booth's service worker (scope /booth/): once the booth has been loaded, it loads
// again without a network. Its own files and the election data it fetched come from the
// network when there is one (and are kept), from the cache when there is none. Nothing
// else is kept: never a POST (ballots, audits), never a credential or a choice.

const CACHE = "viche-booth-2";
// every file of the booth (tests/booth/test_booth_weight.py checks this list)
const FILES = [
  "./", "booth.js", "ballot.js", "busy.js", "credential.js", "election.js", "errors.js",
  "fixedbase.js", "group.js", "hash.js", "json.js", "offline.js", "pool.js", "qrcanvas.js",
  "qrdecode.js", "qrworker.js", "random.js", "scan.js", "worker.js", "../common/i18n.js",
  "../common/notopen.js", "../common/qr.js", "../common/style.css",
  "../favicon.svg",
];
// the public election data the booth reads: the election and its setup objects
const DATA = /^\/api\/v1\/elections\/[1-9A-HJ-NP-Za-km-z]{14,64}(\/objects\/[A-Za-z0-9+/=_-]+)?$/;

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(FILES)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((names) => Promise.all(names.filter((n) => n !== CACHE).map((n) => caches.delete(n))))
      .then(() => self.clients.claim()),
  );
});

async function fresh(request, key) {
  const cache = await caches.open(CACHE);
  try {
    const answer = await fetch(request);
    if (answer.ok) await cache.put(key, answer.clone());
    return answer;
  } catch (exc) {
    const kept = await cache.match(key, { ignoreSearch: true });
    if (kept) return kept;
    throw exc;
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  const scope = new URL(self.registration.scope).pathname; // "/booth/"
  if (request.mode === "navigate" && url.pathname === scope) {
    event.respondWith(fresh(request, scope)); // /booth/?kiosk=1 too
  } else if (DATA.test(url.pathname) || FILES.some((f) => new URL(f, self.registration.scope).pathname === url.pathname)) {
    event.respondWith(fresh(request, url.pathname));
  }
});
