// The public pages: the elections of the server (/), one election's public page
// (/#<uuid>: questions, trustees, fingerprint, turnout, the record) and its ballot box
// (/#<uuid>/box[/<tracker>]: every tracker in the record, searchable; a tracker may hold "/")
// and its result (/#<uuid>/result: counts per question, what is checked here, how to verify).

import { h, lang, setLang, t, translatePage } from "./i18n.js";
import { answerError, nextTry, NotOpenYet, notOpenText } from "./notopen.js";
import { sha256, toHex, utf8 } from "../booth/hash.js";

const API = "/api/v1/elections";
const UUID = /^[1-9A-HJ-NP-Za-km-z]{14,64}$/;
const ROUTE = /^([^/]*)(?:\/(box|result)(?:\/(.*))?)?$/;

async function getJson(url) {
  const r = await fetch(url, { headers: { Accept: "application/json" } });
  if (!r.ok) throw await answerError(r);
  return r.json();
}

function object(uuid, digest) {
  return getJson(`${API}/${uuid}/objects/${digest}`);
}

function title(text) {
  return h("h1", { id: "view-title", tabindex: "-1" }, text);
}

// The page of an address that names no election (mistyped, or unknown to this server), of
// an election not open yet (when it opens, if it is scheduled), or of an election that could
// not be loaded.
function fail(error) {
  if (error instanceof NotOpenYet) {
    return [
      title(notOpenText(error)),
      h("p", { id: "not-open" }, t("notOpen.hint")),
      h("p", {}, h("a", { href: "/" }, t("pages.back"))),
    ];
  }
  const missing = error instanceof NoSuchElection || error?.message === "404";
  return [
    title(t(missing ? "pages.noSuch" : "err.election")),
    h("p", {}, h("a", { href: "/" }, t("pages.back"))),
  ];
}

class NoSuchElection extends Error {}

// The route of the address's fragment; a malformed escape (%E0%A4%A) names nothing.
function route() {
  let fragment;
  try {
    fragment = decodeURIComponent(location.hash.slice(1));
  } catch {
    return null;
  }
  return ROUTE.exec(fragment);
}

async function electionList() {
  const list = await getJson(API);
  const out = [title(t("pages.elections"))];
  if (!list.length) out.push(h("p", {}, t("pages.none")));
  out.push(
    h(
      "ul",
      { class: "list" },
      list.map((e) =>
        h(
          "li",
          {},
          h("p", {}, h("a", { href: `/#${e.uuid}` }, h("strong", {}, e.name))),
          h("p", { class: "meta" }, `${t(`pages.phase.${e.phase}`)} · ${t("pages.ballots", { n: e.ballots })}`),
        ),
      ),
    ),
  );
  return out;
}

function trusteeRows(trustees) {
  // [["Single", {public_key, ...}], ["Pedersen", {threshold, verification_keys, ...}], ...]
  return trustees.map((entry, i) => {
    const [kind, value] = Array.isArray(entry) ? entry : ["?", {}];
    let detail = kind;
    if (kind === "Pedersen" && value && Array.isArray(value.verification_keys))
      detail = `${kind} ${value.threshold}/${value.verification_keys.length}`;
    return h("li", {}, `${t("pages.trusteeKey", { n: i + 1 })}: ${detail}`);
  });
}

async function electionPage(uuid) {
  const d = await getJson(`${API}/${uuid}`);
  const election = await object(uuid, d.setup.election);
  const trustees = await object(uuid, d.setup.trustees);
  const questions = election.questions.map((q) => (q.type === "NonHomomorphic" ? q.value : q));
  return [
    title(d.name),
    h("p", {}, d.description),
    h("p", { class: "meta" }, `${t(`pages.phase.${d.phase}`)} · ${t("pages.ballots", { n: d.ballots })}`),
    d.phase === "open"
      ? h("p", {}, h("a", { class: "button", href: `/booth/#${uuid}` }, t("pages.open")))
      : null,
    h("h2", {}, t("pages.questions")),
    h(
      "ol",
      {},
      questions.map((q) => h("li", {}, h("p", {}, q.question), h("ul", {}, q.answers.map((a) => h("li", {}, a))))),
    ),
    h("h2", {}, t("pages.trustees")),
    h("ul", {}, Array.isArray(trustees) ? trusteeRows(trustees) : null),
    h("h2", {}, t("pages.fingerprint")),
    h("p", { class: "tracker" }, d.fingerprint),
    h(
      "p",
      { class: "actions" },
      h("a", { class: "button secondary", href: `/#${uuid}/box` }, t("pages.box")),
      d.phase === "tallied"
        ? h("a", { class: "button", href: `/#${uuid}/result`, id: "result-link" }, t("result.title"))
        : null,
      h("a", { class: "button secondary", href: d.archive, download: `${uuid}.bel` }, t("pages.archive")),
    ),
    h("p", { class: "hint" }, t("pages.verifyHow")),
  ];
}

