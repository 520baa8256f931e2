// Reading the private credential from a QR code: from the camera (getUserMedia, back camera
// preferred, a frame looked at every 200 ms) or from a photo the voter picks (an <input
// type=file>, which on a phone also offers the camera). Nothing leaves the device. The
// browser's own BarcodeDetector (Shape Detection API) where it reads "qr_code" (Android
// Chrome); elsewhere (iOS Safari, Firefox, desktop Chromium) our decoder (qrdecode.js): the
// picture drawn on a canvas, decoded in a worker (qrworker.js), both loaded only when the
// voter first scans.

/** The longest side, in pixels, of a photo given to our decoder (a 12-megapixel photo is
 * scaled down: a credential letter's code still has ~10 pixels a module), and of a camera
 * frame (a frame every 200 ms: kept near 1280x720, ~0.1 s each on a laptop). */
const MAX_SIDE = 1600;
const MAX_FRAME = 1280;

/** A detector of QR codes (BarcodeDetector's interface), or null where none can work. */
export async function qrDetector() {
  const BD = globalThis.BarcodeDetector;
  if (typeof BD === "function") {
    try {
      const formats = await BD.getSupportedFormats();
      if (formats.includes("qr_code")) return new BD({ formats: ["qr_code"] });
    } catch {
      // fall through to ours
    }
  }
  const canvas = typeof OffscreenCanvas === "function" || typeof document !== "undefined";
  return canvas ? ownDetector() : null;
}

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
function ownDetector() {
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

/** The text of the first QR code in `source` (an image, bitmap, video or canvas), or null. */
export async function readQr(detector, source) {
  const found = await detector.detect(source);
  const first = found.find((b) => typeof b.rawValue === "string" && b.rawValue.trim());
  return first ? first.rawValue.trim() : null;
}

/** The text of the first QR code in an image file (a photo), or null. */
export async function readQrFile(detector, file) {
  const bitmap = await createImageBitmap(file);
  try {
    return await readQr(detector, bitmap);
  } finally {
    bitmap.close?.();
  }
}

/** Scan with the camera into `video` until a code is read (resolves to its text) or
 * `stop()` is called (resolves to null). Rejects when the camera cannot be opened. */
export function scanCamera(detector, video) {
  let stopped = false;
  let stream = null;
  let timer = null;
  let finish;
  const done = new Promise((resolve) => {
    finish = resolve;
  });
  const end = (value) => {
    if (stopped) return;
    stopped = true;
    clearTimeout(timer);
    stream?.getTracks().forEach((track) => track.stop());
    video.srcObject = null;
    finish(value);
  };
  const start = (async () => {
    stream = await navigator.mediaDevices.getUserMedia({
      video: { facingMode: { ideal: "environment" } },
      audio: false,
    });
    if (stopped) {
      stream.getTracks().forEach((track) => track.stop());
      return;
    }
    video.srcObject = stream;
    await video.play();
    const tick = async () => {
      if (stopped) return;
      try {
        const text = video.readyState >= 2 ? await readQr(detector, video) : null;
        if (text) return end(text);
      } catch {
        // a frame that cannot be read: try the next one
      }
      timer = setTimeout(tick, 200);
    };
    tick();
  })();
  return {
    started: start,
    result: done,
    stop: () => end(null),
  };
}
