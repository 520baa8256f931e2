// A pool of crypto workers (worker.js), one per core: tables built once per election in
// every worker, the questions of a ballot spread over the workers. The pool draws all the
// randomness itself, in the order of the Python protocol (ballot.js prepareBallot), so the
// result does not depend on the number of workers: same randomness, same bytes.
//
// The private credential stays in the thread that owns the pool: it derives the secret,
// the public credential (g^s) and the signature; the workers see only the answers' tasks.

import { BoothError } from "./errors.js";
import { parseElection } from "./election.js";
import { answerPrefix, drawCount, powgPlain, prepareBallot, signBallot } from "./ballot.js";
import { credentialSecret } from "./credential.js";
import { SystemRandom } from "./random.js";

/** A browser module Worker running worker.js. */
export function browserWorker() {
  return new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
}

function defaultSize() {
  const n = globalThis.navigator?.hardwareConcurrency ?? 2;
  return Math.max(1, Math.min(4, n));
}

export class BoothPool {
  /** `spawn()` returns a worker with postMessage and addEventListener("message") (a browser
   * Worker by default; tests pass an adapter of Node's worker_threads). `window` overrides
   * the width of the table windows (fixedbase.js: 8 bits for BELENIOS-2048; 10 makes a
   * ballot about 20% faster for tables about 3 times as long to build and as large). */
  constructor({ size = defaultSize(), spawn = browserWorker, window } = {}) {
    this.window = window;
    this.workers = Array.from({ length: size }, () => spawn());
    this.pending = new Map();
    this.nextId = 1;
    this.elections = new Map();
    this.derived = null; // {key, secret, credential}: the last credential derived
    for (const w of this.workers) {
      w.addEventListener("message", (event) => this.#settle(event.data));
      w.addEventListener("error", (event) => this.#failAll(event));
    }
  }

  // A worker that cannot load or dies: every pending call fails (no promise left hanging).
  #failAll(event) {
    const message = event?.message ?? "a crypto worker failed";
    for (const { reject } of this.pending.values())
      reject(new BoothError("V0000", `worker error: ${message}`));
    this.pending.clear();
  }

  #settle(reply) {
    const entry = this.pending.get(reply.id);
    if (!entry) return;
    this.pending.delete(reply.id);
    if (reply.ok) entry.resolve(reply);
    else entry.reject(new BoothError(reply.error.code, reply.error.message, reply.error.where));
  }

  #call(worker, message) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ ...message, id });
    });
  }

  #election(text) {
    let election = this.elections.get(text);
    if (!election) {
      election = parseElection(text);
      this.elections.clear();
      this.elections.set(text, election);
    }
    return election;
  }

  /** Build the tables of the election in every worker (in parallel); resolves to the
   * wall-clock milliseconds it took and each worker's own time. */
  async buildTables(electionText) {
    const t0 = performance.now();
    this.#election(electionText);
    const replies = await Promise.all(
      this.workers.map((w) =>
        this.#call(w, { op: "tables", election: electionText, window: this.window }),
      ),
    );
    return { ms: performance.now() - t0, workers: replies.map((r) => r.ms) };
  }

  /** Derive the credential's secret and public credential (PBKDF2 and g^s, some tens of
   * milliseconds) and keep them for the next ballots of this election: the booth calls
   * this once the voter has entered her credential, so that Encrypt does not wait for it. */
  deriveCredential(electionText, privcred) {
    const election = this.#election(electionText);
    const key = `${election.uuid}|${privcred}`;
    if (this.derived?.key !== key) {
      const secret = credentialSecret(election.group, privcred, election.uuid);
      this.derived = { key, secret, credential: powgPlain(election, secret) };
    }
    return this.derived;
  }

  /** Forget the derived credential (once a ballot is cast). */
  forgetCredential() {
    this.derived = null;
  }

  /** Like ballot.js encryptBallot, on the workers: {ballot, tracker, randomness}. */
  async encryptBallot(electionText, privcred, choices, rng = new SystemRandom()) {
    const election = this.#election(electionText);
    const known = this.derived?.key === `${election.uuid}|${privcred}` ? this.derived : null;
    const { secret, draws, signatureW } = prepareBallot(
      election, privcred, choices, rng, known?.secret,
    );
    const credential = known?.credential ?? powgPlain(election, secret);
    const s0 = answerPrefix(election, credential);
    // Longest tasks first, each to the least loaded worker.
    const order = draws
      .map((_, i) => i)
      .sort((a, b) => drawCount(election.questions[b]) - drawCount(election.questions[a]));
    const loads = this.workers.map(() => 0);
    const batches = this.workers.map(() => []);
    for (const index of order) {
      const k = loads.indexOf(Math.min(...loads));
      loads[k] += drawCount(election.questions[index]);
      batches[k].push({ index, s0, plaintext: choices[index], draws: draws[index] });
    }
    const replies = await Promise.all(
      batches.map((tasks, k) =>
        tasks.length
          ? this.#call(this.workers[k], {
              op: "answers",
              election: electionText,
              window: this.window,
              tasks,
            })
          : { results: [] },
      ),
    );
    const results = new Array(draws.length);
    for (const reply of replies) for (const r of reply.results) results[r.index] = r;
    return signBallot(election, secret, credential, results, signatureW, (e) =>
      powgPlain(election, e),
    );
  }

  terminate() {
    this.derived = null;
    for (const w of this.workers) w.terminate();
    for (const { reject } of this.pending.values()) reject(new Error("pool terminated"));
    this.pending.clear();
  }
}
