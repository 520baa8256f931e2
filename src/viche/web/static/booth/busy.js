// Sending a ballot again when the voting server is full: it answers 503 with the error
// code V9016 and Retry-After (the seconds until it expects room for this ballot; see
// viche/web/admission.py). The booth waits that long, and up to a second more at random
// (voters told the same second do not all come back at once), then sends the same ballot.

/** Seconds of waiting, in all, before the booth shows the server's answer instead. */
export const PATIENCE = 600;

/** The seconds the server asks to wait before sending the same ballot again, or null
 * when the answer is anything but "full" (503, V9016, Retry-After in whole seconds). */
export async function retryAfter(response) {
  if (response.status !== 503) return null;
  const value = response.headers.get("Retry-After") ?? "";
  if (!/^\d{1,6}$/.test(value)) return null;
  let code = null;
  try {
    code = (await response.clone().json()).code;
  } catch {
    return null;
  }
  return code === "V9016" ? Number(value) : null;
}

const pause = (seconds) => new Promise((done) => setTimeout(done, seconds * 1000));

/** `send()` (a fetch) until the server stops answering that it is full, waiting as it
 * asks, at most `patience` seconds in all; `onWait(seconds)` before each wait. Returns
 * the last answer (a network error is thrown to the caller, as fetch does). */
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
    const delay = told + random();
    await sleep(delay);
    waited += delay;
  }
}
