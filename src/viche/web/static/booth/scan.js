// Reading the private credential from a QR code, with the browser's own BarcodeDetector
// (Shape Detection API): from the camera (getUserMedia, back camera preferred, a frame
// looked at every 200 ms) or from a photo the voter picks (an <input type=file>, which on a
// phone also offers the camera). Nothing leaves the device. Where the browser has no
// BarcodeDetector with the "qr_code" format (desktop Linux and Windows Chromium, Firefox,
// Safari), the booth says so and the voter types or pastes: no decoder of our own.

/** A detector of QR codes, or null where the browser has none. */
export async function qrDetector() {
  const BD = globalThis.BarcodeDetector;
  if (typeof BD !== "function") return null;
  try {
    const formats = await BD.getSupportedFormats();
    if (!formats.includes("qr_code")) return null;
    return new BD({ formats: ["qr_code"] });
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
