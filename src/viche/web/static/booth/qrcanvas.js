// Our QR decoder behind BarcodeDetector's interface, for scan.js where the browser has no
// BarcodeDetector (iOS Safari, Firefox, desktop Chromium): a photo or camera frame is drawn
// on a canvas and its pixels decoded by qrdecode.js in a worker (qrworker.js). Loaded by
// scan.js at the credential step, never by the booth's first page.

/** The longest side, in pixels, of a photo given to our decoder (a 12-megapixel photo is
 * scaled down: a credential letter's code still has ~10 pixels a module), and of a camera
 * frame (a frame every 200 ms: kept near 1280x720, ~0.1 s each on a laptop). */
const MAX_SIDE = 1600;
const MAX_FRAME = 1280;

/** The pixels of `source` (image, bitmap, video or canvas) as an ImageData, or null. */
function pixels(source) {
  const w0 = source.videoWidth || source.naturalWidth || source.width || 0;
  const h0 = source.videoHeight || source.naturalHeight || source.height || 0;
  if (!w0 || !h0) return null;
  const k = Math.min(1, (source.videoWidth ? MAX_FRAME : MAX_SIDE) / Math.max(w0, h0));
  const w = Math.max(1, Math.round(w0 * k));
  const h = Math.max(1, Math.round(h0 * k));
  let canvas;
  if (typeof OffscreenCanvas === "function") canvas = new OffscreenCanvas(w, h);
  else {
    canvas = document.createElement("canvas");
    canvas.width = w;
    canvas.height = h;
  }
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.fillStyle = "#fff"; // a transparent picture reads as on white paper
  ctx.fillRect(0, 0, w, h);
  ctx.drawImage(source, 0, 0, w, h);
  return ctx.getImageData(0, 0, w, h);
}

/** Our decoder behind BarcodeDetector's interface, in a worker (in the page where module
 * workers cannot start). */
export function ownDetector() {
  let worker = null; // null: not started; false: cannot start
  let next = 0;
  const waiting = new Map(); // id -> [resolve, image]
  const inPage = (image) => import("./qrdecode.js").then(({ decodeQr }) => decodeQr(image));
  const start = () => {
    try {
      worker = new Worker(new URL("./qrworker.js", import.meta.url), { type: "module" });
    } catch {
      worker = false;
      return;
    }
    worker.addEventListener("message", ({ data }) => {
      waiting.get(data.id)?.[0](data.text);
      waiting.delete(data.id);
    });
    worker.addEventListener("error", () => {
      worker.terminate();
      worker = false;
      for (const [resolve, image] of waiting.values()) resolve(inPage(image));
      waiting.clear();
    });
  };
  const decode = (image) => {
    if (worker === null) start();
    if (worker === false) return inPage(image);
    return new Promise((resolve) => {
      const id = ++next;
      waiting.set(id, [resolve, image]);
      worker.postMessage({ id, image: { width: image.width, height: image.height, data: image.data } });
    });
  };
  return {
    async detect(source) {
      const image = pixels(source);
      const text = image ? await decode(image) : null;
      return text ? [{ rawValue: text, format: "qr_code" }] : [];
    },
  };
}
