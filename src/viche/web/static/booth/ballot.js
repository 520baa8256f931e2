// Encrypting, proving and signing a Belenios 2.0 ballot (specification 4.11-4.15), the same
// computation as src/viche/protocol/ballot.py and src/viche/crypto/answers.py, proofs.py:
// given the same randomness, the same bytes.
//
// Speed. The voter knows every witness, so every commitment of every proof is a product of
// powers of the two fixed bases g and y, and no exponentiation of a variable base is needed:
// a simulated branch (a, b) = (g^r, y^r g^d) of a disjunctive proof, with challenge c and
// response s, has the commitments A = g^s a^c = g^(s + r c) and B = y^s b^c = y^(s + r c)
// g^(d c). Those are exactly the values a verifier recomputes (so the bytes are the same as
// Python's), computed from tables of g and y built once per election (fixedbase.js).
//
// Randomness is drawn in the order of the Python code: for each question the encryption
// randomness of each choice, then each proof's branches in order (a real branch draws w, a
// simulated one its challenge then its response), then the signature's w. drawCount()
// knows how many values each question takes, so that a coordinator can draw everything
// first and hand the questions to several workers (pool.js) with the same result.

import { BoothError, CODES } from "./errors.js";
import { credentialSecret } from "./credential.js";
import { parseElection } from "./election.js";
import { FixedBase, multiPow } from "./fixedbase.js";
import { isElement, mod, modPow } from "./group.js";
import { b64Sha256, hashToZq } from "./hash.js";
import { dumps } from "./json.js";
import { ReplayRandom } from "./random.js";

// ---------------------------------------------------------------------- tables

/** Parse the election text and build the fixed-base tables of g and of the election key:
 * the context every other function takes. `window` overrides the table window width. */
export function buildTables(electionText, { window } = {}) {
  const t0 = performance.now();
  const election = parseElection(electionText);
  const { group } = election;
  const g = new FixedBase(group.g, group.p, group.qBits, window);
  const y = new FixedBase(election.y, group.p, group.qBits, window);
  return Object.freeze({ election, g, y, ms: performance.now() - t0 });
}

// ---------------------------------------------------------------------- plaintexts

function shapeError(message, question) {
  return new BoothError(CODES.BALLOT_SHAPE, message, question ? { question } : {});
}

/** Throw a BoothError (V3004) unless `plaintext` is a valid vote for question number
 * `index` (1-based), in belenios-tool's --ballot convention: 0/1 per answer, with a
 * leading blank flag when blank is allowed; small integers for a non-homomorphic one. */
export function validatePlaintext(question, plaintext, index) {
  if (!Array.isArray(plaintext)) throw shapeError("the answer must be a list of integers", index);
  if (question.kind === "nh") {
    if (plaintext.length !== question.answers) {
      throw shapeError(`${plaintext.length} values for ${question.answers} answers`, index);
    }
    plaintext.forEach((v, i) => {
      if (!Number.isInteger(v) || v < 0 || v >= 256) {
        throw shapeError(
          `value ${JSON.stringify(v)} at position ${i + 1} does not fit in 8 bits`,
          index,
        );
      }
    });
    return;
  }
  const { blank, min, max } = question;
  const expected = question.answers + (blank ? 1 : 0);
  if (plaintext.length !== expected) {
    const flag = blank ? " (a leading blank flag, then one per answer)" : "";
    throw shapeError(
      `plaintext has ${plaintext.length} values, expected ${expected}${flag}`,
      index,
    );
  }
  plaintext.forEach((m, i) => {
    if (m !== 0 && m !== 1) {
      throw shapeError(
        `choice ${blank ? i : i + 1} is ${JSON.stringify(m)}, expected 0 or 1`,
        index,
      );
    }
  });
  const selected = (blank ? plaintext.slice(1) : plaintext).reduce((a, b) => a + b, 0);
  if (blank && plaintext[0] === 1) {
    if (selected !== 0) {
      throw shapeError(`a blank vote must select no answer, but ${selected} are selected`, index);
    }
    return;
  }
  if (selected < min || selected > max) {
    throw shapeError(`${selected} answers selected, expected between ${min} and ${max}`, index);
  }
}

