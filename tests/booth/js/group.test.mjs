import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { STATIC, vectors } from "./support.mjs";

const { GROUPS, groupByName, isElement, jacobi, modPow, parseNumber } = await import(
  new URL("group.js", STATIC)
);
const { FixedBase, multiPow } = await import(new URL("fixedbase.js", STATIC));

function randomBelow(n) {
  const bytes = Math.ceil(n.toString(2).length / 8) + 8;
  return BigInt("0x" + randomBytes(bytes).toString("hex")) % n;
}

function naivePow(b, e, p) {
  let acc = 1n;
  for (const bit of e.toString(2)) {
    acc = (acc * acc) % p;
    if (bit === "1") acc = (acc * b) % p;
  }
  return acc;
}

test("the groups are those of the Python side, parameter for parameter", () => {
  const python = vectors().groups;
  assert.deepEqual(Object.keys(GROUPS).sort(), Object.keys(python).sort());
  for (const [name, G] of Object.entries(GROUPS)) {
    assert.equal(G.p.toString(), python[name].p, name);
    assert.equal(G.q.toString(), python[name].q, name);
    assert.equal(G.g.toString(), python[name].g, name);
    assert.deepEqual(G.embedding === null ? null : { ...G.embedding }, python[name].embedding);
  }
});

test("g has order q in both groups; the safe prime's g is a quadratic residue", () => {
  for (const G of Object.values(GROUPS)) {
    assert.equal(modPow(G.g, G.q, G.p), 1n, G.name);
    assert.ok(isElement(G, G.g));
    assert.ok(!isElement(G, G.p - 1n), "-1 is not in the subgroup");
    assert.ok(!isElement(G, 0n) && !isElement(G, G.p) && !isElement(G, G.p + 1n));
  }
  assert.throws(() => groupByName("Ed25519"), { code: "V3000", message: /unknown group/ });
});

test("modPow equals square-and-multiply, and the Jacobi symbol equals Euler's criterion", () => {
  const G = GROUPS["RFC-3526-2048"];
  for (let i = 0; i < 5; i++) {
    const b = randomBelow(G.p);
    const e = randomBelow(1n << 300n);
    assert.equal(modPow(b, e, G.p), naivePow(b, e, G.p));
    const euler = modPow(b, G.q, G.p);
    assert.equal(jacobi(b, G.p), euler === 1n ? 1 : -1);
  }
  assert.equal(modPow(5n, 0n, 7n), 1n);
});

test("fixed-base tables and multi-exponentiation equal modPow (several windows)", () => {
  const G = GROUPS["BELENIOS-2048"];
  const y = modPow(G.g, randomBelow(G.q), G.p);
  for (const w of [3, 5, 8]) {
    const tg = new FixedBase(G.g, G.p, G.qBits, w);
    const ty = new FixedBase(y, G.p, G.qBits, w);
    for (const e of [0n, 1n, G.q - 1n, randomBelow(G.q), randomBelow(G.q)]) {
      assert.equal(tg.pow(e), modPow(G.g, e, G.p), `w=${w}`);
      const f = randomBelow(G.q);
      assert.equal(multiPow([ty, tg], [e, f]), (modPow(y, e, G.p) * modPow(G.g, f, G.p)) % G.p);
    }
    assert.throws(() => tg.pow(1n << 256n), RangeError);
    assert.throws(() => tg.pow(-1n), RangeError);
  }
  assert.equal(new FixedBase(G.g, G.p, G.qBits, null).w, 8); // null: the default
  for (const bad of [0, 17, 2.5, "8"]) {
    assert.throws(() => new FixedBase(G.g, G.p, G.qBits, bad), RangeError);
  }
});

test("parseNumber accepts canonical decimals only and never quotes the value", () => {
  assert.equal(parseNumber("0"), 0n);
  assert.equal(parseNumber("1234567890123456789012345"), 1234567890123456789012345n);
  for (const bad of ["", "01", "-1", "1e3", " 1", "12a", 12, null]) {
    assert.throws(
      () => parseNumber(bad, { field: "x" }),
      (e) => e.code === "V1003" && !e.message.includes("12a"),
    );
  }
});
