// A QR code decoder (ISO/IEC 18004, model 2), for browsers without BarcodeDetector: used by
// scan.js through qrworker.js (a Web Worker), loaded only when the voter scans.
//
// image -> grey -> local (adaptive) binarisation -> finder patterns (1:1:3:1:1 runs in rows,
// cross-checked in columns and rows) -> for each plausible triple: module count from the
// distances, alignment pattern (version >= 2), perspective transform, module grid (version
// blocks for v >= 7) -> format information (nearest valid of both copies) -> unmask ->
// codewords -> blocks -> Reed-Solomon correction over GF(256) (Berlekamp-Massey, Chien,
// Forney) -> segments (numeric, alphanumeric, byte, kanji, ECI). A mirrored code is read
// transposed. decodeQr never throws: the text, or null.

import { BLOCKS, ECC, MASKS, alignment, rawModules } from "../common/qr.js";

// ------------------------------------------------------------------ tables (the standard's)

// the format's two level bits -> row of qr.js's tables ECC and BLOCKS (01 L, 00 M, 11 Q, 10 H)
const LEVEL = [1, 0, 3, 2];

// BCH codes of the format (15,5) and version (18,6) information
function bch(value, bits, poly, polyBits) {
  let r = value << (polyBits - 1);
  for (let i = bits + polyBits - 2; i >= polyBits - 1; i--) if ((r >>> i) & 1) r ^= poly << (i - polyBits + 1);
  return (value << (polyBits - 1)) | r;
}
const FORMATS = Array.from({ length: 32 }, (_, d) => bch(d, 5, 0x537, 11) ^ 0x5412);
const VERSIONS = Array.from({ length: 34 }, (_, i) => bch(i + 7, 6, 0x1f25, 13));

function popcount(x) {
  let n = 0;
  for (; x; x &= x - 1) n++;
  return n;
}

/** The index of the valid word nearest to one of `reads` (Hamming distance <= 3), or -1. */
function nearest(table, reads) {
  let best = -1;
  let bestD = 4;
  for (let i = 0; i < table.length; i++) {
    for (const r of reads) {
      const d = popcount(table[i] ^ r);
      if (d < bestD) {
        bestD = d;
        best = i;
      }
    }
  }
  return best;
}

// ------------------------------------------------------------------ GF(256), Reed-Solomon

const EXP = new Uint8Array(512);
const LOG = new Uint8Array(256);
for (let i = 0, x = 1; i < 255; i++) {
  EXP[i] = x;
  LOG[x] = i;
  x = (x << 1) ^ (x & 0x80 ? 0x11d : 0);
}
for (let i = 255; i < 512; i++) EXP[i] = EXP[i - 255];

const mul = (a, b) => (a && b ? EXP[LOG[a] + LOG[b]] : 0);
const div = (a, b) => (a ? EXP[LOG[a] + 255 - LOG[b]] : 0);

/** p(x) with coefficients in ascending degree, at x. */
function evalAsc(p, x) {
  let r = 0;
  for (let i = p.length - 1; i >= 0; i--) r = mul(r, x) ^ p[i];
  return r;
}

/** Corrects `block` (data then ecc codewords, first codeword = highest degree) in place
 * for up to nEcc/2 errors; false when it cannot. Generator roots: alpha^0 .. alpha^(nEcc-1). */
