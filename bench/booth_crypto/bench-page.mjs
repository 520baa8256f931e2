// Chromium side of bench/booth_crypto/run.py: a pool of browser Workers (one per core,
// two here) builds the tables, then encrypts RUNS ballots; the times go back to the bench
// by POST /result.
import { BoothPool } from "/booth/pool.js";
import { SystemRandom } from "/booth/random.js";

async function main() {
  const data = await (await fetch("/data.json")).json();
  const pool = new BoothPool({ size: data.workers, window: data.window });
  const rng = new SystemRandom();
  const out = { ballots: [], cores: navigator.hardwareConcurrency };
  try {
    const built = await pool.buildTables(data.election);
    out.tables = built.ms;
    out.tablesWorkers = built.workers;
    // as the booth does once the credential is entered, before Encrypt
    const c0 = performance.now();
    pool.deriveCredential(data.election, data.privcred);
    out.credential = performance.now() - c0;
    let last;
    for (let i = 0; i < data.runs; i++) {
      const t0 = performance.now();
      last = await pool.encryptBallot(data.election, data.privcred, data.choices, rng);
      out.ballots.push(performance.now() - t0);
    }
    out.ballot = last.ballot;
  } catch (exc) {
    out.error = `${exc.code ?? ""} ${exc.message}`;
  } finally {
    pool.terminate();
  }
  await fetch("/result", { method: "POST", body: JSON.stringify(out) });
  document.getElementById("status").textContent = "done";
}

main();
