// Sending a ballot again when the voting server is full: it answers 503 with the error
// code V9016, the wait in milliseconds in the body (`retry_after_ms`: when it expects room
// for this ballot, from its measured pace; see viche/web/admission.py) and the same in
// whole seconds, rounded up, in Retry-After. The booth waits that long (Retry-After only
// when the body has no `retry_after_ms`) and up to a fifth more at random (voters told the
// same wait do not all come back at once; at most a second more), then sends the same
// ballot again.

/** Seconds of waiting, in all, before the booth shows the server's answer instead. */
export const PATIENCE = 600;
/** The share of the wait added at random, and its cap in seconds. */
export const JITTER = 0.2;
export const JITTER_CAP = 1;
/** A `retry_after_ms` beyond an hour is not a wait the booth takes. */
const MAX_WAIT_MS = 3_600_000;

/** The seconds the server asks to wait before sending the same ballot again, or null
 * when the answer is anything but "full" (503, V9016, with `retry_after_ms` in the body or
 * Retry-After in whole seconds). */
export async function retryAfter(response) {
  if (response.status !== 503) return null;
  let body = null;
  try {
    body = await response.clone().json();
  } catch {
    return null;
  }
  if (body === null || typeof body !== "object" || body.code !== "V9016") return null;
  const ms = body.retry_after_ms;
  if (Number.isInteger(ms) && ms > 0 && ms <= MAX_WAIT_MS) return ms / 1000;
  const value = response.headers.get("Retry-After") ?? "";
  return /^\d{1,6}$/.test(value) ? Number(value) : null;
}

/** `wait` seconds and up to JITTER of it more, at random (at most JITTER_CAP more). */
export function jittered(wait, random = Math.random) {
  return wait + random() * Math.min(JITTER * wait, JITTER_CAP);
}

const pause = (seconds) => new Promise((done) => setTimeout(done, seconds * 1000));

/** `send()` (a fetch) until the server stops answering that it is full, waiting as it
 * asks, at most `patience` seconds in all; `onWait(seconds)` before each wait (the
 * seconds asked, not rounded). Returns the last answer (a network error is thrown to the
 * caller, as fetch does). */
export async function sendPatiently(
  send,
  { onWait = () => {}, sleep = pause, patience = PATIENCE, random = Math.random } = {},
) {
  let waited = 0;
  for (;;) {
    const response = await send();
    const told = await retryAfter(response);
    if (told === null || waited + told > patience) return response;
    onWait(told);
    const delay = jittered(told, random);
    await sleep(delay);
    waited += delay;
  }
}