/** Every Ballot event of the chain: its height and tracker, from the ballot box endpoint
 * (one request for up to 10,000 ballots; it says when another page follows). */
async function trackers(uuid) {
  const rows = [];
  let after = -1;
  for (;;) {
    const page = await getJson(`${API}/${uuid}/ballots?after=${after}`);
    for (const b of page.ballots) rows.push({ height: b.height, tracker: b.tracker });
    if (page.next === null) return rows;
    after = page.next;
  }
}

async function ballotBox(uuid, wanted) {
  const d = await getJson(`${API}/${uuid}`);
  const rows = await trackers(uuid);
  const search = h("input", { type: "search", id: "search", class: "mono", autocomplete: "off", spellcheck: "false" });
  search.value = wanted;
  const count = h("p", { role: "status", id: "found" });
  const body = h("tbody");
  const show = () => {
    const q = search.value.trim();
    const found = rows.filter((r) => !q || r.tracker.includes(q));
    count.textContent = t("pages.found", { n: found.length, total: rows.length });
    body.replaceChildren(
      ...found.map((r) => h("tr", {}, h("td", {}, String(r.height)), h("td", { class: "mono" }, r.tracker))),
    );
  };
  search.addEventListener("input", show);
  show();
  return [
    title(`${t("pages.box")}: ${d.name}`),
    h("p", {}, h("a", { href: `/#${uuid}` }, t("pages.page"))),
    h("label", { class: "field", for: "search" }, t("pages.search")),
    search,
    count,
    h(
      "table",
      {},
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("pages.height")), h("th", { scope: "col" }, t("pages.tracker")))),
      body,
    ),
  ];
}

// ------------------------------------------------------------------ the result

/** The text of an object of the record, checked here against its SHA-256 (hex). */
async function checkedObject(uuid, digest) {
  const r = await fetch(`${API}/${uuid}/objects/${digest}`);
  if (!r.ok) throw new Error(`${r.status}`);
  const text = await r.text();
  return { text, ok: toHex(sha256(utf8(text))) === digest };
}

/** "1. Red = Green; 2. Blue": the groups of answer indices a method ranks, best first. */
function ranking(groups, answers) {
  return groups.map((g, k) => `${k + 1}. ${g.map((j) => answers[j] ?? String(j)).join(" = ")}`).join("; ");
}

/** A question's outcome by each counting method the server computed from the same Result
 * (GET result: Condorcet-Schulze, single transferable vote, majority judgment). */
function outcomeList(q, found, i) {
  if (!found) return null;
  const lines = [];
  if (found.schulze) lines.push(t("outcome.schulze", { ranking: ranking(found.schulze.winners, q.answers) }));
  const stv = found.stv;
  if (stv) {
    const elected = stv.winners.map((j) => q.answers[j] ?? String(j)).join(", ") || t("outcome.nobody");
    lines.push(t("outcome.stv", { seats: stv.seats, elected, invalid: stv.invalid.length }));
  }
  const mj = found["majority-judgment"];
  if (mj) {
    lines.push(t("outcome.mj", { grades: mj.grades, ranking: ranking(mj.winners, q.answers), invalid: mj.invalid.length }));
  }
  return h("div", { id: `outcomes-${i}`, class: "outcomes" },
    h("h3", {}, t("outcome.title")),
    h("ul", {}, lines.map((text) => h("li", {}, text))));
}

/** One question's result, whatever its shape: counts (a leading blank count when blank
 * is allowed), decrypted ballots of a non-homomorphic question with their outcome by each
 * counting method (``found``), or anything else as JSON. */
function questionResult(q, value, i, found = null) {
  const head = h("h2", { id: `q${i}` }, `${i + 1}. ${q.question}`);
  if (Array.isArray(value) && value.every((v) => Number.isInteger(v))) {
    const blank = q.blank === true && value.length === q.answers.length + 1;
    const counts = blank ? value.slice(1) : value;
    const total = counts.reduce((a, b) => a + b, 0) + (blank ? value[0] : 0);
    const rows = q.answers.map((a, j) => [a, counts[j] ?? 0]);
    if (blank) rows.push([t("result.blank"), value[0]]);
    const pct = (n) => (total ? `${((100 * n) / total).toFixed(1)} %` : "—");
    return [
      head,
      h(
        "table",
        { "aria-labelledby": `q${i}`, class: "result" },
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("result.answer")), h("th", { scope: "col" }, t("result.count")), h("th", { scope: "col" }, t("result.share")))),
        h("tbody", {}, rows.map(([a, n]) => h("tr", {}, h("th", { scope: "row" }, a), h("td", {}, String(n)), h("td", {}, pct(n))))),
      ),
    ];
  }
  if (Array.isArray(value) && value.every((v) => Array.isArray(v))) {
    return [
      head,
      h("p", {}, t("result.ballots", { n: value.length })),
      outcomeList(q, found, i),
      h("table", { "aria-labelledby": `q${i}` },
        h("thead", {}, h("tr", {}, q.answers.map((a) => h("th", { scope: "col" }, a)))),
        h("tbody", {}, value.slice(0, 200).map((row) => h("tr", {}, row.map((v) => h("td", {}, String(v))))))),
    ];
  }
  return [head, h("pre", { tabindex: "0", "aria-labelledby": `q${i}` }, JSON.stringify(value, null, 1))];
}

