import assert from "node:assert/strict";
import { test } from "node:test";
import { STATIC, vectors } from "./support.mjs";

const { parseElection } = await import(new URL("election.js", STATIC));

const base = JSON.parse(vectors()["simple-0"].election);
const rfc = JSON.parse(vectors()["mixed-rfc-0"].election);

function edited(from, edit) {
  const copy = structuredClone(from);
  edit(copy);
  return JSON.stringify(copy);
}

test("an election parses to its questions and the fingerprint of its exact text", () => {
  const text = vectors()["simple-0"].election;
  const e = parseElection(text);
  assert.equal(e.questions.length, 4);
  assert.deepEqual({ ...e.questions[0] }, { kind: "h", answers: 4, blank: true, min: 1, max: 2 });
  assert.equal(e.fingerprint, JSON.parse(vectors()["simple-0"].ballot).election_hash);
  // One more space: other bytes, another fingerprint.
  assert.notEqual(
    parseElection(text.replace('{"version"', '{ "version"')).fingerprint,
    e.fingerprint,
  );
});

test("every malformed election is refused naming the field", () => {
  const cases = [
    [edited(base, (e) => (e.group = "Ed25519")), "V3000", /unknown group/],
    [edited(base, (e) => (e.public_key = "2")), "V2001", /not an element/],
    [edited(base, (e) => (e.public_key = "012")), "V1003", /canonical/],
    [edited(base, (e) => (e.uuid = "short")), "V3000", /uuid/],
    [edited(base, (e) => (e.version = 2)), "V3099", /version/],
    [edited(base, (e) => (e.extra = 1)), "V1001", /unexpected field\(s\) extra/],
    [edited(base, (e) => delete e.questions), "V1001", /missing field\(s\) questions/],
    [edited(base, (e) => (e.questions = [])), "V3000", /at least one question/],
    [edited(base, (e) => (e.questions[1].max = 3)), "V3000", /min <= max <= number of answers/],
    [edited(base, (e) => (e.questions[1].blank = "yes")), "V1001", /boolean/],
    [edited(base, (e) => e.questions.push(rfc.questions[1])), "V3000", /embedding/],
    [
      edited(rfc, (e) => (e.questions[1].value.answers = Array(300).fill("x"))),
      "V3000",
      /do not fit/,
    ],
    [edited(rfc, (e) => (e.questions[1].type = "Other")), "V3099", /question type/],
    ["{", "V1001", /invalid JSON/],
  ];
  for (const [text, code, message] of cases) {
    assert.throws(
      () => parseElection(text),
      (e) => e.code === code && message.test(e.message),
      message.source,
    );
  }
});