export function rsCorrect(block, nEcc) {
  const n = block.length;
  const S = new Array(nEcc);
  let clean = true;
  for (let j = 0; j < nEcc; j++) {
    let s = 0;
    const a = EXP[j];
    for (let i = 0; i < n; i++) s = mul(s, a) ^ block[i];
    S[j] = s;
    if (s) clean = false;
  }
  if (clean) return true;
  // Berlekamp-Massey: the error locator C(x), ascending degree, C[0] = 1
  let C = [1];
  let B = [1];
  let L = 0;
  let m = 1;
  let b = 1;
  for (let k = 0; k < nEcc; k++) {
    let d = S[k];
    for (let i = 1; i <= L; i++) d ^= mul(C[i] || 0, S[k - i]);
    if (d === 0) {
      m++;
      continue;
    }
    const coef = div(d, b);
    const next = C.slice();
    for (let i = 0; i < B.length; i++) {
      while (next.length <= i + m) next.push(0);
      next[i + m] ^= mul(coef, B[i]);
    }
    if (2 * L <= k) {
      B = C;
      L = k + 1 - L;
      b = d;
      m = 1;
    } else m++;
    C = next;
  }
  while (C.length > 1 && C[C.length - 1] === 0) C.pop();
  if (C.length - 1 !== L || 2 * L > nEcc) return false;
  // Chien search: position p (degree n-1-p) is wrong when C(alpha^-(n-1-p)) = 0
  const where = [];
  for (let p = 0; p < n; p++) {
    const deg = n - 1 - p;
    if (evalAsc(C, EXP[(255 - (deg % 255)) % 255]) === 0) where.push(p);
  }
  if (where.length !== L) return false;
  // Forney: e = X * Omega(X^-1) / C'(X^-1), Omega = S(x) C(x) mod x^nEcc
  const omega = new Array(nEcc).fill(0);
  for (let i = 0; i < C.length; i++) for (let j = 0; j + i < nEcc; j++) omega[i + j] ^= mul(C[i], S[j]);
  const deriv = [];
  for (let i = 1; i < C.length; i++) deriv.push(i % 2 ? C[i] : 0);
  for (const p of where) {
    const deg = n - 1 - p;
    const X = EXP[deg % 255];
    const Xinv = EXP[(255 - (deg % 255)) % 255];
    const den = evalAsc(deriv, Xinv);
    if (den === 0) return false;
    block[p] ^= mul(X, div(evalAsc(omega, Xinv), den));
  }
  for (let j = 0; j < nEcc; j++) {
    let s = 0;
    const a = EXP[j];
    for (let i = 0; i < n; i++) s = mul(s, a) ^ block[i];
    if (s) return false;
  }
  return true;
}

// ------------------------------------------------------------------ module grid -> text

/** The map of the function modules (finders, timing, alignment, format, version) of `v`. */
function functionMap(v) {
  const n = v * 4 + 17;
  const f = new Uint8Array(n * n);
  const fill = (x0, y0, w, h) => {
    for (let y = y0; y < y0 + h; y++) for (let x = x0; x < x0 + w; x++) f[y * n + x] = 1;
  };
  fill(0, 0, 9, 9);
  fill(n - 8, 0, 8, 9);
  fill(0, n - 8, 9, 8);
  fill(6, 0, 1, n);
  fill(0, 6, n, 1);
  const al = alignment(v);
  for (const ay of al) {
    for (const ax of al) {
      if ((ax === 6 && ay === 6) || (ax === 6 && ay === n - 7) || (ax === n - 7 && ay === 6)) continue;
      fill(ax - 2, ay - 2, 5, 5);
    }
  }
  if (v >= 7) {
    fill(n - 11, 0, 3, 6);
    fill(0, n - 11, 6, 3);
  }
  return f;
}

/** The version read from the version blocks of grid `g` (n x n, 1 = dark), or 0. */
function readVersion(g, n) {
  const reads = [0, 0];
  for (let i = 17; i >= 0; i--) {
    const a = n - 11 + (i % 3);
    const b = Math.floor(i / 3);
    reads[0] = (reads[0] << 1) | g[b * n + a];
    reads[1] = (reads[1] << 1) | g[a * n + b];
  }
  const i = nearest(VERSIONS, reads);
  return i < 0 ? 0 : i + 7;
}

/** The text of the QR code whose modules are `g` (row-major, n x n, 1 = dark), or null. */
export function decodeGrid(g, n) {
  if ((n - 17) % 4 !== 0 || n < 21 || n > 177) return null;
  const v = (n - 17) / 4;
  // format: both copies, the nearest valid word
  let a = 0;
  let c = 0;
  const bit = (x, y) => g[y * n + x];
  for (let i = 14; i >= 0; i--) {
    const p = i <= 5 ? [8, i] : i === 6 ? [8, 7] : i === 7 ? [8, 8] : i === 8 ? [7, 8] : [14 - i, 8];
    a = (a << 1) | bit(p[0], p[1]);
    const q = i < 8 ? [n - 1 - i, 8] : [8, n - 15 + i];
    c = (c << 1) | bit(q[0], q[1]);
  }
  const format = nearest(FORMATS, [a, c]);
  if (format < 0) return null;
  const level = LEVEL[format >>> 3];
  const mask = MASKS[format & 7];
  const fixed = functionMap(v);
  const total = Math.floor(rawModules(v) / 8);
  const words = new Uint8Array(total);
  let k = 0;
  for (let right = n - 1; right >= 1; right -= 2) {
    if (right === 6) right = 5;
    for (let vert = 0; vert < n; vert++) {
      const y = ((right + 1) & 2) === 0 ? n - 1 - vert : vert;
      for (let j = 0; j < 2; j++) {
        const x = right - j;
        if (fixed[y * n + x] || k >= total * 8) continue;
        const dark = g[y * n + x] ^ (mask(x, y) ? 1 : 0);
        words[k >>> 3] |= dark << (7 - (k & 7));
        k++;
      }
    }
  }
  // blocks: the short ones first; data interleaved, then ecc interleaved
  const nb = BLOCKS[level][v - 1];
  const ecc = ECC[level][v - 1];
  const nShort = nb - (total % nb);
  const shortLen = Math.floor(total / nb) - ecc;
  const blocks = [];
  for (let i = 0; i < nb; i++) blocks.push(new Uint8Array(shortLen + (i < nShort ? 0 : 1) + ecc));
  let w = 0;
  for (let i = 0; i <= shortLen; i++) {
    for (let b = 0; b < nb; b++) if (i < shortLen || b >= nShort) blocks[b][i] = words[w++];
  }
  for (let i = 0; i < ecc; i++) for (let b = 0; b < nb; b++) blocks[b][blocks[b].length - ecc + i] = words[w++];
  const data = [];
  for (const block of blocks) {
    if (!rsCorrect(block, ecc)) return null;
    for (let i = 0; i < block.length - ecc; i++) data.push(block[i]);
  }
  return segments(data, v);
}

const ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

function bytesToText(bytes, eci) {
  if (eci === 3 || eci === 1 || eci === 0) return String.fromCharCode(...bytes); // ISO-8859-1
  const label = eci === 26 ? "utf-8" : eci === 20 ? "shift_jis" : eci === 22 ? "windows-1251"
    : eci === 21 ? "windows-1250" : eci === 23 ? "windows-1252" : eci === 25 ? "utf-16be"
    : eci >= 4 && eci <= 18 && eci !== 14 ? `iso-8859-${eci - 2}` : "utf-8";
  return new TextDecoder(label, { fatal: true }).decode(new Uint8Array(bytes));
}

/** The text of the data codewords `data` of a version `v` code (its segments), or null when
 * they are not well formed (a count past the end, a digit out of range, bytes that are not
 * of their character set). */
export function segments(data, v) {
  try {
    return readSegments(data, v);
  } catch {
    return null;
  }
}

function readSegments(data, v) {
  let pos = 0;
  const end = data.length * 8;
  const read = (n) => {
    if (pos + n > end) throw new RangeError("past the end");
    let r = 0;
    for (let i = 0; i < n; i++, pos++) r = (r << 1) | ((data[pos >>> 3] >>> (7 - (pos & 7))) & 1);
    return r;
  };
  const size = v < 10 ? 0 : v < 27 ? 1 : 2;
  let text = "";
  let pending = [];
  let eci = -1; // none given: UTF-8 when it is valid UTF-8, else ISO-8859-1
  const flush = () => {
    if (!pending.length) return;
    if (eci === -1) {
      try {
        text += bytesToText(pending, 26);
      } catch {
        text += bytesToText(pending, 3);
      }
    } else text += bytesToText(pending, eci);
    pending = [];
  };
  for (;;) {
    if (end - pos < 4) break;
    const mode = read(4);
    if (mode === 0) break;
    if (mode === 1) {
      flush();
      let count = read([10, 12, 14][size]);
      for (; count >= 3; count -= 3) {
        const d = read(10);
        if (d > 999) return null;
        text += String(d).padStart(3, "0");
      }
      if (count === 2) {
        const d = read(7);
        if (d > 99) return null;
        text += String(d).padStart(2, "0");
      } else if (count === 1) {
        const d = read(4);
        if (d > 9) return null;
        text += String(d);
      }
    } else if (mode === 2) {
      flush();
      let count = read([9, 11, 13][size]);
      for (; count >= 2; count -= 2) {
        const d = read(11);
        if (d >= 45 * 45) return null;
        text += ALNUM[Math.floor(d / 45)] + ALNUM[d % 45];
      }
      if (count === 1) {
        const d = read(6);
        if (d >= 45) return null;
        text += ALNUM[d];
      }
    } else if (mode === 4) {
      const count = read([8, 16, 16][size]);
      for (let i = 0; i < count; i++) pending.push(read(8));
    } else if (mode === 7) {
      flush();
      const first = read(8);
      eci = first < 0x80 ? first : first < 0xc0 ? ((first & 0x3f) << 8) | read(8)
        : first < 0xe0 ? ((first & 0x1f) << 16) | read(16) : -2;
      if (eci === -2) return null;
    } else if (mode === 8) {
      flush();
      const count = read([8, 10, 12][size]);
      const sjis = [];
      for (let i = 0; i < count; i++) {
        const d = read(13);
        const w = Math.floor(d / 0xc0) * 0x100 + (d % 0xc0);
        const code = w + (w < 0x1f00 ? 0x8140 : 0xc140);
        sjis.push(code >>> 8, code & 0xff);
      }
      text += bytesToText(sjis, 20);
    } else if (mode === 3) {
      read(16); // structured append: this symbol's part only
    } else if (mode === 5) {
      // FNC1 in first position: no data
    } else if (mode === 9) {
      read(8);
    } else return null;
  }
  flush();
  return text;
}

