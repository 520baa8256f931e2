import assert from "node:assert/strict";
import { test } from "node:test";
import { nodeWorker, STATIC, vectors } from "./support.mjs";

const B = await import(new URL("ballot.js", STATIC));
const { ReplayRandom, SystemRandom } = await import(new URL("random.js", STATIC));
const { BoothPool } = await import(new URL("pool.js", STATIC));
const { dumps } = await import(new URL("json.js", STATIC));

const VECTORS = vectors();
const BALLOTS = Object.values(VECTORS).filter((v) => v.ballot);
const tables = new Map();
function ctxOf(v) {
  if (!tables.has(v.election)) tables.set(v.election, B.buildTables(v.election));
  return tables.get(v.election);
}

test("the vectors cover blank, non-homomorphic and large ballots", () => {
  assert.ok(BALLOTS.length >= 20); // fixed cases and seeded random shapes
  assert.ok(BALLOTS.some((v) => v.ballot.includes('"blank_proof"')));
  assert.ok(
    BALLOTS.some(
      (v) => v.ballot.includes('"proof":{"challenge"') && v.election.includes("NonHomomorphic"),
    ),
  );
  assert.ok(BALLOTS.some((v) => JSON.parse(v.election).questions.length === 10));
});

test("same election, credential, choices and randomness: the Python ballot byte for byte", () => {
  for (const v of BALLOTS) {
    const rng = new ReplayRandom(v.draws);
    const out = B.encryptBallot(ctxOf(v), v.credential, v.choices, rng);
    assert.equal(out.ballot, v.ballot, v.name);
    assert.equal(out.tracker, v.tracker, v.name);
    rng.finish(); // every recorded value used, in the recorded order
    assert.equal(out.randomness.length, v.choices.length);
  }
});

test("one different random value: a different ballot (the randomness is really used)", () => {
  const v = VECTORS["simple-0"];
  for (const k of [0, 5, v.draws.length - 1]) {
    const draws = v.draws.slice();
    draws[k] = (BigInt(draws[k]) + 1n).toString();
    const out = B.encryptBallot(ctxOf(v), v.credential, v.choices, new ReplayRandom(draws));
    assert.notEqual(out.ballot, v.ballot, `draw ${k}`);
  }
  // Too few recorded values: an error, not a silently different ballot.
  assert.throws(
    () => B.encryptBallot(ctxOf(v), v.credential, v.choices, new ReplayRandom(v.draws.slice(1))),
    /exhausted/,
  );
});

test("a pool of two worker threads gives the same bytes as one thread", async () => {
  const pool = new BoothPool({ size: 2, spawn: nodeWorker });
  try {
    for (const name of ["large-0", "mixed-rfc-1", "simple-1"]) {
      const v = VECTORS[name];
      const built = await pool.buildTables(v.election);
      assert.equal(built.workers.length, 2);
      const out = await pool.encryptBallot(
        v.election,
        v.credential,
        v.choices,
        new ReplayRandom(v.draws),
      );
      assert.equal(out.ballot, v.ballot, name);
      assert.equal(out.tracker, v.tracker, name);
      // the credential derived beforehand (as the booth does): the same bytes
      const derived = pool.deriveCredential(v.election, v.credential);
      const again = await pool.encryptBallot(
        v.election,
        v.credential,
        v.choices,
        new ReplayRandom(v.draws),
      );
      assert.equal(again.ballot, v.ballot, name);
      assert.equal(JSON.parse(again.ballot).credential, derived.credential.toString());
      pool.forgetCredential();
      assert.equal(pool.derived, null);
    }
    // An error inside a worker reaches the caller with its code.
    const v = VECTORS["simple-0"];
    await assert.rejects(
      pool.encryptBallot(v.election, "Nvd-xsf-f8f-koR-DeW", v.choices, new SystemRandom()),
      { code: "V1004" },
    );
  } finally {
    pool.terminate();
  }
});

test("other table windows, same bytes", async () => {
  const v = VECTORS["simple-1"];
  const pool = new BoothPool({ size: 2, spawn: nodeWorker, window: 5 });
  try {
    const out = await pool.encryptBallot(
      v.election,
      v.credential,
      v.choices,
      new ReplayRandom(v.draws),
    );
    assert.equal(out.ballot, v.ballot);
  } finally {
    pool.terminate();
  }
  const ctx = B.buildTables(v.election, { window: 11 });
  assert.equal(ctx.g.w, 11);
  assert.equal(
    B.encryptBallot(ctx, v.credential, v.choices, new ReplayRandom(v.draws)).ballot,
    v.ballot,
  );
});

test("a worker that cannot start fails the pool's calls instead of leaving them hanging", async () => {
  const pool = new BoothPool({
    size: 1,
    spawn: () => nodeWorker(new URL("no-such-worker.js", STATIC)),
  });
  try {
    await assert.rejects(pool.buildTables(VECTORS["simple-0"].election), {
      message: /worker error/,
    });
  } finally {
    pool.terminate();
  }
});

