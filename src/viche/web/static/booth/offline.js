// The booth without a network: the service worker (sw.js) that keeps the booth and the
// election data, and the queue of ballots encrypted and signed while offline. A queued
// ballot holds only what the server will see anyway: the election, the login (never its
// secret), the encrypted and signed ballot, its tracker and the close time. Never the
// private credential, never the choices.

const KEY = "viche.booth.queue";
const CACHE = "viche-booth-2"; // the same as in sw.js (tests/booth/test_booth_weight.py checks it)

/** Register the service worker (where the browser has one) once the first page has
 * loaded, so that its copy of the whole booth does not slow that page; failures are
 * silent: the booth then simply needs the network. */
export function keepOffline() {
  if (!("serviceWorker" in navigator)) return;
  const register = () => navigator.serviceWorker.register("sw.js", { scope: "./" }).catch(() => {});
  if (document.readyState === "complete") register();
  else window.addEventListener("load", register, { once: true });
}

/** Keep the election's data the booth has just read, for a later visit without network
 * (the service worker may not control this first visit yet). */
export function keepElection(entries) {
  if (!globalThis.caches) return;
  caches.open(CACHE).then((cache) =>
    Promise.all(
      entries.map(([url, text]) =>
        cache.put(new URL(url, location.href).pathname, new Response(text, {
          headers: { "Content-Type": "application/json" },
        })),
      ),
    ),
  ).catch(() => {});
}

function read() {
  try {
    const found = JSON.parse(localStorage.getItem(KEY) ?? "[]");
    return Array.isArray(found) ? found : [];
  } catch {
    return [];
  }
}

function write(list) {
  try {
    if (list.length) localStorage.setItem(KEY, JSON.stringify(list));
    else localStorage.removeItem(KEY);
  } catch {
    // private mode or full: the ballot stays in the page's memory only
  }
}

/** The queued ballot of this election and login, if any. */
export function queued(uuid, login) {
  return read().find((q) => q.uuid === uuid && (login === undefined || q.login === login)) ?? null;
}

/** Queue a ballot (replacing any earlier one of the same election and login). */
export function enqueue(entry) {
  const { uuid, login, ballot, tracker, close } = entry;
  write([...read().filter((q) => !(q.uuid === uuid && q.login === login)), { uuid, login, ballot, tracker, close }]);
}

export function dequeue(uuid, login) {
  write(read().filter((q) => !(q.uuid === uuid && q.login === login)));
}

/** Forget every queued ballot (the kiosk, between two voters). */
export function clearQueue() {
  write([]);
}