/** num_tallied of the EncryptedTally event, found by walking back the chain from the
 * Result event (past the trustees' decryptions and shuffles), or null. */
async function numTallied(uuid, parent) {
  for (let hops = 0; parent && hops < 64; hops++) {
    const event = await object(uuid, parent);
    if (event.type === "EncryptedTally") return (await object(uuid, event.payload)).num_tallied ?? null;
    parent = event.parent;
  }
  return null;
}

async function resultPage(uuid) {
  const d = await getJson(`${API}/${uuid}`);
  const back = h("p", {}, h("a", { href: `/#${uuid}` }, t("pages.page")));
  if (d.phase !== "tallied" || d.head.type !== "Result") {
    return [title(`${t("result.title")}: ${d.name}`), back, h("p", {}, t("result.none"))];
  }
  const election = await object(uuid, d.setup.election);
  const questions = election.questions.map((q) => (q.type === "NonHomomorphic" ? q.value : q));
  const event = await checkedObject(uuid, d.head.hash);
  const payload = JSON.parse(event.text).payload;
  const found = await checkedObject(uuid, payload);
  const result = JSON.parse(found.text);
  const counted = await numTallied(uuid, JSON.parse(event.text).parent);
  const values = Array.isArray(result.result) ? result.result : [];
  // the outcomes, counted by the server from this same Result (viche verify recounts them)
  const outcomes = new Map();
  if (questions.some((q, i) => Array.isArray(values[i]) && values[i].every((v) => Array.isArray(v)))) {
    try {
      for (const o of (await getJson(`${API}/${uuid}/result`)).outcomes?.questions ?? []) outcomes.set(o.question, o);
    } catch {
      // the ballots are shown all the same
    }
  }
  const checked = event.ok && found.ok;
  const origin = location.origin;
  const commands = [
    `viche mirror ${origin}${d.archive} ${uuid}`,
    `viche verify ${uuid}`,
    `belenios-tool election verify --dir ${uuid}`,
  ].join("\n");
  return [
    title(`${t("result.title")}: ${d.name}`),
    back,
    counted === null ? null : h("p", { class: "meta" }, t("result.tallied", { n: counted })),
    ...questions.flatMap((q, i) => questionResult(q, values[i], i, outcomes.get(i + 1))),
    h("h2", {}, t("result.status")),
    h(
      "div",
      { class: `msg ${checked ? "ok" : "bad"}`, id: "result-status", role: "status" },
      checked ? t("result.chained", { height: d.head.height }) : t("result.broken"),
    ),
    h("p", {}, t("result.notProofs")),
    h("h2", {}, t("result.how")),
    h("p", {}, t("result.howIntro")),
    h("pre", { tabindex: "0", id: "verify-commands", "aria-label": t("result.how") }, commands),
    h("p", { class: "hint" }, t("result.howTool")),
    h("p", { class: "meta mono" }, t("result.head", { hash: d.head.hash })),
  ];
}

// the timer of a page that waits for its election to open (render sets it, and clears it)
let waiting = null;

async function render(focus = false) {
  clearTimeout(waiting);
  waiting = null;
  translatePage();
  const button = document.getElementById("lang");
  button.textContent = t("lang.switch");
  button.setAttribute("lang", lang() === "uk" ? "en" : "uk");
  button.setAttribute("aria-label", t("lang.switchLabel"));
  document.title = t("pages.title");
  const found = route();
  const [, uuid = "", box, tracker = ""] = found ?? [];
  let parts;
  try {
    if (found === null || ((uuid || box) && !UUID.test(uuid))) throw new NoSuchElection();
    if (box === "result") parts = await resultPage(uuid);
    else if (box) parts = await ballotBox(uuid, tracker);
    else if (uuid) parts = await electionPage(uuid);
    else parts = await electionList();
  } catch (error) {
    parts = fail(error);
    if (error instanceof NotOpenYet) {
      const shown = location.hash;
      waiting = setTimeout(() => {
        if (location.hash === shown) render(false);
      }, nextTry(error));
    }
  }
  const view = document.getElementById("view");
  view.replaceChildren(...parts.filter(Boolean));
  view.dataset.ready = "1";
  if (focus) document.getElementById("view-title")?.focus();
}

document.getElementById("lang").addEventListener("click", () => {
  setLang(lang() === "uk" ? "en" : "uk");
  render(false);
});
window.addEventListener("hashchange", () => render(true));
render(false);