/** How many random exponents the answer to `question` draws. */
export function drawCount(question) {
  if (question.kind === "nh") return 2; // encryption, raweg proof
  const n = question.answers + (question.blank ? 1 : 0);
  const k = question.max - question.min + 1;
  // encryption, 0/1 proofs (one real and one simulated branch), overall proof,
  // blank proof (two branches) and the overall proof's extra blank branch.
  return question.blank ? n + 3 * n + 3 + (2 * (k + 1) - 1) : n + 3 * n + (2 * k - 1);
}

// ---------------------------------------------------------------------- proofs

/** A disjunctive Chaum-Pedersen proof (spec 4.12-4.13). Each branch {r, d} is the pair
 * (g^r, y^r g^d) known to the prover; the real one has d = 0. `head` is the hashed string
 * before the commitments A0,B0,...,Ak,Bk. Returns the proofs as JSON objects. */
function orProve(ctx, branches, real, head, rng) {
  const { q } = ctx.election.group;
  const commits = [];
  const fakes = [];
  let w = 0n;
  let sumFake = 0n;
  for (let j = 0; j < branches.length; j++) {
    if (j === real) {
      w = rng.randomZq(q);
      commits.push(ctx.g.pow(w), ctx.y.pow(w));
      fakes.push(null);
      continue;
    }
    const c = rng.randomZq(q);
    const s = rng.randomZq(q);
    const { r, d } = branches[j];
    const e = (s + r * c) % q;
    const B = d === 0n ? ctx.y.pow(e) : multiPow([ctx.y, ctx.g], [e, mod(d * c, q)]);
    commits.push(ctx.g.pow(e), B);
    fakes.push({ challenge: c.toString(), response: s.toString() });
    sumFake += c;
  }
  const h = hashToZq(head + commits.join(","), q);
  const challenge = mod(h - sumFake, q);
  const response = mod(w - branches[real].r * challenge, q);
  fakes[real] = { challenge: challenge.toString(), response: response.toString() };
  return fakes;
}

/** Encrypt and prove one homomorphic answer (spec 4.11.1, 4.12, 4.13). Ciphertext
 * components are turned into decimal once: they are hashed and written several times. */
function homomorphicAnswer(ctx, s0, question, plaintext, rng) {
  const { p, q, g } = ctx.election.group;
  const rs = plaintext.map(() => rng.randomZq(q));
  const alphas = rs.map((r) => ctx.g.pow(r));
  const betas = rs.map((r, i) => (plaintext[i] ? (ctx.y.pow(r) * g) % p : ctx.y.pow(r)));
  const choices = alphas.map((a, i) => ({ alpha: a.toString(), beta: betas[i].toString() }));
  const individual_proofs = choices.map((ct, i) => {
    const m = BigInt(plaintext[i]);
    const branches = [0n, 1n].map((v) => ({ r: rs[i], d: m - v }));
    return orProve(ctx, branches, plaintext[i], `prove|${s0}|${ct.alpha},${ct.beta}|`, rng);
  });
  const S = `${s0}|${choices.map((ct) => `${ct.alpha},${ct.beta}`).join(",")}`;
  const values = [];
  for (let v = question.min; v <= question.max; v++) values.push(BigInt(v));
  const sumR = (from) => rs.slice(from).reduce((a, b) => a + b, 0n) % q;
  const sumM = (from) => BigInt(plaintext.slice(from).reduce((a, b) => a + b, 0));
  const product = (xs) => xs.reduce((a, b) => (a * b) % p, 1n);
  if (!question.blank) {
    const [R, M] = [sumR(0), sumM(0)];
    const branches = values.map((v) => ({ r: R, d: M - v }));
    const head = `prove|${S}|${product(alphas)},${product(betas)}|`;
    const overall_proof = orProve(ctx, branches, Number(M) - question.min, head, rng);
    return { choices, individual_proofs, overall_proof };
  }
  // The blank flag's ciphertext (m0, r0) against the product of the others (mS, rS).
  const [r0, m0] = [rs[0], BigInt(plaintext[0])];
  const [rS, mS] = [sumR(1), sumM(1)];
  const isBlank = m0 === 1n;
  const blankBranches = [
    { r: r0, d: m0 },
    { r: rS, d: mS },
  ];
  const blank_proof = orProve(ctx, blankBranches, isBlank ? 1 : 0, `bproof0|${S}|`, rng);
  const branches = [{ r: r0, d: m0 - 1n }, ...values.map((v) => ({ r: rS, d: mS - v }))];
  const real = isBlank ? 0 : Number(mS) - question.min + 1;
  const overall_proof = orProve(ctx, branches, real, `bproof1|${S}|`, rng);
  // Key order of the specification: the blank proof comes last.
  return { choices, individual_proofs, overall_proof, blank_proof };
}

