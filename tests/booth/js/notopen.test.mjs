import assert from "node:assert/strict";
import { test } from "node:test";
import { STATIC } from "./support.mjs";

globalThis.document ??= { documentElement: {} };
const COMMON = new URL("../common/", STATIC);
const { setLang, when } = await import(new URL("i18n.js", COMMON));
const { answerError, MAX_TIMER_MS, nextTry, NotOpenYet, notOpenText, OPENING_SPREAD_MS, POLL_MS } =
  await import(new URL("notopen.js", COMMON));

const answer = (status, body) =>
  new Response(typeof body === "string" ? body : JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json" },
  });
const OPENS = "2030-05-01T06:00:00Z";

test("a 409 with V3009 is NotOpenYet, with the opening time when the server gives one", async () => {
  const scheduled = await answerError(answer(409, { code: "V3009", message: "m", opens: OPENS }));
  assert.ok(scheduled instanceof NotOpenYet);
  assert.equal(scheduled.opens, Date.parse(OPENS));
  const unscheduled = await answerError(answer(409, { code: "V3009", message: "m", opens: null }));
  assert.ok(unscheduled instanceof NotOpenYet);
  assert.equal(unscheduled.opens, null);
  const garbled = await answerError(answer(409, { code: "V3009", opens: "soon" }));
  assert.equal(garbled.opens, null);
});

test("any other failure is an Error named by its status, as before", async () => {
  for (const [status, body] of [
    [404, { code: "V4012", message: "no such election" }],
    [409, { code: "V3005", message: "closed" }],
    [409, "not json"],
    [500, {}],
  ]) {
    const error = await answerError(answer(status, body));
    assert.ok(!(error instanceof NotOpenYet), String(status));
    assert.equal(error.message, String(status));
  }
});

test("the voter reads when it opens, that it was to open, or that it is not open yet", () => {
  const opens = Date.parse(OPENS);
  setLang("en");
  assert.equal(notOpenText(new NotOpenYet(null)), "This election is not open yet.");
  assert.equal(notOpenText(new NotOpenYet(opens), opens - 1), `This election opens ${when(opens)}.`);
  assert.equal(
    notOpenText(new NotOpenYet(opens), opens + 1),
    `This election was to open ${when(opens)}; it is not open yet.`,
  );
  assert.match(when(opens), /2030/);
  setLang("uk");
  assert.equal(notOpenText(new NotOpenYet(null)), "Ці вибори ще не відкриті.");
  assert.equal(notOpenText(new NotOpenYet(opens), opens - 1), `Ці вибори відкриються ${when(opens)}.`);
  assert.match(when(opens), /2030/);
});

test("a waiting page asks again just after the opening, spread; polls when none is set or it is late", () => {
  const now = Date.parse("2030-05-01T05:00:00Z");
  const opens = Date.parse(OPENS); // an hour later
  const low = nextTry(new NotOpenYet(opens), now, () => 0);
  const high = nextTry(new NotOpenYet(opens), now, () => 0.999999);
  assert.ok(low > opens - now, "never before the opening");
  assert.ok(high <= opens - now + 1_000 + OPENING_SPREAD_MS);
  assert.ok(high - low >= OPENING_SPREAD_MS - 1, "spread over the window");
  for (const error of [new NotOpenYet(null), new NotOpenYet(now - 1)]) {
    assert.equal(nextTry(error, now, () => 0), POLL_MS);
    assert.ok(nextTry(error, now, () => 0.999999) < POLL_MS * 1.2);
  }
  const far = nextTry(new NotOpenYet(now + 90 * 86_400_000), now, () => 0.5);
  assert.equal(far, MAX_TIMER_MS, "a setTimeout delay that does not overflow");
});
