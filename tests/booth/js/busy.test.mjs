import assert from "node:assert/strict";
import { test } from "node:test";
import { STATIC } from "./support.mjs";

const { retryAfter, sendPatiently, jittered, JITTER, JITTER_CAP } = await import(new URL("busy.js", STATIC));

const answer = (status, body, headers = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });
// what viche serve answers: the wait in milliseconds in the body, rounded up to seconds in the header
const full = (ms) =>
  answer(503, { code: "V9016", message: "full", retry_after_ms: ms }, { "Retry-After": String(Math.max(1, Math.ceil(ms / 1000))) });
// a full server that gives Retry-After only
const fullSeconds = (seconds) => answer(503, { code: "V9016", message: "full" }, { "Retry-After": String(seconds) });

test("a full server's retry_after_ms is the wait, to the millisecond", async () => {
  assert.equal(await retryAfter(full(120)), 0.12);
  assert.equal(await retryAfter(full(2500)), 2.5);
  // not a wait the booth takes: Retry-After instead
  assert.equal(await retryAfter(answer(503, { code: "V9016", retry_after_ms: 0 }, { "Retry-After": "2" })), 2);
  assert.equal(await retryAfter(answer(503, { code: "V9016", retry_after_ms: -5 }, { "Retry-After": "2" })), 2);
  assert.equal(await retryAfter(answer(503, { code: "V9016", retry_after_ms: 1.5 }, { "Retry-After": "2" })), 2);
  assert.equal(await retryAfter(answer(503, { code: "V9016", retry_after_ms: "120" }, { "Retry-After": "2" })), 2);
  assert.equal(await retryAfter(answer(503, { code: "V9016", retry_after_ms: 4_000_000 }, { "Retry-After": "2" })), 2);
  // the milliseconds only with V9016 on a 503
  assert.equal(await retryAfter(answer(503, { code: "V4010", retry_after_ms: 100 })), null);
  assert.equal(await retryAfter(answer(429, { code: "V9016", retry_after_ms: 100 })), null);
});

test("without retry_after_ms, only a full server's 503 with V9016 and whole seconds asks to wait", async () => {
  assert.equal(await retryAfter(fullSeconds(3)), 3);
  assert.equal(await retryAfter(answer(201, { tracker: "t" })), null);
  assert.equal(await retryAfter(answer(503, { code: "V4010" }, { "Retry-After": "2" })), null);
  assert.equal(await retryAfter(answer(503, { code: "V9016" })), null);
  assert.equal(await retryAfter(answer(503, { code: "V9016" }, { "Retry-After": "soon" })), null);
  assert.equal(await retryAfter(answer(503, null, { "Retry-After": "1" })), null);
  assert.equal(await retryAfter(new Response("not json", { status: 503, headers: { "Retry-After": "1" } })), null);
});

test("the jitter is at most a fifth of the wait, and at most a second", () => {
  assert.equal(JITTER, 0.2);
  assert.equal(JITTER_CAP, 1);
  assert.equal(jittered(0.1, () => 0), 0.1);
  assert.ok(Math.abs(jittered(0.1, () => 1) - 0.12) < 1e-12);
  assert.ok(Math.abs(jittered(2, () => 0.5) - 2.2) < 1e-12);
  assert.equal(jittered(30, () => 1), 31); // capped: a second more at most
});

test("the same ballot is sent again after the wait asked, until the server takes it", async () => {
  const answers = [full(150), fullSeconds(2), full(5000), answer(201, { tracker: "t" })];
  const slept = [];
  const told = [];
  let sent = 0;
  const r = await sendPatiently(async () => answers[sent++], {
    onWait: (s) => told.push(s),
    sleep: async (s) => slept.push(s),
    random: () => 0.5,
  });
  assert.equal(r.status, 201);
  assert.equal(sent, 4);
  assert.deepEqual(told, [0.15, 2, 5]);
  const expected = [0.165, 2.2, 5.5];
  slept.forEach((s, k) => assert.ok(Math.abs(s - expected[k]) < 1e-9, `${s} vs ${expected[k]}`));
});

test("beyond its patience the booth shows the server's answer", async () => {
  let sent = 0;
  const r = await sendPatiently(async () => (sent++, full(400_000)), {
    sleep: async () => {},
    random: () => 0,
    patience: 600,
  });
  assert.equal(r.status, 503);
  assert.equal(sent, 2); // 400 s waited once; another 400 would pass 600
});
