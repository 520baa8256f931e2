// The booth's QR decoding worker (scan.js starts it the first time a picture is read without
// BarcodeDetector): a frame or photo in, its text (or null) out, so that the page stays
// responsive while the camera runs.
import { decodeQr } from "./qrdecode.js";

self.addEventListener("message", ({ data }) => {
  self.postMessage({ id: data.id, text: decodeQr(data.image) });
});
