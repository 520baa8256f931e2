// The public pages: the elections of the server (/), one election's public page
// (/#<uuid>: questions, trustees, fingerprint, turnout, the record) and its ballot box
// (/#<uuid>/box[/<tracker>]: every tracker in the record, searchable; a tracker may hold "/").

import { h, lang, setLang, t, translatePage } from "./i18n.js";

const API = "/api/v1/elections";
const UUID = /^[1-9A-HJ-NP-Za-km-z]{14,64}$/;
const ROUTE = /^([^/]*)(?:\/(box)(?:\/(.*))?)?$/;

async function getJson(url) {
  const r = await fetch(url, { headers: { Accept: "application/json" } });
  if (!r.ok) throw new Error(`${r.status}`);
  return r.json();
}

function object(uuid, digest) {
  return getJson(`${API}/${uuid}/objects/${digest}`);
}

function title(text) {
  return h("h1", { id: "view-title", tabindex: "-1" }, text);
}

function fail() {
  return [title(t("err.election")), h("p", {}, h("a", { href: "/" }, t("pages.back")))];
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

async function render(focus = false) {
  translatePage();
  const button = document.getElementById("lang");
  button.textContent = t("lang.switch");
  button.setAttribute("lang", lang() === "uk" ? "en" : "uk");
  button.setAttribute("aria-label", t("lang.switchLabel"));
  document.title = t("pages.title");
  const [, uuid = "", box, tracker = ""] =
    ROUTE.exec(decodeURIComponent(location.hash.slice(1))) ?? [];
  let parts;
  try {
    if (box && UUID.test(uuid)) parts = await ballotBox(uuid, tracker);
    else if (UUID.test(uuid)) parts = await electionPage(uuid);
    else parts = await electionList();
  } catch {
    parts = fail();
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