// ------------------------------------------------------------------ image -> modules

/** Grey levels (0-255) of an RGBA or grey image {width, height, data}. */
function toGrey(image) {
  const { width: w, height: h, data } = image;
  const size = w * h;
  if (data.length === size) return Uint8Array.from(data);
  if (data.length !== size * 4) return null;
  const grey = new Uint8Array(size);
  for (let i = 0, j = 0; i < size; i++, j += 4) {
    // transparent pixels count as white (a PNG of a code on nothing)
    const a = data[j + 3];
    const y = (data[j] * 77 + data[j + 1] * 150 + data[j + 2] * 29) >> 8;
    grey[i] = (y * a + 255 * (255 - a)) / 255;
  }
  return grey;
}

const BIAS = 2; // grey levels under the local mean to count as dark

/** Each pixel against the mean of a square around it (integral image), so that a shadow or
 * a bright corner on a photo does not swallow half of the code: {bin (1 = dark), thr}. */
function binarizeLocal(grey, w, h) {
  const W = w + 1;
  const sum = new Float64Array(W * (h + 1));
  for (let y = 0; y < h; y++) {
    let row = 0;
    for (let x = 0; x < w; x++) {
      row += grey[y * w + x];
      sum[(y + 1) * W + x + 1] = sum[y * W + x + 1] + row;
    }
  }
  const r = Math.max(12, Math.round(Math.min(w, h) / 10));
  const bin = new Uint8Array(w * h);
  const thr = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    const y0 = Math.max(0, y - r);
    const y1 = Math.min(h, y + r + 1);
    for (let x = 0; x < w; x++) {
      const x0 = Math.max(0, x - r);
      const x1 = Math.min(w, x + r + 1);
      const s = sum[y1 * W + x1] - sum[y0 * W + x1] - sum[y1 * W + x0] + sum[y0 * W + x0];
      const t = s / ((x1 - x0) * (y1 - y0)) - BIAS;
      thr[y * w + x] = t;
      bin[y * w + x] = grey[y * w + x] < t ? 1 : 0;
    }
  }
  return { bin, thr };
}

/** One threshold for the whole image (Otsu's), for evenly lit pictures: {bin, thr}. */
function binarizeGlobal(grey) {
  const hist = new Float64Array(256);
  for (const p of grey) hist[p]++;
  const total = grey.length;
  let sumAll = 0;
  for (let i = 0; i < 256; i++) sumAll += i * hist[i];
  let best = 127;
  let bestVar = -1;
  let wB = 0;
  let sumB = 0;
  for (let t = 0; t < 256; t++) {
    wB += hist[t];
    if (!wB || wB === total) continue;
    sumB += t * hist[t];
    const mB = sumB / wB;
    const mF = (sumAll - sumB) / (total - wB);
    const between = wB * (total - wB) * (mB - mF) ** 2;
    if (between > bestVar) {
      bestVar = between;
      best = t;
    }
  }
  return { bin: grey.map((p) => (p <= best ? 1 : 0)), thr: new Uint8Array(grey.length).fill(best + 0.5) };
}

/** The five runs (dark, light, dark, light, dark) through (x, y) along (dx, dy), the centre
 * one containing (x, y), or null; at most `max` pixels each side. */
function runsThrough(bin, w, h, x, y, dx, dy, max) {
  const at = (i) => {
    const px = Math.round(x + dx * i);
    const py = Math.round(y + dy * i);
    return px < 0 || py < 0 || px >= w || py >= h ? -1 : bin[py * w + px];
  };
  if (at(0) !== 1) return null;
  const runs = [0, 0, 0, 0, 0];
  let i = 0;
  for (const [state, want] of [[2, 1], [1, 0], [0, 1]]) {
    while (at(-i - 1) === want && runs[state] < max) {
      runs[state]++;
      i++;
    }
    if (state === 2) runs[2]++; // the pixel itself
  }
  const back = i;
  i = 0;
  for (const [state, want] of [[2, 1], [3, 0], [4, 1]]) {
    while (at(i + 1) === want && runs[state] < max) {
      runs[state]++;
      i++;
    }
  }
  // offset of the centre of the middle run from (x, y), in steps
  const before = back - runs[0] - runs[1];
  const centre = (-before + (runs[2] - 1) / 2);
  return { runs, centre };
}

