// A ballot made by the booth's JavaScript, from the command line (for the interop tests
// and the bench):
//   node make_ballot.mjs ELECTION_FILE PRIVCRED_FILE CHOICES_JSON [WORKERS] [audit]
// prints the ballot (canonical JSON, no newline) on stdout and its tracker on stderr, like
// `belenios-tool election generate-ballot`. WORKERS > 0 uses a pool of worker threads.
// With "audit", stdout gets the booth's audit file instead (ballot.js auditFile).
// Errors: the code and message on stderr, exit status 2.

import { readFileSync } from "node:fs";
import { nodeWorker, STATIC } from "./support.mjs";

const { auditFile, buildTables, encryptBallot } = await import(new URL("ballot.js", STATIC));
const { parseElection } = await import(new URL("election.js", STATIC));
const { BoothPool } = await import(new URL("pool.js", STATIC));
const { SystemRandom } = await import(new URL("random.js", STATIC));

const [electionFile, credFile, choicesJson, workersArg = "0", mode = ""] = process.argv.slice(2);
const election = readFileSync(electionFile, "utf8");
const privcred = readFileSync(credFile, "utf8");
const choices = JSON.parse(choicesJson);
const workers = Number(workersArg);
try {
  let out;
  if (workers > 0) {
    const pool = new BoothPool({ size: workers, spawn: nodeWorker });
    try {
      await pool.buildTables(election);
      out = await pool.encryptBallot(election, privcred, choices, new SystemRandom());
    } finally {
      pool.terminate();
    }
  } else {
    out = encryptBallot(buildTables(election), privcred, choices, new SystemRandom());
  }
  process.stdout.write(
    mode === "audit" ? auditFile(parseElection(election), out, choices) : out.ballot,
  );
  process.stderr.write(out.tracker + "\n");
} catch (exc) {
  process.stderr.write(`${exc.code ?? "error"}: ${exc.message}\n`);
  process.exitCode = 2;
}
