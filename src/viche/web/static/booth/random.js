// Randomness for the booth. Every function that needs randomness takes an `rng` with one
// method, randomZq(q) -> a uniform BigInt in [0, q): the system's CSPRNG in a real booth,
// recorded values in the tests (byte-for-byte vectors written by the Python protocol).

import { BoothError, CODES } from "./errors.js";
import { bytesToBigInt } from "./hash.js";

/** crypto.getRandomValues with rejection sampling (available in Workers and outside
 * secure contexts, unlike crypto.subtle). */
export class SystemRandom {
  randomZq(q) {
    if (!globalThis.crypto?.getRandomValues) {
      throw new BoothError(CODES.UNSUPPORTED, "this browser has no cryptographic random generator");
    }
    const bits = q.toString(2).length;
    const bytes = new Uint8Array(Math.ceil(bits / 8));
    const excess = BigInt(bytes.length * 8 - bits);
    for (;;) {
      globalThis.crypto.getRandomValues(bytes);
      const x = bytesToBigInt(bytes) >> excess;
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