function finderRatio(runs) {
  const total = runs[0] + runs[1] + runs[2] + runs[3] + runs[4];
  if (total < 7) return 0;
  const m = total / 7;
  const tol = m * 0.7;
  for (const i of [0, 1, 3, 4]) if (Math.abs(runs[i] - m) > tol) return 0;
  return Math.abs(runs[2] - 3 * m) < 3 * tol ? m : 0;
}

/** Finder pattern centres: [{x, y, m (module size), n (times seen)}]. */
function findFinders(bin, w, h) {
  const found = [];
  const step = h > 900 ? 2 : 1;
  for (let y = 0; y < h; y += step) {
    const runs = [0, 0, 0, 0, 0];
    let state = 0; // the run being counted: even ones dark, odd ones light
    for (let x = 0; x <= w; x++) {
      const dark = x < w && bin[y * w + x] === 1;
      if (dark === (state % 2 === 0)) {
        runs[state]++;
      } else if (state === 4) {
        if (finderRatio(runs)) check(x - runs[4] - runs[3] - runs[2] / 2, y, runs);
        runs[0] = runs[2];
        runs[1] = runs[3];
        runs[2] = runs[4];
        runs[3] = 1;
        runs[4] = 0;
        state = 3;
      } else if (state > 0 || runs[0] > 0) {
        runs[++state] = 1;
      }
    }
  }
  function check(cx, y, hruns) {
    const mh = finderRatio(hruns);
    const max = Math.ceil(mh * 4 + 2);
    const col = runsThrough(bin, w, h, Math.round(cx), y, 0, 1, max);
    if (!col) return;
    const mv = finderRatio(col.runs);
    if (!mv) return;
    const cy = y + col.centre;
    const row = runsThrough(bin, w, h, Math.round(cx), Math.round(cy), 1, 0, max);
    if (!row) return;
    const mr = finderRatio(row.runs);
    if (!mr) return;
    const x = Math.round(cx) + row.centre;
    const diag = runsThrough(bin, w, h, Math.round(x), Math.round(cy), 1, 1, max);
    if (!diag || !finderRatio(diag.runs)) return;
    const m = (mv + mr) / 2;
    for (const f of found) {
      if (Math.abs(f.x - x) <= m && Math.abs(f.y - cy) <= m && Math.abs(f.m - m) <= Math.max(f.m, m) * 0.5) {
        f.x = (f.x * f.n + x) / (f.n + 1);
        f.y = (f.y * f.n + cy) / (f.n + 1);
        f.m = (f.m * f.n + m) / (f.n + 1);
        f.n++;
        return;
      }
    }
    found.push({ x, y: cy, m, n: 1 });
  }
  // a finder's core (3 modules) is crossed by about 3m rows: fewer is a lookalike in data
  for (const f of found) f.q = Math.min(1, (f.n * step) / (2 * f.m));
  return found;
}

/** The alignment pattern nearest to (px, py) within `radius`, or null: a dark module
 * ringed by light then dark modules, checked along the code's own axes (ex, ey: one module). */
function findAlignment(bin, w, h, px, py, ex, ey, radius) {
  const at = (x, y) => {
    const u = Math.round(x);
    const v = Math.round(y);
    return u < 0 || v < 0 || u >= w || v >= h ? 0 : bin[v * w + u];
  };
  const x0 = Math.max(0, Math.floor(px - radius));
  const x1 = Math.min(w - 1, Math.ceil(px + radius));
  const y0 = Math.max(0, Math.floor(py - radius));
  const y1 = Math.min(h - 1, Math.ceil(py + radius));
  const hits = [];
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      if (!bin[y * w + x]) continue;
      let wrong = 0;
      for (let i = -2; i <= 2 && wrong < 2; i++) {
        for (let j = -2; j <= 2; j++) {
          if (!i && !j) continue;
          const want = Math.max(Math.abs(i), Math.abs(j)) === 2 ? 1 : 0;
          if (at(x + i * ex[0] + j * ey[0], y + i * ex[1] + j * ey[1]) !== want) wrong++;
        }
      }
      if (wrong < 2) hits.push([x, y, (x - px) ** 2 + (y - py) ** 2]);
    }
  }
  if (!hits.length) return null;
  hits.sort((a, b) => a[2] - b[2]);
  const [bx, by] = hits[0];
  const m2 = ex[0] ** 2 + ex[1] ** 2;
  let sx = 0;
  let sy = 0;
  let k = 0;
  for (const [x, y] of hits) {
    if ((x - bx) ** 2 + (y - by) ** 2 <= m2) {
      sx += x;
      sy += y;
      k++;
    }
  }
  return { x: sx / k, y: sy / k };
}

