import assert from "node:assert/strict";
import { test } from "node:test";
import { STATIC } from "./support.mjs";

const { retryAfter, sendPatiently } = await import(new URL("busy.js", STATIC));

const answer = (status, body, headers = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });
const full = (seconds) => answer(503, { code: "V9016", message: "full" }, { "Retry-After": String(seconds) });

test("only a full server's 503 with V9016 and whole seconds asks to wait", async () => {
  assert.equal(await retryAfter(full(3)), 3);
  assert.equal(await retryAfter(answer(201, { tracker: "t" })), null);
  assert.equal(await retryAfter(answer(503, { code: "V4010" }, { "Retry-After": "2" })), null);
  assert.equal(await retryAfter(answer(503, { code: "V9016" })), null);
  assert.equal(await retryAfter(answer(503, { code: "V9016" }, { "Retry-After": "soon" })), null);
  assert.equal(await retryAfter(new Response("not json", { status: 503, headers: { "Retry-After": "1" } })), null);
});

test("the same ballot is sent again after the wait asked, until the server takes it", async () => {
  const answers = [full(2), full(5), answer(201, { tracker: "t" })];
  const slept = [];
  const told = [];
  let sent = 0;
  const r = await sendPatiently(async () => answers[sent++], {
    onWait: (s) => told.push(s),
    sleep: async (s) => slept.push(s),
    random: () => 0.5,
  });
  assert.equal(r.status, 201);
  assert.equal(sent, 3);
  assert.deepEqual(told, [2, 5]);
  assert.deepEqual(slept, [2.5, 5.5]);
});

test("beyond its patience the booth shows the server's answer", async () => {
  let sent = 0;
  const r = await sendPatiently(async () => (sent++, full(400)), {
    sleep: async () => {},
    random: () => 0,
    patience: 600,
  });
  assert.equal(r.status, 503);
  assert.equal(sent, 2); // 400 s waited once; another 400 would pass 600
});
