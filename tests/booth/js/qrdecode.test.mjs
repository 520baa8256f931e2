// The booth's QR decoder (qrdecode.js) on codes made by the booth's encoder (common/qr.js):
// module grids of every version, pictures of them as a phone sees them (turned 0-360°,
// tilted, blurred, noisy, unevenly lit, a quiet zone too small, mirrored, stained within
// the error correction), Reed-Solomon on its own, and garbage, which gives null, never an
// exception. Codes of an independent encoder (segno) are read in tests/booth/test_qr_decode.py.
import assert from "node:assert/strict";
import { test } from "node:test";
import { render, rng, stain } from "./qr_render.mjs";
import { STATIC } from "./support.mjs";

const { qrMatrix } = await import(new URL("../common/qr.js", STATIC));
const { decodeGrid, decodeQr, rsCorrect, segments } = await import(new URL("qrdecode.js", STATIC));

const grid = (rows) => Uint8Array.from(rows.flat().map(Number));
const ALPHABET = 'abcXYZ0123456789{}":,/+=-';
const text = (n, seed = 0) => Array.from({ length: n }, (_, i) => ALPHABET[(i * 7 + seed) % ALPHABET.length]).join("");
const CREDENTIAL = "2cJ-s7d-Gpm-Vok-HxE";

test("module grids of every version 1-40 are read back", () => {
  const seen = new Set();
  for (const n of [1, 17, 30, 60, 100, 150, 200, 300, 420, 500, 650, 800, 1000, 1200, 1500, 2000, 2400, 2953]) {
    const t = text(n);
    const rows = qrMatrix(t);
    seen.add(rows.length);
    assert.equal(decodeGrid(grid(rows), rows.length), t, `${n} bytes`);
  }
  for (let v = 1; v <= 40; v++) {
    // the longest text of each version (L, byte mode)
    let lo = 1;
    let hi = 2953;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (qrMatrix(text(mid)).length <= v * 4 + 17) lo = mid;
      else hi = mid - 1;
    }
    const t = text(lo, v);
    const rows = qrMatrix(t);
    assert.equal(rows.length, v * 4 + 17);
    assert.equal(decodeGrid(grid(rows), rows.length), t, `version ${v}`);
    seen.add(rows.length);
  }
  assert.equal(seen.size, 40);
});

test("UTF-8 text and a credential are read back", () => {
  for (const t of ["Віче — квитанція ✓", CREDENTIAL, "😀 emoji", "\u0000nul"]) {
    const rows = qrMatrix(t);
    assert.equal(decodeGrid(grid(rows), rows.length), t);
  }
});

test("pictures turned through 0-360 degrees, tilted, blurred, noisy, unevenly lit", () => {
  const random = rng(7);
  const failures = [];
  let tried = 0;
  for (const length of [19, 60, 150, 300]) {
    const t = text(length, length);
    const rows = qrMatrix(t);
    const n = rows.length;
    for (let angle = 0; angle < 360; angle += 15) {
      const options = {
        module: Math.max(3, Math.floor(420 / (n + 8) / 1.45)),
        angle: angle + random() * 10,
        tilt: random() * 0.15,
        blur: Math.floor(random() * 2),
        noise: random() * 25,
        light: [0.35 + random() * 0.4, 0.9 + random() * 0.3],
        seed: angle + length,
      };
      tried++;
      const got = decodeQr(render(rows, 640, 480, options));
      if (got !== t) failures.push({ n, ...options });
    }
  }
  // every picture is read; a failure prints its options to replay it
  assert.deepEqual(failures, [], `${failures.length}/${tried}`);
});

test("a quiet zone of one module, a mirrored code, a tiny and a large code", () => {
  const rows = qrMatrix(CREDENTIAL);
  assert.equal(decodeQr(render(rows, 320, 240, { module: 6, quiet: 1, angle: 10 })), CREDENTIAL);
  assert.equal(decodeQr(render(rows, 320, 240, { module: 6, quiet: 0.5 })), CREDENTIAL);
  assert.equal(decodeQr(render(rows, 320, 240, { module: 5, mirror: true, angle: 120 })), CREDENTIAL);
  assert.equal(decodeQr(render(rows, 200, 150, { module: 3 })), CREDENTIAL);
  assert.equal(decodeQr(render(rows, 1280, 720, { module: 24, light: [0.5, 1] })), CREDENTIAL);
  // turned by 45°: a row crosses a finder slantwise, its runs are 1.41 times the module
  // (Hypothesis found version 1 at 225° read as nothing)
  const small = qrMatrix("0");
  assert.equal(small.length, 21);
  for (const angle of [45, 135, 225, 315]) {
    assert.equal(decodeQr(render(small, 800, 720, { module: 16, angle, noise: 8 })), "0", `${angle}°`);
    assert.equal(decodeQr(render(rows, 800, 720, { module: 14, angle })), CREDENTIAL, `${angle}°`);
  }
});

test("stains within the error correction are corrected, larger ones are not misread", () => {
  // version 5-L: one block of 108 data + 26 ecc codewords, 13 correctable
  const t = text(100, 3);
  const rows = qrMatrix(t);
  assert.equal(rows.length, 37);
  const small = stain(rows, 12, 14, 4); // 16 modules: at most 4 codewords
  assert.equal(decodeGrid(grid(small), 37), t);
  assert.equal(decodeQr(render(small, 480, 480, { module: 8, angle: 33, noise: 10 })), t);
  const big = stain(rows, 10, 10, 18); // 324 modules: far beyond 13 codewords
  assert.notEqual(decodeGrid(grid(big), 37), t);
});