/** group_encode (spec 4.11.2): the 8-bit values packed big-endian, shifted by the padding,
 * plus the smallest padding value that makes the result a group element. */
export function groupEncode(group, values) {
  const { bitsPerInt, padding } = group.embedding;
  let acc = 0n;
  for (const v of values) acc = (acc << BigInt(bitsPerInt)) | BigInt(v);
  const base = acc << BigInt(padding);
  for (let eps = 0n; eps < 1n << BigInt(padding); eps++) {
    if (isElement(group, base + eps)) return base + eps;
  }
  throw new BoothError(
    CODES.BALLOT_SHAPE,
    `no ${padding}-bit padding makes the encoded vector a group element`,
  );
}

function nonHomomorphicAnswer(ctx, s0, plaintext, rng) {
  const { group, y } = ctx.election;
  const { p, q } = group;
  const xi = groupEncode(group, plaintext);
  const r = rng.randomZq(q);
  const alpha = ctx.g.pow(r).toString();
  const beta = ((ctx.y.pow(r) * xi) % p).toString();
  const w = rng.randomZq(q);
  const A = ctx.g.pow(w);
  const c = hashToZq(`raweg|${s0}|${y},${alpha},${beta}|${A}`, q);
  return {
    answer: {
      choices: { alpha, beta },
      proof: { challenge: c.toString(), response: mod(w - r * c, q).toString() },
    },
    randomness: [r],
  };
}

/** One answer: {index, s0, plaintext, draws} -> {index, answer (JSON object), randomness
 * (the encryption exponents, for auditing)}. The unit of work of a pool's worker. */
export function answerTask(ctx, task) {
  const question = ctx.election.questions[task.index];
  const rng = new ReplayRandom(task.draws);
  let out;
  if (question.kind === "nh") {
    out = nonHomomorphicAnswer(ctx, task.s0, task.plaintext, rng);
  } else {
    const answer = homomorphicAnswer(ctx, task.s0, question, task.plaintext, rng);
    out = { answer, randomness: rng.values.slice(0, task.plaintext.length) };
  }
  rng.finish();
  return { index: task.index, answer: out.answer, randomness: out.randomness.map(String) };
}

// ---------------------------------------------------------------------- the ballot

/** Everything a ballot needs before its answers: the checked plaintexts, the credential
 * secret (derived here unless `secret`, derived earlier from `privcred`, is given), and
 * all the randomness drawn from `rng` in Python's order. */
export function prepareBallot(election, privcred, choices, rng, secret = null) {
  const { questions, group } = election;
  if (!Array.isArray(choices) || choices.length !== questions.length) {
    const n = Array.isArray(choices) ? choices.length : 0;
    throw shapeError(`${n} plaintext answer(s) for ${questions.length} question(s)`);
  }
  questions.forEach((question, i) => validatePlaintext(question, choices[i], i + 1));
  secret ??= credentialSecret(group, privcred, election.uuid);
  const draws = questions.map((question) => {
    const out = [];
    for (let k = drawCount(question); k > 0; k--) out.push(rng.randomZq(group.q));
    return out;
  });
  const signatureW = rng.randomZq(group.q);
  return { secret, draws, signatureW };
}

/** S0 = fingerprint|credential, the prefix of every answer's hashed strings (spec 4.11). */
export function answerPrefix(election, credential) {
  return `${election.fingerprint}|${credential}`;
}

/** The signed ballot (spec 4.14-4.15) from the results of answerTask, in question order:
 * {ballot: canonical JSON text, tracker, randomness}. `powg` computes g^e. */