/** The projective transform taking the four `from` points to the four `to` points. */
function homography(from, to) {
  const A = [];
  for (let i = 0; i < 4; i++) {
    const [x, y] = from[i];
    const [u, v] = to[i];
    A.push([x, y, 1, 0, 0, 0, -u * x, -u * y, u]);
    A.push([0, 0, 0, x, y, 1, -v * x, -v * y, v]);
  }
  for (let c = 0; c < 8; c++) {
    let p = c;
    for (let r = c + 1; r < 8; r++) if (Math.abs(A[r][c]) > Math.abs(A[p][c])) p = r;
    if (Math.abs(A[p][c]) < 1e-12) return null;
    [A[c], A[p]] = [A[p], A[c]];
    for (let r = 0; r < 8; r++) {
      if (r === c) continue;
      const f = A[r][c] / A[c][c];
      for (let k = c; k < 9; k++) A[r][k] -= f * A[c][k];
    }
  }
  const hm = A.map((row, i) => row[8] / row[i]);
  return (x, y) => {
    const d = hm[6] * x + hm[7] * y + 1;
    return [(hm[0] * x + hm[1] * y + hm[2]) / d, (hm[3] * x + hm[4] * y + hm[5]) / d];
  };
}

/** The modules of size n seen through `map`: the mean grey of a few pixels around each
 * module's centre against the local threshold there (a blurred lone module stays dark). */
function sampleGrid(pic, map, n) {
  const { grey, thr, w, h } = pic;
  const g = new Uint8Array(n * n);
  const [ax, ay] = map(0, 0);
  const [bx, by] = map(n, n);
  const r = Math.hypot(bx - ax, by - ay) / n / Math.SQRT2 > 4.5 ? 1 : 0;
  for (let y = 0; y < n; y++) {
    for (let x = 0; x < n; x++) {
      const [u, v] = map(x + 0.5, y + 0.5);
      const px = Math.floor(u);
      const py = Math.floor(v);
      if (px < r || py < r || px >= w - r || py >= h - r) continue;
      let s = 0;
      for (let j = -r; j <= r; j++) for (let i = -r; i <= r; i++) s += grey[(py + j) * w + px + i];
      g[y * n + x] = s / (2 * r + 1) ** 2 < thr[py * w + px] ? 1 : 0;
    }
  }
  return g;
}

function transpose(g, n) {
  const t = new Uint8Array(n * n);
  for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) t[x * n + y] = g[y * n + x];
  return t;
}

function gridText(g, n) {
  return decodeGrid(g, n) ?? decodeGrid(transpose(g, n), n);
}

const dist = (a, b) => Math.hypot(a.x - b.x, a.y - b.y);

/** Decoding with the finders tl, tr, bl: the text or null. */
function tryTriple(pic, tl, tr, bl) {
  const { bin, w, h } = pic;
  const base = size(bin, w, h, tl, tr, bl);
  const sizes = [base, base + 4, base - 4];
  const tried = new Set();
  while (sizes.length) {
    const n = sizes.shift();
    if (n < 21 || n > 177 || tried.has(n)) continue;
    tried.add(n);
    for (const map of transforms(pic, tl, tr, bl, n)) {
      const g = sampleGrid(pic, map, n);
      if (n >= 45) { // version >= 7: the version blocks say the size
        const v = readVersion(g, n) || readVersion(transpose(g, n), n);
        if (v && v * 4 + 17 !== n) {
          sizes.unshift(v * 4 + 17);
          break;
        }
      }
      const text = gridText(g, n);
      if (text !== null) return text;
    }
  }
  return null;
}

/** Module -> image maps for size n: with the alignment pattern (when found), with a fourth
 * corner moved to where the module centres are sharpest, with the fourth corner of the
 * parallelogram of the three finders. */
