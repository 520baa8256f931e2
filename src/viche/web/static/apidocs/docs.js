// The API reference of the voting server, rendered from its OpenAPI document. Everything
// the document says is put on the page as text (textContent), never parsed as markup; no
// script or style comes from elsewhere (the pages' CSP: script-src 'self').

const VERBS = ["get", "post", "put", "patch", "delete"];

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

function list(items) {
  const ul = el("ul");
  for (const item of items) ul.append(el("li", item));
  return ul;
}

function parameters(op) {
  const out = [];
  for (const p of op.parameters || []) {
    if (!p || typeof p !== "object") continue;
    const need = p.required ? "required" : "optional";
    const what = p.description ? `: ${p.description}` : "";
    out.push(`${p.name} (${p.in}, ${need})${what}`);
  }
  const body = op.requestBody && op.requestBody.content;
  if (body && typeof body === "object") {
    const desc = op.requestBody.description ? `: ${op.requestBody.description}` : "";
    out.push(`body (${Object.keys(body).join(", ")})${desc}`);
  }
  return out;
}

function responses(op) {
  const out = [];
  for (const [status, answer] of Object.entries(op.responses || {})) {
    const desc = answer && typeof answer === "object" ? answer.description || "" : "";
    out.push(`${status} ${desc}`.trim());
  }
  return out;
}

function operation(path, verb, op) {
  const box = el("section", null, "op");
  const head = el("h3");
  head.append(el("span", verb.toUpperCase(), "verb"), " ", el("code", path));
  box.append(head);
  if (op.summary) box.append(el("p", op.summary));
  if (op.description && op.description !== op.summary) box.append(el("p", op.description, "hint"));
  const params = parameters(op);
  if (params.length) box.append(el("p", "Parameters"), list(params));
  const answers = responses(op);
  if (answers.length) box.append(el("p", "Answers"), list(answers));
  return box;
}

function render(doc) {
  const root = document.getElementById("api");
  root.replaceChildren();
  const info = doc.info || {};
  document.getElementById("title").textContent = `${info.title || "API"} ${info.version || ""}`.trim();
  if (info.description) root.append(el("p", info.description));
  const byTag = new Map();
  for (const [path, item] of Object.entries(doc.paths || {})) {
    for (const verb of VERBS) {
      const op = item && item[verb];
      if (!op || typeof op !== "object") continue;
      const tag = (op.tags && op.tags[0]) || "other";
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push(operation(path, verb, op));
    }
  }
  for (const [tag, ops] of byTag) {
    root.append(el("h2", tag), ...ops);
  }
}

async function load() {
  try {
    const answer = await fetch("/api/v1/openapi.json", { credentials: "omit" });
    if (!answer.ok) throw new Error(`HTTP ${answer.status}`);
    render(await answer.json());
  } catch (error) {
    const root = document.getElementById("api");
    root.replaceChildren(el("p", `The API document could not be loaded (${error.message}).`, "hint"));
  }
}

load();
