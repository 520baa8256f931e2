// An election that exists but is not open yet (still being set up): the API answers its
// public addresses 409 with code V3009 and, when the administrator scheduled the opening,
// `opens` (ISO 8601 UTC). The pages and the booth tell the voter when it opens, never
// "no such election". A page left open asks again by itself once the election should be open
// (`nextTry`), so that a voter waiting for the opening need not reload it.

import { t, when } from "./i18n.js";

export const NOT_OPEN = "V3009";

/** The election is not open yet; `opens`: its scheduled opening (ms since the epoch) or null. */
export class NotOpenYet extends Error {
  constructor(opens) {
    super("not open yet");
    this.opens = opens;
  }
}

/** The error a failed answer `r` of the API becomes: NotOpenYet for V3009, otherwise an
 * Error whose message is the HTTP status (as the pages and the booth threw before). */
export async function answerError(r) {
  if (r.status === 409) {
    let body = null;
    try {
      body = await r.clone().json();
    } catch {
      // not JSON: an ordinary failure
    }
    if (body?.code === NOT_OPEN) {
      const opens = typeof body.opens === "string" ? Date.parse(body.opens) : NaN;
      return new NotOpenYet(Number.isNaN(opens) ? null : opens);
    }
  }
  return new Error(`${r.status}`);
}

/** What the voter reads: when it opens, that it was to open then, or that it is not open yet. */
export function notOpenText(error, now = Date.now()) {
  if (error.opens === null) return t("notOpen.yet");
  return t(error.opens > now ? "notOpen.at" : "notOpen.late", { at: when(error.opens) });
}

//: how long after the scheduled opening a waiting page asks again: at random within this
//: window (ms), so that the voters waiting for the opening do not all ask in the same second
export const OPENING_SPREAD_MS = 30_000;
//: how often a page asks again when no opening is scheduled or the opening has passed (ms),
//: plus up to a fifth more at random
export const POLL_MS = 60_000;
//: the longest delay `setTimeout` keeps (2^31 - 1 ms, about 24.8 days): a later opening is
//: asked about again then, and the delay set anew
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** The milliseconds until a page showing `error` (NotOpenYet) asks again: shortly after its
 * scheduled opening (spread over OPENING_SPREAD_MS), every POLL_MS (and up to a fifth more)
 * when none is scheduled or it is late, never beyond MAX_TIMER_MS. `random` in [0, 1). */
export function nextTry(error, now = Date.now(), random = Math.random) {
  if (error.opens !== null && error.opens > now) {
    return Math.min(error.opens - now + 1_000 + Math.floor(random() * OPENING_SPREAD_MS), MAX_TIMER_MS);
  }
  return POLL_MS + Math.floor(random() * (POLL_MS / 5));
}