function transforms(pic, tl, tr, bl, n) {
  const { bin, w, h } = pic;
  const from = [[3.5, 3.5], [n - 3.5, 3.5], [3.5, n - 3.5]];
  const to = [[tl.x, tl.y], [tr.x, tr.y], [bl.x, bl.y]];
  const ex = [(tr.x - tl.x) / (n - 7), (tr.y - tl.y) / (n - 7)];
  const ey = [(bl.x - tl.x) / (n - 7), (bl.y - tl.y) / (n - 7)];
  const out = [];
  if (n > 21) {
    const u = (n - 10) / (n - 7);
    const px = tl.x + (tr.x - tl.x + bl.x - tl.x) * u;
    const py = tl.y + (tr.y - tl.y + bl.y - tl.y) * u;
    const m = (tl.m + tr.m + bl.m) / 3;
    const ap = findAlignment(bin, w, h, px, py, ex, ey, m * 4) ?? findAlignment(bin, w, h, px, py, ex, ey, m * 10);
    const map = ap && homography([...from, [n - 6.5, n - 6.5]], [...to, [ap.x, ap.y]]);
    if (map) out.push(map);
  }
  const corner = [tr.x + bl.x - tl.x, tr.y + bl.y - tl.y];
  const sharp = sharpest(pic, from, to, n, corner, ex, ey);
  if (sharp) out.push(sharp);
  const map = homography([...from, [n - 3.5, n - 3.5]], [...to, corner]);
  if (map) out.push(map);
  return out;
}

/** The map whose fourth corner (module n-3.5, n-3.5) puts the samples of the far half of
 * the code furthest from the local threshold (on the module centres, not their edges): a
 * coarse search a module apart over a third of the code around `start` (a tilted code's far
 * corner is well inside the parallelogram), then finer steps around the best. */
function sharpest(pic, from, to, n, start, ex, ey) {
  const { grey, thr, w, h } = pic;
  const stride = Math.max(1, Math.floor(n / 30)); // about 450 samples, whatever the size
  const score = (corner) => {
    const map = homography([...from, [n - 3.5, n - 3.5]], [...to, corner]);
    if (!map) return [-1, null];
    let s = 0;
    for (let y = 0; y < n; y += stride) {
      for (let x = y < n / 2 ? Math.floor(n / 2) : 0; x < n; x += stride) {
        const [u, v] = map(x + 0.5, y + 0.5);
        if (u >= 0 && v >= 0 && u < w && v < h) {
          const i = Math.floor(v) * w + Math.floor(u);
          s += Math.abs(grey[i] - thr[i]);
        }
      }
    }
    return [s, map];
  };
  const reach = Math.max(2, Math.round(n / 6));
  const coarse = Math.max(1, reach / 7); // at most 15 x 15 corners
  let at = start;
  let [best, bestMap] = score(at);
  for (let i = -reach; i <= reach; i += coarse) {
    for (let j = -reach; j <= reach; j += coarse) {
      const c = [start[0] + i * ex[0] + j * ey[0], start[1] + i * ex[1] + j * ey[1]];
      const [sc, map] = score(c);
      if (sc > best) [best, bestMap, at] = [sc, map, c];
    }
  }
  for (const step of [coarse / 2, coarse / 4, coarse / 8].filter((x) => x >= 0.2)) {
    for (let moved = true, k = 0; moved && k < 4; k++) {
      moved = false;
      for (const [di, dj] of [[1, 0], [-1, 0], [0, 1], [0, -1], [1, 1], [-1, -1], [1, -1], [-1, 1]]) {
        const c = [at[0] + (di * ex[0] + dj * ey[0]) * step, at[1] + (di * ex[1] + dj * ey[1]) * step];
        const [sc, map] = score(c);
        if (sc > best) [best, bestMap, at, moved] = [sc, map, c, true];
      }
    }
  }
  return bestMap;
}

/** How much the two timing patterns of a code of size n with these finders look like ones
 * (0..1): the number of changes between dark and light along each, which a tilt does not
 * alter (their phase it does), against the n - 15 it should be. */
function timing(bin, w, h, tl, tr, bl, n) {
  const k = n - 7;
  const want = n - 15;
  let score = 0;
  for (const [a, b, c] of [[tl, tr, bl], [tl, bl, tr]]) {
    // from module 7 to n - 8 along a -> b, 3 modules towards c
    let best = 0;
    for (const shift of [2.7, 3, 3.3]) {
      const ox = a.x + ((c.x - a.x) * shift) / k;
      const oy = a.y + ((c.y - a.y) * shift) / k;
      const sx = ox + ((b.x - a.x) * 3.5) / k;
      const sy = oy + ((b.y - a.y) * 3.5) / k;
      const ex = ox + ((b.x - a.x) * (k - 3.5)) / k;
      const ey = oy + ((b.y - a.y) * (k - 3.5)) / k;
      const steps = Math.ceil(Math.hypot(ex - sx, ey - sy));
      let changes = 0;
      let prev = -1;
      for (let i = 0; i <= steps; i++) {
        const x = Math.round(sx + ((ex - sx) * i) / steps);
        const y = Math.round(sy + ((ey - sy) * i) / steps);
        const p = x >= 0 && y >= 0 && x < w && y < h ? bin[y * w + x] : 0;
        if (prev >= 0 && p !== prev) changes++;
        prev = p;
      }
      best = Math.max(best, 1 - Math.abs(changes - want) / want);
    }
    score += best / 2;
  }
  return score;
}

