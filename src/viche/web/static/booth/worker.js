// The booth's crypto worker: holds the fixed-base tables of the elections it was given and
// computes answers (encryption and proofs) for a pool (pool.js). Messages:
//   {id, op: "tables", election, window}            -> {id, ok: true, ms}
//   {id, op: "answers", election, window, tasks}    -> {id, ok: true, results}
// and {id, ok: false, error: {code, message, where}} on failure. The same file runs as a
// browser module Worker and as a Node worker thread (tests and bench).

import { answerTask, buildTables } from "./ballot.js";

const contexts = new Map(); // window|election text -> tables (the last few elections)
const KEEP = 2;

function tablesFor(election, window) {
  const key = `${window ?? ""}|${election}`;
  let ctx = contexts.get(key);
  if (!ctx) {
    ctx = buildTables(election, { window });
    contexts.set(key, ctx);
    while (contexts.size > KEEP) contexts.delete(contexts.keys().next().value);
  }
  return ctx;
}

export function handle(message) {
  const { id, op } = message;
  try {
    if (op === "tables") {
      const had = contexts.has(`${message.window ?? ""}|${message.election}`);
      const ctx = tablesFor(message.election, message.window);
      return { id, ok: true, ms: had ? 0 : ctx.ms };
    }
    if (op === "answers") {
      const ctx = tablesFor(message.election, message.window);
      return { id, ok: true, results: message.tasks.map((task) => answerTask(ctx, task)) };
    }
    return {
      id,
      ok: false,
      error: { code: "V9000", message: `unknown operation ${op}`, where: {} },
    };
  } catch (exc) {
    return {
      id,
      ok: false,
      error: { code: exc.code ?? "V0000", message: String(exc.message), where: exc.where ?? {} },
    };
  }
}

if (globalThis.process?.versions?.node) {
  const { parentPort } = await import("node:worker_threads");
  if (parentPort) parentPort.on("message", (m) => parentPort.postMessage(handle(m)));
} else if (typeof globalThis.WorkerGlobalScope !== "undefined") {
  globalThis.addEventListener("message", (event) => globalThis.postMessage(handle(event.data)));
}
