// Reading the private credential from a QR code: from the camera (getUserMedia, back camera
// preferred, a frame looked at every 200 ms) or from a photo the voter picks (an <input
// type=file>, which on a phone also offers the camera). Nothing leaves the device. The
// browser's own BarcodeDetector (Shape Detection API) where it reads "qr_code" (Android
// Chrome); elsewhere (iOS Safari, Firefox, desktop Chromium) our decoder: the picture drawn
// on a canvas (qrcanvas.js, loaded at the credential step) and decoded by qrdecode.js in a
// worker (qrworker.js, started on the first scan). The first page loads none of them.

/** A detector of QR codes (BarcodeDetector's interface), or null where none can work: the
 * browser's own, else ours (qrcanvas.js, loaded now: this is the credential step, after
 * the login, never the first page). */
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
  if (typeof OffscreenCanvas !== "function" && typeof document === "undefined") return null;
  try {
    const { ownDetector } = await import("./qrcanvas.js");
    return ownDetector();
  } catch {
    return null;
  }
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