/** The module size at finder `f` along the line to finder `g` (a turned code's rows cross
 * the finders slantwise: their runs are longer than the modules). */
function moduleToward(bin, w, h, f, g) {
  const d = dist(f, g);
  const r = runsThrough(bin, w, h, f.x, f.y, (g.x - f.x) / d, (g.y - f.y) / d, Math.ceil(f.m * 6));
  const m = r && finderRatio(r.runs);
  return m || f.m;
}

/** Size of the code with these finders, from their distances and module sizes. */
function size(bin, w, h, tl, tr, bl) {
  const mTR = (moduleToward(bin, w, h, tl, tr) + moduleToward(bin, w, h, tr, tl)) / 2;
  const mBL = (moduleToward(bin, w, h, tl, bl) + moduleToward(bin, w, h, bl, tl)) / 2;
  const est = (dist(tl, tr) / mTR + dist(tl, bl) / mBL) / 2 + 7;
  return Math.round((est - 17) / 4) * 4 + 17;
}

/** Triples of finders that may be the three corners of one code, the likeliest first. */
function triples(bin, w, h, finders) {
  const list = finders.slice().sort((a, b) => b.q - a.q || b.n - a.n).slice(0, 40);
  const out = [];
  for (let i = 0; i < list.length; i++) {
    for (let j = i + 1; j < list.length; j++) {
      for (let k = j + 1; k < list.length; k++) {
        const f = [list[i], list[j], list[k]];
        const ms = f.map((p) => p.m);
        if (Math.max(...ms) > Math.min(...ms) * 2) continue;
        // the corner is opposite the longest side
        const d = [dist(f[1], f[2]), dist(f[0], f[2]), dist(f[0], f[1])];
        const c = d.indexOf(Math.max(...d));
        const tl = f[c];
        let [p, q] = f.filter((_, t) => t !== c);
        const cross = (p.x - tl.x) * (q.y - tl.y) - (p.y - tl.y) * (q.x - tl.x);
        if (cross < 0) [p, q] = [q, p];
        const a = dist(tl, p);
        const b = dist(tl, q);
        // 14 modules at least (version 1), m from a row crossing a finder slantwise: up to 1.41
        if (a < tl.m * 8 || b < tl.m * 8 || Math.max(a, b) > Math.min(a, b) * 1.6) continue;
        const cos = Math.abs(((p.x - tl.x) * (q.x - tl.x) + (p.y - tl.y) * (q.y - tl.y)) / (a * b));
        if (cos > 0.45) continue;
        const n = size(bin, w, h, tl, p, q);
        if (n < 21 || n > 177) continue;
        const score = timing(bin, w, h, tl, p, q, n) - cos / 2 + Math.min(tl.q, p.q, q.q) / 2;
        out.push({ tl, tr: p, bl: q, score });
      }
    }
  }
  out.sort((x, y) => y.score - x.score);
  // the likeliest few: a triple far behind the best one is seldom a code
  return out.filter((t) => t.score >= out[0].score - 0.4).slice(0, 6);
}

function decodePicture(pic) {
  const { bin, w, h } = pic;
  for (const { tl, tr, bl } of triples(bin, w, h, findFinders(bin, w, h))) {
    const text = tryTriple(pic, tl, tr, bl);
    if (text !== null) return text;
  }
  return null;
}

/** The text of a QR code in `image` ({width, height, data}: RGBA as in an ImageData, or one
 * grey byte a pixel), or null when none can be read. Never throws. */
export function decodeQr(image) {
  try {
    const w = image?.width;
    const h = image?.height;
    if (!Number.isInteger(w) || !Number.isInteger(h) || w < 21 || h < 21 || w * h > 25e6) return null;
    if (!image.data || typeof image.data.length !== "number") return null;
    const grey = toGrey(image);
    if (!grey) return null;
    return decodePicture({ grey, w, h, ...binarizeLocal(grey, w, h) }) ?? decodePicture({ grey, w, h, ...binarizeGlobal(grey) });
  } catch {
    return null;
  }
}
