// The booth's QR decoder for Python (tests/booth/test_qr_decode.py, bench/qr_decode): one JSON
// request a line on stdin, one JSON answer a line on stdout, {"text": string|null, "ms"}.
//   {"grid": [[0, 1, ...], ...]}                       the module grid (qrdecode.decodeGrid)
//   {"rows": [[...]], "width", "height", "options"}    a picture drawn by qr_render.mjs
//   {"grey": base64, "width", "height"}                a grey picture, one byte a pixel
import { createInterface } from "node:readline";
import { render } from "./qr_render.mjs";
import { STATIC } from "./support.mjs";

const { decodeGrid, decodeQr } = await import(new URL("qrdecode.js", STATIC));

for await (const line of createInterface({ input: process.stdin })) {
  if (!line.trim()) continue;
  const q = JSON.parse(line);
  let image = null;
  if (q.rows && q.width) image = render(q.rows, q.width, q.height, q.options ?? {});
  else if (q.grey) image = { width: q.width, height: q.height, data: new Uint8Array(Buffer.from(q.grey, "base64")) };
  const t0 = performance.now();
  const text = q.grid ? decodeGrid(Uint8Array.from(q.grid.flat()), q.grid.length) : decodeQr(image);
  process.stdout.write(`${JSON.stringify({ text, ms: performance.now() - t0 })}\n`);
}