// Reed-Solomon: a systematic encoder here (generator roots alpha^0..alpha^(e-1)), the
// decoder's correction of up to e/2 errors at random places.
function gfMul(a, b) {
  let r = 0;
  for (; b; b >>>= 1, a = (a << 1) ^ (a & 0x80 ? 0x11d : 0)) if (b & 1) r ^= a;
  return r & 0xff;
}
function rsEncode(data, e) {
  let gen = [1];
  for (let i = 0, root = 1; i < e; i++, root = gfMul(root, 2)) {
    const next = new Array(gen.length + 1).fill(0);
    gen.forEach((c, j) => {
      next[j] ^= c;
      next[j + 1] ^= gfMul(c, root);
    });
    gen = next;
  }
  const rem = new Array(e).fill(0);
  for (const d of data) {
    const f = d ^ rem.shift();
    rem.push(0);
    for (let j = 0; j < e; j++) rem[j] ^= gfMul(gen[j + 1], f);
  }
  return [...data, ...rem];
}

test("Reed-Solomon corrects up to e/2 errors anywhere", () => {
  const random = rng(11);
  for (let trial = 0; trial < 300; trial++) {
    const e = [7, 10, 13, 17, 22, 26, 30][trial % 7];
    const k = 5 + Math.floor(random() * 100);
    const data = Array.from({ length: k }, () => Math.floor(random() * 256));
    const word = rsEncode(data, e);
    const bad = Uint8Array.from(word);
    const errors = Math.floor(random() * (Math.floor(e / 2) + 1));
    const places = new Set();
    while (places.size < errors) places.add(Math.floor(random() * word.length));
    for (const p of places) bad[p] ^= 1 + Math.floor(random() * 255);
    assert.equal(rsCorrect(bad, e), true, `${errors} errors, e=${e}`);
    assert.deepEqual([...bad], word);
  }
});

test("garbage gives null, never an exception", () => {
  const random = rng(5);
  for (const image of [null, undefined, {}, 42, "text", { width: 10, height: 10, data: [] },
    { width: -5, height: 5, data: new Uint8Array(25) }, { width: 1e9, height: 1e9, data: new Uint8Array(4) },
    { width: 30, height: 30, data: new Uint8Array(7) }, { width: 30.5, height: 30, data: new Uint8Array(900) },
    { width: 40, height: 40, data: "x".repeat(1600) }]) {
    assert.equal(decodeQr(image), null);
  }
  for (let trial = 0; trial < 40; trial++) {
    const w = 21 + Math.floor(random() * 300);
    const h = 21 + Math.floor(random() * 300);
    const channels = trial % 2 ? 4 : 1;
    const data = new Uint8Array(w * h * channels);
    // noise, blocks, stripes: things with edges that look like runs
    const kind = trial % 3;
    for (let i = 0; i < w * h; i++) {
      const x = i % w;
      const y = Math.floor(i / w);
      const v = kind === 0 ? random() * 256 : kind === 1 ? ((x >> 3) + (y >> 3)) % 2 * 255 : (x % 7 < 3) * 255;
      for (let c = 0; c < channels; c++) data[i * channels + c] = c === 3 ? 255 : v;
    }
    assert.equal(decodeQr({ width: w, height: h, data }), null);
  }
  // grids of random modules, and a real grid with its format information destroyed
  for (let trial = 0; trial < 200; trial++) {
    const n = 21 + 4 * Math.floor(random() * 40);
    const g = Uint8Array.from({ length: n * n }, () => (random() < 0.5 ? 1 : 0));
    assert.equal(decodeGrid(g, n), null);
  }
  // data codewords of random bytes (as if Reed-Solomon had let them through): text or null
  let texts = 0;
  for (let trial = 0; trial < 3000; trial++) {
    const data = Array.from({ length: 1 + Math.floor(random() * 60) }, () => Math.floor(random() * 256));
    const got = segments(data, 1 + Math.floor(random() * 40));
    assert.ok(got === null || typeof got === "string");
    if (got !== null) texts++;
  }
  assert.ok(texts > 0); // some random segments are well formed: both ways are exercised
  // the standard's example (numeric "01234567"); ECI 26 then the UTF-8 bytes of "é"; a
  // byte count past the end; Latin-1 bytes under ECI 26 (not UTF-8)
  assert.equal(segments([0x10, 0x20, 0x0c, 0x56, 0x61, 0x80, 0xec], 1), "01234567");
  assert.equal(segments([0x71, 0xa4, 0x02, 0xc3, 0xa9, 0x00], 1), "é");
  assert.equal(segments([0x40, 0xff, 0x41, 0x42], 1), null);
  assert.equal(segments([0x71, 0xa4, 0x01, 0xe9, 0x00], 1), null);
  const rows = qrMatrix(CREDENTIAL).map((row) => row.map(Number));
  for (let i = 0; i < 9; i++) {
    rows[8][i] ^= 1;
    rows[i][8] ^= 1;
    rows[8][rows.length - 1 - i] ^= 1;
    rows[rows.length - 1 - i][8] ^= 1;
  }
  assert.equal(decodeGrid(grid(rows), rows.length), null);
});
