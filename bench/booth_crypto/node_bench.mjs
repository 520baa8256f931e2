// Node side of bench/booth_crypto/run.py:
//   node node_bench.mjs ELECTION_FILE PRIVCRED_FILE CHOICES_JSON RUNS [WINDOW]
// prints one JSON line: table build times and ballot times (ms, wall clock and this
// process's CPU) in one thread and in a pool of two worker threads, and the last ballot.

import { readFileSync } from "node:fs";
import { nodeWorker, STATIC } from "../../tests/booth/js/support.mjs";

const { buildTables, encryptBallot } = await import(new URL("ballot.js", STATIC));
const { BoothPool } = await import(new URL("pool.js", STATIC));
const { SystemRandom } = await import(new URL("random.js", STATIC));

const [electionFile, credFile, choicesJson, runsArg, windowArg] = process.argv.slice(2);
const window = windowArg ? Number(windowArg) : undefined;
const election = readFileSync(electionFile, "utf8");
const privcred = readFileSync(credFile, "utf8");
const choices = JSON.parse(choicesJson);
const runs = Number(runsArg);
const rng = new SystemRandom();

function cpuMs(start) {
  const u = process.cpuUsage(start);
  return (u.user + u.system) / 1000;
}

const out = { one: { ballots: [], cpu: [] }, pool: { ballots: [] } };
let t0 = performance.now();
let c0 = process.cpuUsage();
const ctx = buildTables(election, { window });
out.one.tables = performance.now() - t0;
out.one.tablesCpu = cpuMs(c0);
let last;
for (let i = 0; i < runs; i++) {
  t0 = performance.now();
  c0 = process.cpuUsage();
  last = encryptBallot(ctx, privcred, choices, rng);
  out.one.ballots.push(performance.now() - t0);
  out.one.cpu.push(cpuMs(c0));
}
const pool = new BoothPool({ size: 2, spawn: nodeWorker, window });
try {
  const built = await pool.buildTables(election);
  out.pool.tables = built.ms;
  pool.deriveCredential(election, privcred); // as the booth, when the credential is entered
  for (let i = 0; i < runs; i++) {
    t0 = performance.now();
    last = await pool.encryptBallot(election, privcred, choices, rng);
    out.pool.ballots.push(performance.now() - t0);
  }
} finally {
  pool.terminate();
}
out.ballot = last.ballot;
process.stdout.write(JSON.stringify(out) + "\n");
