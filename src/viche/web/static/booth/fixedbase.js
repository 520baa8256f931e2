// Fixed-base exponentiation with precomputed tables (a "comb" of windows), and the
// simultaneous product of several fixed-base powers (multi-exponentiation).
//
// For a base b, exponents below 2^bits and a window of w bits, the table holds
// b^(d * 2^(w k)) for every window k < ceil(bits / w) and digit 1 <= d < 2^w. Then
// b^e = prod_k table[k][digit_k(e)]: one modular multiplication per non-zero window and no
// squaring at all. With w = 8 and a 256-bit q that is at most 32 multiplications instead of
// about 300 for square-and-multiply. A product g^a y^b of two tabulated bases is one
// accumulation over both tables (the multi-exponentiation of the issue: the bases g and y
// repeat in every proof, so every commitment of a ballot is such a product; see ballot.js).

import { mod } from "./group.js";

/** The window width for exponents of `bits` bits: 8 for the 256-bit q of BELENIOS-2048
 * (tables of about 2 MB per base), 6 for the 2047-bit q of RFC-3526-2048 (about 6 MB). */
export function defaultWindow(bits) {
  return bits <= 512 ? 8 : 6;
}

export class FixedBase {
  /** Tables of `base` mod p for exponents below 2^bits (w-bit windows). */
  constructor(base, p, bits, window = null) {
    const w = window ?? defaultWindow(bits);
    if (!Number.isInteger(w) || w < 1 || w > 16) throw new RangeError("window of 1 to 16 bits");
    this.base = base;
    this.p = p;
    this.bits = bits;
    this.w = w;
    this.windows = Math.ceil(bits / w);
    this.size = 1 << w;
    const table = new Array(this.windows * this.size);
    let start = mod(base, p);
    for (let k = 0; k < this.windows; k++) {
      const row = k * this.size;
      table[row] = 1n;
      let acc = start;
      for (let d = 1; d < this.size; d++) {
        table[row + d] = acc;
        acc = (acc * start) % p;
      }
      start = acc; // start^(2^w)
    }
    this.table = table;
  }

  /** The window digits of e (least significant first); e must lie in [0, 2^bits). Cut
   * from one hexadecimal string when the window is a multiple of 4 bits (no BigInt made
   * per window), from a binary one otherwise. */
  digits(e) {
    if (e < 0n || e >> BigInt(this.bits) !== 0n) {
      throw new RangeError(`exponent outside [0, 2^${this.bits})`);
    }
    const out = new Array(this.windows).fill(0);
    const w = this.w;
    const hex = w % 4 === 0;
    const text = e.toString(hex ? 16 : 2);
    const step = hex ? w / 4 : w;
    for (let k = 0, end = text.length; end > 0; k++, end -= step) {
      out[k] = parseInt(text.slice(Math.max(0, end - step), end), hex ? 16 : 2);
    }
    return out;
  }

  /** base^e mod p. */
  pow(e) {
    return multiPow([this], [e]);
  }
}

/** prod_i bases[i]^exps[i] mod p for FixedBase tables of the same p. */
export function multiPow(bases, exps) {
  const p = bases[0].p;
  let acc = 1n;
  let started = false;
  for (let i = 0; i < bases.length; i++) {
    const fb = bases[i];
    const digits = fb.digits(exps[i]);
    const table = fb.table;
    const size = fb.size;
    for (let k = 0; k < digits.length; k++) {
      const d = digits[k];
      if (d === 0) continue;
      const v = table[k * size + d];
      acc = started ? (acc * v) % p : v;
      started = true;
    }
  }
  return acc;
}
