// Pictures of QR codes for the decoder's tests and bench: a module matrix drawn into a grey
// image (one byte a pixel) as a phone would see it — scaled, turned, tilted in perspective,
// blurred, unevenly lit, noisy, on a textured background — with a seeded generator, so that
// a failure can be replayed.

/** A seeded generator of numbers in [0, 1) (mulberry32). */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The 3x3 matrix taking the four points `from` to the four points `to`. */
function solve(from, to) {
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
    [A[c], A[p]] = [A[p], A[c]];
    for (let r = 0; r < 8; r++) {
      if (r === c) continue;
      const f = A[r][c] / A[c][c];
      for (let k = c; k < 9; k++) A[r][k] -= f * A[c][k];
    }
  }
  return [...A.map((row, i) => row[8] / row[i]), 1];
}

/** `rows` (true/1: dark) flipped in a square "stain" of `size` modules at (x, y). */
export function stain(rows, x, y, size) {
  return rows.map((row, j) => row.map((dark, i) => (i >= x && i < x + size && j >= y && j < y + size ? !dark : Boolean(dark))));
}

/**
 * Draws `rows` into a width x height grey picture.
 * options: module (pixels a module, at the centre), angle (degrees), tilt (0..0.4: the far
 * edge shrinks by this fraction), quiet (modules of white around the code), blur (box radius,
 * pixels), noise (amplitude, grey levels), light ([left, right] gain, e.g. [0.35, 1.1]),
 * mirror, seed, dx/dy (offset of the centre, pixels).
 */
export function render(rows, width, height, options = {}) {
  const o = { module: 4, angle: 0, tilt: 0, quiet: 4, blur: 0, noise: 0, light: [1, 1], mirror: false, seed: 1, dx: 0, dy: 0, ...options };
  const random = rng(o.seed);
  const n = rows.length;
  const half = (n / 2 + o.quiet) * o.module;
  const a = (o.angle * Math.PI) / 180;
  const cx = width / 2 + o.dx;
  const cy = height / 2 + o.dy;
  // corners of the code with its quiet zone: tl, tr, br, bl; the top edge shrinks by `tilt`
  const square = [[-1, -1], [1, -1], [1, 1], [-1, 1]].map(([x, y]) => [x * (y < 0 ? 1 - o.tilt : 1 + o.tilt / 3), y]);
  const corners = square.map(([x, y]) => [
    cx + half * (x * Math.cos(a) - y * Math.sin(a)),
    cy + half * (x * Math.sin(a) + y * Math.cos(a)),
  ]);
  const lo = -o.quiet;
  const hi = n + o.quiet;
  const modules = [[lo, lo], [hi, lo], [hi, hi], [lo, hi]];
  const H = solve(corners, modules); // image -> modules
  const sample = (px, py) => {
    const d = H[6] * px + H[7] * py + H[8];
    let mx = (H[0] * px + H[1] * py + H[2]) / d;
    let my = (H[3] * px + H[4] * py + H[5]) / d;
    if (o.mirror) [mx, my] = [my, mx];
    if (mx < lo || my < lo || mx >= hi || my >= hi) {
      // background: a table with stripes and some grain
      return 110 + 40 * Math.sin(px / 37 + py / 53) + 30 * Math.sin(py / 11);
    }
    const i = Math.floor(mx);
    const j = Math.floor(my);
    return i >= 0 && j >= 0 && i < n && j < n && rows[j][i] ? 25 : 235;
  };
  let img = new Float64Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      // 2x2 samples a pixel: the edges of the modules are grey, as through a lens
      img[y * width + x] = (sample(x + 0.25, y + 0.25) + sample(x + 0.75, y + 0.25) + sample(x + 0.25, y + 0.75) + sample(x + 0.75, y + 0.75)) / 4;
    }
  }
  if (o.blur > 0) img = boxBlur(boxBlur(img, width, height, o.blur, 1, 0), width, height, o.blur, 0, 1);
  const out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const t = (x / width + y / height) / 2;
      const gain = o.light[0] + (o.light[1] - o.light[0]) * t;
      const v = img[y * width + x] * gain + (random() * 2 - 1) * o.noise;
      out[y * width + x] = Math.max(0, Math.min(255, Math.round(v)));
    }
  }
  return { width, height, data: out };
}

function boxBlur(img, w, h, r, dx, dy) {
  const out = new Float64Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let s = 0;
      let k = 0;
      for (let i = -r; i <= r; i++) {
        const u = x + i * dx;
        const v = y + i * dy;
        if (u >= 0 && v >= 0 && u < w && v < h) {
          s += img[v * w + u];
          k++;
        }
      }
      out[y * w + x] = s / k;
    }
  }
  return out;
}
