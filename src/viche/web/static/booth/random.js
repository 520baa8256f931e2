// Randomness for the booth. Every function that needs randomness takes an `rng` with one
// method, randomZq(q) -> a uniform BigInt in [0, q): the system's CSPRNG in a real booth,
// recorded values in the tests (byte-for-byte vectors written by the Python protocol).

import { BoothError, CODES } from "./errors.js";
import { bytesToBigInt } from "./hash.js";

/** crypto.getRandomValues with rejection sampling (available in Workers and outside
 * secure contexts, unlike crypto.subtle). The system's bytes are drawn 4 KiB at a time (a
 * ballot takes about 1,100 exponents: one call each cost more than the rest of the
 * drawing), each byte used once, the buffer wiped as it is used. */
export class SystemRandom {
  #pool = new Uint8Array(4096);
  #used = this.#pool.length;
  #shape = new Map(); // q -> [bytes, excess bits]

  #bytes(n) {
    if (this.#used + n > this.#pool.length) {
      if (!globalThis.crypto?.getRandomValues) {
        throw new BoothError(CODES.UNSUPPORTED, "this browser has no cryptographic random generator");
      }
      globalThis.crypto.getRandomValues(this.#pool);
      this.#used = 0;
    }
    const out = this.#pool.slice(this.#used, this.#used + n);
    this.#pool.fill(0, this.#used, this.#used + n);
    this.#used += n;
    return out;
  }

  randomZq(q) {
    let shape = this.#shape.get(q);
    if (!shape) {
      const bits = q.toString(2).length;
      const n = Math.ceil(bits / 8);
      shape = [n, BigInt(n * 8 - bits)];
      this.#shape.set(q, shape);
    }
    const [n, excess] = shape;
    for (;;) {
      const x = bytesToBigInt(this.#bytes(n)) >> excess;
      if (x < q) return x;
    }
  }
}

/** Replays given exponents in order (decimal strings or BigInt): the randomness a Python
 * vector recorded, or the draws the pool planned for one question. */
export class ReplayRandom {
  constructor(values) {
    this.values = values.map((v) => BigInt(v));
    this.used = 0;
  }

  randomZq(q) {
    if (this.used >= this.values.length) {
      throw new BoothError(CODES.PROTOCOL, "recorded randomness exhausted");
    }
    const x = this.values[this.used++];
    if (x < 0n || x >= q) throw new BoothError(CODES.PROTOCOL, "recorded randomness outside Z_q");
    return x;
  }

  /** Throws unless every recorded value was used. */
  finish() {
    if (this.used !== this.values.length) {
      throw new BoothError(
        CODES.PROTOCOL,
        `${this.values.length - this.used} recorded random value(s) left unused`,
      );
    }
  }
}