export function signBallot(election, secret, credential, results, signatureW, powg) {
  const { q } = election.group;
  const ballot = {
    election_uuid: election.uuid,
    election_hash: election.fingerprint,
    credential: credential.toString(),
    answers: results.map((r) => r.answer),
  };
  const hash = b64Sha256(dumps(ballot));
  const A = powg(signatureW);
  const c = hashToZq(`sig|${hash}|${A}`, q);
  const response = mod(signatureW - secret * c, q);
  ballot.signature = { hash, proof: { challenge: c.toString(), response: response.toString() } };
  const text = dumps(ballot);
  return { ballot: text, tracker: b64Sha256(text), randomness: results.map((r) => r.randomness) };
}

/** Encrypt, prove and sign a vote in this thread, with the tables of `ctx` (buildTables).
 * Returns {ballot: canonical JSON text, tracker: smart ballot tracker, randomness: per
 * question, the encryption exponents (decimal) of its choices, for auditing}. */
export function encryptBallot(ctx, privcred, choices, rng) {
  const { election } = ctx;
  const { secret, draws, signatureW } = prepareBallot(election, privcred, choices, rng);
  const credential = ctx.g.pow(secret);
  const s0 = answerPrefix(election, credential);
  const results = draws.map((d, index) =>
    answerTask(ctx, { index, s0, plaintext: choices[index], draws: d }),
  );
  return signBallot(election, secret, credential, results, signatureW, (e) => ctx.g.pow(e));
}

/** A cheap g^e without tables (for a coordinator that holds none). */
export function powgPlain(election, e) {
  return modPow(election.group.g, e, election.group.p);
}

// ---------------------------------------------------------------------- auditing

/** The audit file of an encrypted ballot `out` (encryptBallot's result) of `election`
 * (parseElection's) for `choices`: what `viche ballot audit` checks. */
export function auditFile(election, out, choices) {
  return JSON.stringify({
    election: election.uuid,
    fingerprint: election.fingerprint,
    tracker: out.tracker,
    choices,
    randomness: out.randomness,
    ballot: JSON.parse(out.ballot),
  });
}

/** Check that an audited ballot encrypts `choices` with the revealed `randomness`
 * (Helios-style cast-or-audit): every ciphertext is recomputed as (g^r, y^r g^m) or
 * (g^r, y^r encode(values)). Returns true or throws a BoothError naming the question. */
export function auditBallot(ctx, ballotText, choices, randomness) {
  const { election } = ctx;
  const { p } = election.group;
  let ballot;
  try {
    ballot = JSON.parse(ballotText);
  } catch (exc) {
    throw new BoothError(CODES.JSON_FORMAT, `invalid ballot JSON: ${exc.message}`);
  }
  if (ballot.election_hash !== election.fingerprint || !Array.isArray(ballot.answers)) {
    throw new BoothError(CODES.WRONG_ELECTION, "the ballot is not for this election");
  }
  if (
    ballot.answers.length !== election.questions.length ||
    randomness.length !== election.questions.length
  ) {
    throw shapeError("one answer and one list of randomness per question are needed");
  }
  election.questions.forEach((question, i) => {
    validatePlaintext(question, choices[i], i + 1);
    const answer = ballot.answers[i];
    const expected =
      question.kind === "nh"
        ? [{ r: BigInt(randomness[i][0]), extra: groupEncode(election.group, choices[i]) }]
        : choices[i].map((m, j) => ({
            r: BigInt(randomness[i][j]),
            extra: m ? election.group.g : 1n,
          }));
    const cts = question.kind === "nh" ? [answer.choices] : answer.choices;
    if (
      !Array.isArray(cts) ||
      cts.length !== expected.length ||
      randomness[i].length !== expected.length
    ) {
      throw shapeError("wrong number of ciphertexts or random values", i + 1);
    }
    expected.forEach(({ r, extra }, j) => {
      const alpha = ctx.g.pow(r).toString();
      const beta = ((ctx.y.pow(r) * extra) % p).toString();
      if (cts[j].alpha !== alpha || cts[j].beta !== beta) {
        throw new BoothError(
          CODES.BALLOT_SHAPE,
          "the ballot does not encrypt these choices with this randomness",
          {
            question: i + 1,
            choice: j,
          },
        );
      }
    });
  });
  return true;
}
