// An election that exists but is not open yet (still being set up): the API answers its
// public addresses 409 with code V3009 and, when the administrator scheduled the opening,
// `opens` (ISO 8601 UTC). The pages and the booth tell the voter when it opens, never
// "no such election".

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