test("invalid choices are refused naming the question, before any randomness is drawn", () => {
  const v = VECTORS["simple-0"];
  const ctx = ctxOf(v);
  const cases = [
    [
      [
        [0, 1, 0, 1, 0],
        [0, 0],
        [1, 1, 1],
      ],
      /3 plaintext answer\(s\) for 4 question/,
      undefined,
    ],
    [
      [
        [0, 1, 1, 1, 0],
        [0, 0],
        [1, 1, 1],
        [0, 1],
      ],
      /3 answers selected, expected between 1 and 2/,
      1,
    ],
    [
      [
        [1, 1, 0, 0, 0],
        [0, 0],
        [1, 1, 1],
        [0, 1],
      ],
      /blank vote must select no answer/,
      1,
    ],
    [
      [
        [0, 1, 0, 1, 0],
        [0, 2],
        [1, 1, 1],
        [0, 1],
      ],
      /choice 2 is 2, expected 0 or 1/,
      2,
    ],
    [
      [
        [0, 1, 0, 1, 0],
        [0, 0],
        [1, 1],
        [0, 1],
      ],
      /plaintext has 2 values, expected 3/,
      3,
    ],
    [[[0, 1, 0, 1, 0], [0, 0], [1, 1, 1], [1]], /expected 2 \(a leading blank flag/, 4],
  ];
  for (const [choices, message, question] of cases) {
    const rng = new ReplayRandom(v.draws);
    assert.throws(
      () => B.encryptBallot(ctx, v.credential, choices, rng),
      (e) => e.code === "V3004" && message.test(e.message) && e.where.question === question,
    );
    assert.equal(rng.used, 0);
  }
  const mixed = VECTORS["mixed-rfc-0"];
  assert.throws(
    () =>
      B.encryptBallot(
        ctxOf(mixed),
        mixed.credential,
        [
          [0, 1, 0, 1],
          [1, 256, 3],
        ],
        new SystemRandom(),
      ),
    { code: "V3004", message: /256 at position 2 does not fit in 8 bits/ },
  );
});

test("an audited ballot opens to its choices; other choices or randomness do not", () => {
  for (const v of [VECTORS["simple-2"], VECTORS["mixed-rfc-1"]]) {
    const ctx = ctxOf(v);
    const out = B.encryptBallot(ctx, v.credential, v.choices, new SystemRandom());
    assert.notEqual(out.ballot, v.ballot); // fresh randomness
    assert.ok(B.auditBallot(ctx, out.ballot, v.choices, out.randomness));
    const other = structuredClone(v.choices);
    other[1][0] = other[1][0] ? 0 : 1;
    if (other[1].length === 2) other[1][1] = other[1][1] ? 0 : 1; // keep it a valid vote
    assert.throws(() => B.auditBallot(ctx, out.ballot, other, out.randomness), {
      code: "V3004",
      message: /does not encrypt/,
    });
    const wrongR = structuredClone(out.randomness);
    wrongR[0][0] = (BigInt(wrongR[0][0]) + 1n).toString();
    assert.throws(() => B.auditBallot(ctx, out.ballot, v.choices, wrongR), {
      where: { question: 1, choice: 0 },
    });
  }
});

test("canonical JSON equals the Python codec's, and refuses what it cannot write alike", () => {
  const codec = VECTORS.codec;
  codec.values.forEach((value, i) => assert.equal(dumps(value), codec.dumps[i]));
  for (const bad of [
    { x: 1.5 },
    { x: 2 ** 60 },
    { x: "\ud800" },
    { 1: "a" },
    { x: undefined },
    [() => 1],
  ]) {
    assert.throws(() => dumps(bad), { code: "V1001" });
  }
});

test("the system randomness is uniform-looking and below q", () => {
  const rng = new SystemRandom();
  const q = 1000003n;
  const seen = new Set();
  for (let i = 0; i < 200; i++) {
    const x = rng.randomZq(q);
    assert.ok(x >= 0n && x < q);
    seen.add(x);
  }
  assert.ok(seen.size > 190);
});

test("the system randomness, drawn from a buffer, covers small ranges and crosses refills", () => {
  const rng = new SystemRandom();
  const counts = new Map();
  for (let i = 0; i < 6000; i++) {
    // 6000 one-byte draws (and their rejections) cross the 4 KiB buffer more than once
    const x = rng.randomZq(5n);
    assert.ok(x >= 0n && x < 5n);
    counts.set(x, (counts.get(x) ?? 0) + 1);
  }
  assert.equal(counts.size, 5);
  for (const n of counts.values()) assert.ok(n > 1000 && n < 1400, `${n} of 6000`);
  const q = BigInt("0x" + "f".repeat(63) + "1"); // 256 bits: 32 bytes a draw
  const big = new Set(Array.from({ length: 300 }, () => rng.randomZq(q)));
  assert.equal(big.size, 300);
  for (const x of big) assert.ok(x < q);
});
