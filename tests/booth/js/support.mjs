// Shared by the booth's JavaScript tests and the bench: where the modules are, the vectors
// the Python protocol wrote, and Node worker threads shaped like browser Workers.

import { webcrypto } from "node:crypto";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { Worker } from "node:worker_threads";

// Node 18 (Debian 12's nodejs) has no global crypto; browsers and Node >= 19 do.
globalThis.crypto ??= webcrypto;

export const STATIC = new URL("../../../src/viche/web/static/booth/", import.meta.url);

/** The vectors of tests/vectors/booth/make_vectors.py, from $BOOTH_VECTORS (pytest writes
 * them: tests/booth/test_js_crypto.py). Missing vectors are an error, never a skip. */
export function vectors() {
  const dir = process.env.BOOTH_VECTORS;
  if (!dir) {
    throw new Error(
      "BOOTH_VECTORS is not set: run through pytest tests/booth, or write them with tests/vectors/booth/make_vectors.py DIR",
    );
  }
  const out = {};
  for (const name of readdirSync(dir).filter((f) => f.endsWith(".json"))) {
    out[name.replace(/\.json$/, "")] = JSON.parse(readFileSync(join(dir, name), "utf8"));
  }
  return out;
}

/** A Node worker thread running worker.js (or `url`), with the browser Worker's interface. */
export function nodeWorker(url = new URL("worker.js", STATIC)) {
  const worker = new Worker(url);
  return {
    postMessage: (message) => worker.postMessage(message),
    addEventListener: (type, listener) =>
      worker.on(type, (value) => listener(type === "message" ? { data: value } : value)),
    terminate: () => worker.terminate(),
  };
}
