// The voting booth: choose the election, log in, enter the private credential, answer,
// review, encrypt in Web Workers (pool.js), then cast (signed receipt) or audit (the
// randomness revealed; an audited ballot is never cast). Every string comes from
// ../common/i18n.js; the election's own texts are shown as they are. Without a network
// (offline.js, sw.js) a ballot is encrypted all the same, queued and cast when the link
// returns; the close time is counted down; `?kiosk=1` is a polling station's terminal,
// wiped after each voter. With `?kiosk=1&station=ID` (a national event's polling station)
// the staff open the station's session with its secret, kept in this page's memory only;
// for each voter they enter her id, the booth loads her ballot style's election, she enters
// her own credential (it signs here, and is forgotten once she is done) and the ballot is
// cast through the station's endpoint, which locks her credential.

import { h, download, lang, setLang, t, tn, translatePage, when } from "../common/i18n.js";
import { answerError, nextTry, NotOpenYet, notOpenText } from "../common/notopen.js";
import { checkCredential } from "./credential.js";
import { clearQueue, dequeue, enqueue, keepElection, keepOffline, queued } from "./offline.js";
import { sendPatiently } from "./busy.js";
import { parseElection } from "./election.js";
import { qrDetector, readQrFile, scanCamera } from "./scan.js";

const API = "/api/v1/elections";
const EVENTS = "/api/v1/events";
const PARAMS = new URLSearchParams(location.search);
const STATION = /^[0-9A-Za-z][0-9A-Za-z._-]{0,63}$/;
const VOTER = /^[0-9A-Za-z][0-9A-Za-z-]{0,39}$/;
const UUID = /^[1-9A-HJ-NP-Za-km-z]{14,64}$/;

const S = {
  step: "choose",
  q: 0, // current question (0-based)
  flash: null, // {kind, text} shown once on the next step
  notOpen: null, // the NotOpenYet error of the election asked for (step "notopen")
  waiting: null, // timer of the next question to the server while step "notopen" waits
  uuid: null,
  detail: null,
  text: null, // the election's exact text
  election: null, // parsed (crypto)
  questions: [], // {text, answers, kind, min, max, blank}
  answers: [], // per question: {blank, picks: Set} or {values: number[]}
  login: "",
  secret: "",
  credential: "",
  encrypted: null, // {ballot, tracker, randomness, choices}
  audited: new Set(), // trackers of audited ballots: never cast
  cast: null,
  pool: null,
  tables: null, // promise of the tables
  tablesReady: false,
  encrypting: false,
  elections: null,
  qrSvg: null, // the receipt's QR encoder (common/qr.js), loaded when a ballot is cast
  qr: undefined, // promise of the QR detector (null where the browser has none)
  scanning: null, // the camera scan under way
  kiosk: PARAMS.get("kiosk") === "1", // a polling station's terminal
  // a national event's polling station (kiosk only): its id, its event, its session
  station: PARAMS.get("kiosk") === "1" && STATION.test(PARAMS.get("station") ?? "") ? PARAMS.get("station") : null,
  event: null,
  stationSecret: "", // the station's session: in this page's memory only, never stored
  voter: "", // the voter the staff checked (her registry id)
  closeAt: null, // the scheduled close (ms since the epoch), if any
  pending: null, // the queued ballot being sent: {uuid, login, ballot, tracker, close}
  retry: null, // timer of the next attempt
  attempts: 0,
};

const WARN_MS = 10 * 60 * 1000; // the countdown warns under 10 minutes

// ------------------------------------------------------------------ helpers

function view() {
  return document.getElementById("view");
}

function status(text) {
  document.getElementById("status").textContent = text;
}

function go(step, { q } = {}) {
  S.step = step;
  if (q !== undefined) S.q = q;
  render(true);
}

function msg(kind, text, id) {
  return h("div", { class: `msg ${kind}`, role: kind === "bad" ? "alert" : "status", id }, text);
}

function title(text) {
  return h("h1", { id: "view-title", tabindex: "-1" }, text);
}

function actions(...buttons) {
  return h("div", { class: "actions" }, ...buttons);
}

function button(label, onclick, { secondary = false, id, type = "button" } = {}) {
  return h("button", { type, class: secondary ? "secondary" : null, onclick, id }, label);
}

function electionHeader() {
  if (!S.detail) return null;
  return h(
    "div",
    {},
    S.kiosk ? h("p", { class: "meta", id: "kiosk-note" }, t("kiosk.note")) : null,
    h("p", { class: "brand-election" }, h("strong", {}, S.detail.name)),
    h("p", { class: "meta mono" }, t("election.fingerprint", { f: S.detail.fingerprint })),
    S.closeAt === null || S.step === "done" ? null : h("div", { id: "countdown" }, countdown()),
  );
}

function closed() {
  return S.closeAt !== null && Date.now() >= S.closeAt;
}

function two(n) {
  return String(n).padStart(2, "0");
}

/** The close time and what is left of it: a warning under 10 minutes, then "closed". */
function countdown() {
  const at = when(S.closeAt);
  const left = S.closeAt - Date.now();
  // no alert role: this is redrawn every second
  if (left <= 0) return h("p", { class: "msg bad", id: "countdown-msg" }, t("close.over", { at }));
  const s = Math.floor(left / 1000);
  const days = Math.floor(s / 86400);
  const clock = `${two(Math.floor(s / 3600) % 24)}:${two(Math.floor(s / 60) % 60)}:${two(s % 60)}`;
  const rest = days ? `${tn("close.days", days)} ${clock}` : clock;
  return h(
    "p",
    { class: left < WARN_MS ? "msg warn" : "meta", id: "countdown-msg" },
    t("close.at", { at }),
    " ",
    h("span", { id: "countdown-left", "aria-hidden": "true" }, t("close.left", { left: rest })),
    left < WARN_MS ? h("strong", {}, " ", t("close.soon")) : null,
  );
}

let wasClosed = false;
setInterval(() => {
  const box = document.getElementById("countdown");
  if (box) box.replaceChildren(countdown());
  if (closed() !== wasClosed) {
    wasClosed = closed();
    if (wasClosed && ["encrypted", "queued", "review"].includes(S.step)) render(false);
  }
}, 1000);

async function getJson(url) {
  const r = await fetch(url, { headers: { Accept: "application/json" } });
  if (!r.ok) throw await answerError(r);
  return r.json();
}

function basicAuth(login, secret) {
  const bytes = new TextEncoder().encode(`${login}:${secret}`);
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return `Basic ${btoa(bin)}`;
}

function credentialMessage(exc) {
  const m = String(exc.message);
  if (m.startsWith("wrong length")) return t("cred.length", { n: (m.match(/\d+/) ?? ["?"])[0] });
  if (m.startsWith("wrong format")) return t("cred.dashes");
  if (m.startsWith("wrong alphabet"))
    return t("cred.alphabet", { pos: (m.match(/\[(.*)\]/) ?? ["", "?"])[1] });
  return t("cred.checksum");
}

/** The voter's choices in words; `edit` adds a Change button per question. */
function summary(edit) {
  const items = S.questions.flatMap((q, i) => {
    const a = S.answers[i];
    let said;
    if (q.kind === "nh") said = q.answers.map((text, j) => `${text}: ${a.values[j]}`).join("; ");
    else if (a.blank) said = t("review.blank");
    else if (!a.picks.size) said = t("review.none");
    else said = [...a.picks].sort((x, y) => x - y).map((j) => q.answers[j]).join("; ");
    return [
      h("dt", {}, q.text),
      h(
        "dd",
        {},
        said,
        " ",
        edit ? button(t("review.edit"), () => go("question", { q: i }), { secondary: true }) : null,
      ),
    ];
  });
  return h("dl", { class: "review" }, items);
}

// ------------------------------------------------------------------ election

function questionsOf(text) {
  const raw = JSON.parse(text).questions;
  return raw.map((q) =>
    q.type === "NonHomomorphic"
      ? { kind: "nh", text: q.value.question, answers: q.value.answers }
      : {
          kind: "h",
          text: q.question,
          answers: q.answers,
          min: q.min,
          max: q.max,
          blank: q.blank === true,
        },
  );
}

function freshAnswers() {
  return S.questions.map((q) =>
    q.kind === "nh" ? { values: q.answers.map(() => 0) } : { blank: false, picks: new Set() },
  );
}

// step "notopen" asks the server again when the election should be open (nextTry), quietly:
// the page changes only when the answer does (opened, a new time, a failure)
function waitForOpening(uuid) {
  clearTimeout(S.waiting);
  const shown = location.hash;
  S.waiting = setTimeout(async () => {
    S.waiting = null;
    if (S.step !== "notopen" || location.hash !== shown) return;
    try {
      await getJson(`${API}/${uuid}`);
    } catch (error) {
      if (S.step !== "notopen" || location.hash !== shown) return;
      if (error instanceof NotOpenYet) {
        const before = notOpenText(S.notOpen);
        S.notOpen = error;
        if (notOpenText(error) !== before) render(false);
        waitForOpening(uuid);
        return;
      }
      if (error instanceof TypeError) { // no network (fetch failed): ask again later
        waitForOpening(uuid);
        return;
      }
    }
    if (S.step === "notopen" && location.hash === shown) loadElection(uuid);
  }, nextTry(S.notOpen));
}

async function loadElection(uuid) {
  clearTimeout(S.waiting);
  S.waiting = null;
  S.uuid = uuid;
  S.detail = null;
  go("loading");
  try {
    S.detail = await getJson(`${API}/${uuid}`);
    const r = await fetch(`${API}/${uuid}/objects/${S.detail.setup.election}`);
    if (!r.ok) throw new Error(`${r.status}`);
    S.text = await r.text();
    S.election = parseElection(S.text);
    S.questions = questionsOf(S.text);
    keepElection([
      [`${API}/${uuid}`, JSON.stringify(S.detail)],
      [`${API}/${uuid}/objects/${S.detail.setup.election}`, S.text],
    ]);
  } catch (error) {
    S.uuid = null;
    if (error instanceof NotOpenYet && !S.station) { // when it opens, not "no such election"
      S.notOpen = error;
      go("notopen");
      waitForOpening(uuid);
      return;
    }
    S.flash = error instanceof NotOpenYet
      ? { kind: "info", text: notOpenText(error) }
      : { kind: "bad", text: t("err.election") };
    go(S.station ? "staff" : "choose");
    return;
  }
  S.answers = freshAnswers();
  S.encrypted = null;
  S.cast = null;
  S.tables = null; // built once the voter has logged in (startTables)
  S.tablesReady = false;
  const close = S.detail.schedule?.close;
  S.closeAt = close ? Date.parse(close) : null;
  if (Number.isNaN(S.closeAt)) S.closeAt = null;
  wasClosed = closed();
  if (S.detail.phase !== "open") {
    S.flash = { kind: "bad", text: t("election.closed", { phase: t(`pages.phase.${S.detail.phase}`) }) };
  }
  if (S.station) { // the staff checked her identity: no login, her credential next
    startTables();
    go("credential");
    return;
  }
  go("login");
}

/** The crypto workers and the election's tables: started once the voter has logged in,
 * so that the first page is not slowed by them; built while she enters her credential and
 * answers. The crypto modules are loaded only then (the first page does not need them). */
function startTables() {
  if (S.tables) return S.tables;
  const text = S.text;
  S.tables = import("./pool.js").then(({ BoothPool }) => {
    if (!S.pool) S.pool = new BoothPool();
    return S.pool.buildTables(text);
  }).then((r) => {
    if (S.text === text) S.tablesReady = true;
    return r;
  });
  S.tables.catch(() => {}); // reported when encrypting
  return S.tables;
}

// ------------------------------------------------------------------ steps

/** The event that lists this station (the first found). */
async function stationEvent() {
  for (const e of await getJson(EVENTS)) {
    const d = await getJson(`${EVENTS}/${encodeURIComponent(e.id)}`);
    if (d.stations.some((st) => st.id === S.station)) return e.id;
  }
  return null;
}

function stationPath(rest) {
  return `${EVENTS}/${encodeURIComponent(S.event)}/stations/${encodeURIComponent(S.station)}/${rest}`;
}

/** The staff's screen: the station's secret once, then each voter's id. */
function staffStep() {
  const err = h("div", { id: "staff-msg" });
  const opening = !S.stationSecret;
  const input = h("input", {
    type: opening ? "password" : "text", id: opening ? "station-secret" : "voter-id",
    autocomplete: "off", autocapitalize: "none", spellcheck: "false", required: true, "aria-describedby": "staff-msg",
  });
  const submit = async (event) => {
    event.preventDefault();
    const value = input.value.trim();
    if (!value || (!opening && !VOTER.test(value))) {
      err.replaceChildren(msg("bad", t(opening ? "station.missing" : "station.badVoter")));
      input.focus();
      return;
    }
    try {
      if (opening) {
        S.event = S.event ?? await stationEvent();
        if (!S.event) throw new Error("station");
        S.stationSecret = value;
        go("staff");
        return;
      }
      const r = await fetch(stationPath(`voters/${encodeURIComponent(value)}`), {
        credentials: "omit", headers: { Accept: "application/json", Authorization: `Bearer ${S.stationSecret}` },
      });
      const body = await r.json().catch(() => ({}));
      if (r.status === 401) {
        S.stationSecret = "";
        S.flash = { kind: "bad", text: t("station.auth") };
        go("staff");
        return;
      }
      if (!r.ok) {
        err.replaceChildren(msg("bad", t("err.server", { code: body.code ?? r.status, message: body.message ?? "" })));
        return;
      }
      S.voter = value;
      loadElection(body.election);
    } catch {
      err.replaceChildren(msg("bad", t(opening ? "station.unknown" : "err.network")));
    }
  };
  return [
    title(t(opening ? "step.station" : "step.staff")),
    h("p", { class: "meta", id: "station-id" }, t("station.id", { id: S.station })),
    h("p", {}, t(opening ? "station.intro" : "staff.intro")),
    h(
      "form",
      { onsubmit: submit, novalidate: true },
      h("label", { class: "field", for: input.id }, t(opening ? "station.secret" : "staff.voter")),
      input,
      err,
      actions(button(t("nav.next"), null, { type: "submit", id: "staff-next" })),
    ),
  ];
}

const STEPS = {
  staff: staffStep,

  loading() {
    return [title(t("election.loading"))];
  },

  // an election that exists but is not open yet: when it opens (the schedule), if set
  notopen() {
    return [
      title(notOpenText(S.notOpen)),
      h("p", { id: "not-open" }, t("notOpen.hint")),
      h("p", {}, h("a", { href: "#", id: "not-open-back" }, t("pages.back"))),
    ];
  },

  choose() {
    const out = [title(t("step.choose"))];
    if (S.elections === null) {
      out.push(h("p", {}, t("choose.loading")));
      getJson(API)
        .then((list) => {
          S.elections = list;
          if (S.step === "choose") render(false);
        })
        .catch(() => {
          S.elections = [];
          S.flash = { kind: "bad", text: t("err.network") };
          if (S.step === "choose") render(false);
        });
      return out;
    }
    const open = S.elections.filter((e) => e.phase === "open");
    if (!open.length) out.push(h("p", {}, t("choose.none")));
    out.push(
      h(
        "ul",
        { class: "list" },
        open.map((e) =>
          h(
            "li",
            {},
            h("p", {}, h("strong", {}, e.name)),
            h("p", { class: "meta" }, tn("choose.ballots", e.ballots)),
            button(t("pages.open"), () => {
              location.hash = e.uuid;
            }),
          ),
        ),
      ),
    );
    return out;
  },

  login() {
    const err = h("div", { id: "login-msg" });
    const login = h("input", {
      type: "text", id: "login", autocomplete: "username", autocapitalize: "none",
      spellcheck: "false", required: true, "aria-describedby": "login-msg",
    });
    const secret = h("input", {
      type: "password", id: "secret", autocomplete: "current-password", required: true,
      "aria-describedby": "login-msg",
    });
    login.value = S.login;
    secret.value = S.secret;
    const submit = (event) => {
      event.preventDefault();
      if (!login.value.trim() || !secret.value.trim()) {
        err.replaceChildren(msg("bad", t("login.missing")));
        (login.value.trim() ? secret : login).focus();
        return;
      }
      S.login = login.value.trim();
      S.secret = secret.value.trim();
      const waiting = queued(S.uuid, S.login);
      if (waiting) { // a ballot prepared offline earlier: sent now that the secret is here
        S.pending = waiting;
        go("queued");
        sendQueued();
        return;
      }
      startTables();
      go("credential");
    };
    return [
      title(t("step.login")),
      electionHeader(),
      queued(S.uuid) ? msg("info", t("queue.waiting"), "queue-waiting") : null,
      h("p", {}, t("login.intro")),
      h(
        "form",
        { onsubmit: submit, novalidate: true },
        h("label", { class: "field", for: "login" }, t("login.login")),
        login,
        h("label", { class: "field", for: "secret" }, t("login.secret")),
        secret,
        err,
        actions(
          button(t("nav.next"), null, { type: "submit", id: "login-next" }),
          button(t("nav.back"), () => { location.hash = ""; S.uuid = null; go("choose"); }, { secondary: true }),
        ),
      ),
    ];
  },

  credential() {
    const feedback = h("div", { id: "cred-msg" });
    const input = h("input", {
      type: "text", id: "credential", class: "mono", autocomplete: "off", autocapitalize: "none",
      spellcheck: "false", required: true, "aria-describedby": "cred-hint cred-msg",
    });
    input.value = S.credential;
    const check = (show) => {
      try {
        const dashed = checkCredential(input.value);
        input.setAttribute("aria-invalid", "false");
        if (show) feedback.replaceChildren(msg("ok", t("cred.ok")));
        return dashed;
      } catch (exc) {
        input.setAttribute("aria-invalid", "true");
        if (show) feedback.replaceChildren(msg("bad", credentialMessage(exc)));
        return null;
      }
    };
    // Checked as soon as the credential is complete (on paste or the 15th/19th character).
    input.addEventListener("input", () => {
      const n = input.value.trim().length;
      if (n === 15 || n >= 19) check(true);
      else feedback.replaceChildren();
    });
    const submit = (event) => {
      event.preventDefault();
      stopScan();
      const dashed = check(true);
      if (!dashed) {
        input.focus();
        return;
      }
      S.credential = dashed;
      // derived while she answers (the pool exists once startTables has loaded it)
      startTables().then(() => {
        if (S.credential === dashed) S.pool.deriveCredential(S.text, dashed);
      }).catch(() => {});
      go("question", { q: 0 });
    };
    const scanned = (text) => {
      if (text === null) {
        feedback.replaceChildren(msg("bad", t("scan.none")));
        return;
      }
      input.value = text;
      check(true);
      input.focus();
    };
    return [
      title(t("step.credential")),
      electionHeader(),
      h("p", {}, t("cred.intro")),
      h(
        "form",
        { onsubmit: submit, novalidate: true },
        h("label", { class: "field", for: "credential" }, t("cred.label")),
        h("p", { class: "hint", id: "cred-hint" }, t("cred.hint")),
        input,
        feedback,
        scanArea(scanned, feedback),
        actions(
          button(t("nav.next"), null, { type: "submit", id: "cred-next" }),
          button(t("nav.back"), () => { stopScan(); S.station ? wipe() : go("login"); }, { secondary: true }),
        ),
      ),
    ];
  },

  question() {
    const i = S.q;
    const q = S.questions[i];
    const a = S.answers[i];
    const feedback = h("div", { id: "q-msg", "aria-live": "polite" });
    const rules = [];
    let body;
    if (q.kind === "nh") {
      rules.push(t("q.nhRule"));
      body = q.answers.map((text, j) => {
        const id = `q${i}-a${j}`;
        const input = h("input", { type: "number", id, min: "0", max: "255", step: "1", inputmode: "numeric" });
        input.value = String(a.values[j]);
        input.addEventListener("input", () => {
          a.values[j] = input.value === "" ? NaN : Number(input.value);
        });
        return h("div", {}, h("label", { class: "field", for: id }, text), input);
      });
    } else {
      if (q.min === q.max) rules.push(q.max === 1 ? t("q.ruleOne") : t("q.ruleExact", { n: q.max }));
      else if (q.min === 0) rules.push(t("q.ruleUpTo", { max: q.max }));
      else rules.push(t("q.rule", { min: q.min, max: q.max }));
      if (q.blank) rules.push(t("q.blankRule"));
      const single = q.max === 1;
      const type = single ? "radio" : "checkbox";
      const inputs = [];
      let blankInput = null;
      const count = h("p", { class: "hint", id: "q-count" });
      const refresh = (announce) => {
        count.textContent = single ? "" : t("q.count", { n: a.picks.size });
        const full = !single && a.picks.size >= q.max;
        inputs.forEach((input, j) => {
          input.checked = !a.blank && a.picks.has(j);
          if (!single) input.disabled = a.blank || (full && !a.picks.has(j));
        });
        if (blankInput) blankInput.checked = a.blank;
        if (announce && full && q.max > 1) feedback.replaceChildren(msg("info", t("q.full", { max: q.max })));
        else if (announce) feedback.replaceChildren();
      };
      const rows = q.answers.map((text, j) => {
        const id = `q${i}-a${j}`;
        const input = h("input", { type, id, name: `q${i}`, value: String(j) });
        inputs.push(input);
        input.addEventListener("change", () => {
          a.blank = false;
          if (single) a.picks = new Set([j]);
          else if (input.checked) a.picks.add(j);
          else a.picks.delete(j);
          refresh(true);
        });
        return h("label", { class: "choice", for: id }, input, h("span", {}, text));
      });
      if (q.blank) {
        blankInput = h("input", { type, id: `q${i}-blank`, name: `q${i}`, value: "blank" });
        blankInput.addEventListener("change", () => {
          a.blank = blankInput.checked;
          if (a.blank) a.picks = new Set();
          refresh(true);
        });
        rows.push(h("label", { class: "choice blank", for: `q${i}-blank` }, blankInput, h("span", {}, t("q.blank"))));
      }
      body = [...rows, count];
      queueMicrotask(() => refresh(false));
    }
    const next = (event) => {
      event.preventDefault();
      if (q.kind === "nh") {
        if (!a.values.every((v) => Number.isInteger(v) && v >= 0 && v < 256)) {
          feedback.replaceChildren(msg("bad", t("q.nhBad")));
          return;
        }
      } else if (!a.blank && a.picks.size < q.min) {
        feedback.replaceChildren(msg("bad", t("q.tooFew", { min: q.min })));
        view().querySelector("input")?.focus();
        return;
      }
      if (i + 1 < S.questions.length) go("question", { q: i + 1 });
      else go("review");
    };
    return [
      title(t("step.question", { n: i + 1, total: S.questions.length })),
      electionHeader(),
      h(
        "form",
        { onsubmit: next, novalidate: true },
        h(
          "fieldset",
          { "aria-describedby": "q-rules q-msg" },
          h("legend", {}, q.text),
          h("p", { class: "hint", id: "q-rules" }, rules.join(" ")),
          body,
        ),
        feedback,
        actions(
          button(t("nav.next"), null, { type: "submit", id: "q-next" }),
          button(t("nav.back"), () => (i ? go("question", { q: i - 1 }) : go("credential")), { secondary: true }),
        ),
      ),
    ];
  },

  review() {
    return [
      title(t("step.review")),
      electionHeader(),
      summary(true),
      actions(
        button(t("nav.encrypt"), () => go("encrypt"), { id: "encrypt" }),
        button(t("nav.back"), () => go("question", { q: S.questions.length - 1 }), { secondary: true }),
      ),
    ];
  },

  encrypt() {
    const bar = h("progress", { max: "100", value: "5", "aria-label": t("enc.progress"), id: "enc-progress" });
    const line = h("p", { role: "status" }, t(S.tablesReady ? "enc.ballot" : "enc.tables"));
    const feedback = h("div");
    if (!S.encrypting) encrypt(bar, line, feedback); // not again on a language switch
    else bar.removeAttribute("value");
    return [title(t("step.encrypt")), electionHeader(), bar, line, feedback];
  },

  encrypted() {
    const e = S.encrypted;
    const feedback = h("div", { id: "cast-msg" });
    const castButton = button(t("encd.cast"), () => cast(castButton, feedback), { id: "cast" });
    if (closed()) {
      castButton.disabled = true;
      feedback.replaceChildren(msg("bad", t("close.noCast")));
    }
    return [
      title(t("step.encrypted")),
      electionHeader(),
      h("p", {}, t("encd.tracker")),
      h("p", { class: "tracker", id: "tracker" }, e.tracker),
      h("p", {}, t("encd.choice")),
      feedback,
      actions(
        castButton,
        button(t("encd.audit"), () => audit(), { secondary: true, id: "audit" }),
        button(t("nav.back"), () => { S.encrypted = null; go("review"); }, { secondary: true }),
      ),
    ];
  },

  audit() {
    const e = S.encrypted;
    const data = e.auditText;
    return [
      title(t("step.audit")),
      electionHeader(),
      h("p", {}, t("audit.intro")),
      e.auditCode === null
        ? msg("ok", t("audit.registered"), "audit-registered")
        : msg("info", t("audit.unregistered", { code: e.auditCode }), "audit-registered"),
      h("p", { class: "tracker", id: "audit-tracker" }, e.tracker),
      summary(false),
      h("pre", { id: "audit-data", tabindex: "0", "aria-label": t("step.audit") }, data),
      actions(
        button(t("audit.again"), () => { S.encrypted = null; go("encrypt"); }, { id: "reencrypt" }),
        // not on a kiosk: no file of a voter's choices left on the terminal
        S.kiosk ? null : button(t("audit.download"), () => download(`${S.uuid}-audit-${e.tracker.slice(0, 8)}.json`, data), { secondary: true }),
      ),
      h("p", { class: "hint mono" }, t("audit.how", { url: location.origin })),
    ];
  },

  done() {
    const c = S.cast;
    const receipt = JSON.stringify(c.receipt, null, 1);
    return [
      title(t("step.done")),
      electionHeader(),
      c.revote ? msg("info", t("done.revote")) : null,
      h("p", {}, t("done.tracker")),
      h("p", { class: "tracker", id: "done-tracker" }, c.tracker),
      h("h2", {}, t("done.receipt")),
      h("p", {}, t("done.keep")),
      h("pre", { id: "receipt", tabindex: "0", "aria-label": t("done.receipt") }, receipt),
      h("figure", { class: "qr", id: "receipt-qr" }, S.qrSvg(JSON.stringify(c.receipt), t("done.qr"))),
      S.kiosk
        ? actions(
          button(t("done.print"), () => window.print(), { secondary: true }),
          button(t("kiosk.next"), () => wipe(), { id: "next-voter" }),
        )
        : actions(
          button(t("done.download"), () => download(`${S.uuid}-${c.height}.receipt.json`, `${JSON.stringify(c.receipt)}\n`), { id: "download-receipt" }),
          button(t("done.print"), () => window.print(), { secondary: true }),
          h("a", { class: "button secondary", href: `/#${S.uuid}/box/${c.tracker}` }, t("done.box")),
        ),
      S.kiosk ? h("p", { class: "hint" }, t("kiosk.wipeHint")) : null,
    ];
  },

  queued() {
    const p = S.pending;
    const late = p.close !== null && Date.now() >= p.close;
    return [
      title(t(late ? "step.late" : "step.queued")),
      electionHeader(),
      late
        ? msg("bad", t("queue.late"), "queue-msg")
        : msg("info", navigator.onLine ? t("queue.sending") : t("queue.offline"), "queue-msg"),
      h("p", {}, t("done.tracker")),
      h("p", { class: "tracker", id: "queued-tracker" }, p.tracker),
      late ? null : h("p", { class: "hint" }, t("queue.kept")),
      late
        ? (S.kiosk ? actions(button(t("kiosk.next"), () => wipe(), { id: "next-voter" })) : null)
        : actions(button(t("queue.now"), () => sendQueued(), { id: "send-now" })),
    ];
  },
};

// ------------------------------------------------------------------ QR scan

function stopScan() {
  S.scanning?.stop();
  S.scanning = null;
}

/** The QR part of the credential step: filled once the browser says whether it reads QR
 * codes (scan.js): a camera button and a photo picker, or a sentence saying it cannot. */
function scanArea(scanned, feedback) {
  const area = h("div", { class: "scan", id: "scan" });
  if (S.qr === undefined) S.qr = qrDetector();
  S.qr.then((detector) => {
    if (!detector) {
      area.replaceChildren(h("p", { class: "hint", id: "scan-absent" }, t("scan.absent")));
      return;
    }
    const video = h("video", { id: "scan-video", muted: true, playsinline: true, hidden: true, "aria-label": t("scan.camera") });
    const file = h("input", { type: "file", id: "scan-file", accept: "image/*", hidden: true, tabindex: "-1", "aria-hidden": "true" });
    file.addEventListener("change", async () => {
      const chosen = file.files?.[0];
      file.value = "";
      if (!chosen) return;
      try {
        scanned(await readQrFile(detector, chosen));
      } catch {
        feedback.replaceChildren(msg("bad", t("scan.unreadable")));
      }
    });
    const camera = button(t("scan.camera"), async () => {
      if (S.scanning) {
        stopScan();
        return;
      }
      video.hidden = false;
      camera.textContent = t("scan.stop");
      const scan = scanCamera(detector, video);
      S.scanning = scan;
      scan.started.catch(() => {
        feedback.replaceChildren(msg("bad", t("scan.noCamera")));
        scan.stop();
      });
      const text = await scan.result;
      if (S.scanning === scan) S.scanning = null;
      video.hidden = true;
      camera.textContent = t("scan.camera");
      if (text !== null) scanned(text);
    }, { secondary: true, id: "scan-camera" });
    area.replaceChildren(
      h("p", { class: "hint" }, t("scan.intro")),
      h("div", { class: "actions" }, camera, button(t("scan.photo"), () => file.click(), { secondary: true, id: "scan-photo" }), file),
      video,
    );
  });
  return area;
}

// ------------------------------------------------------------------ actions

function choices() {
  return S.questions.map((q, i) => {
    const a = S.answers[i];
    if (q.kind === "nh") return a.values.slice();
    const row = q.answers.map((_, j) => (!a.blank && a.picks.has(j) ? 1 : 0));
    return q.blank ? [a.blank ? 1 : 0, ...row] : row;
  });
}

async function encrypt(bar, line, feedback) {
  const mine = S.step;
  S.encrypting = true;
  try {
    startTables();
    if (!S.tablesReady) {
      let pct = 5;
      const tick = setInterval(() => {
        pct = Math.min(45, pct + 3);
        bar.value = pct;
      }, 150);
      try {
        await S.tables;
      } finally {
        clearInterval(tick);
      }
    }
    bar.value = 50;
    line.textContent = t("enc.ballot");
    const picked = choices();
    const result = await S.pool.encryptBallot(S.text, S.credential, picked);
    bar.value = 100;
    line.textContent = t("enc.done");
    if (S.step !== mine) return;
    S.encrypted = { ...result, choices: picked };
    go("encrypted");
  } catch (exc) {
    feedback.replaceChildren(
      msg("bad", t("err.crypto", { code: exc.code ?? "V0000", message: exc.message })),
      actions(button(t("nav.back"), () => go("review"), { secondary: true })),
    );
  } finally {
    S.encrypting = false;
  }
}

async function audit() {
  const e = S.encrypted;
  if (!e || S.audited.has(e.tracker)) return;
  S.audited.add(e.tracker); // never cast from here on, whatever the server answers
  const { auditFile } = await import("./ballot.js"); // loaded already by the pool
  e.auditText = auditFile(S.election, e, e.choices);
  // The server is told first (it will refuse this ballot forever), then the randomness
  // is shown.
  let code = "network";
  try {
    const r = await fetch(`${API}/${S.uuid}/audits`, {
      method: "POST",
      credentials: "omit",
      headers: { "Content-Type": "application/json" },
      body: e.ballot,
    });
    code = r.status === 201 ? null : String(r.status);
  } catch {
    // network error: said on the page
  }
  e.auditCode = code;
  go("audit");
}

/** Post the ballot (at a station: to the station's endpoint, with its session and the
 * voter the staff checked); while the server answers that it is full, wait as it asks and
 * send it again (busy.js), `onWait(seconds)` before each wait. */
function postBallot(ballot, onWait = () => {}) {
  const send = S.station
    ? () =>
        fetch(stationPath("ballots"), {
          method: "POST",
          credentials: "omit",
          headers: {
            "Content-Type": "application/json",
            Authorization: `Bearer ${S.stationSecret}`,
            "Viche-Voter": S.voter,
          },
          body: ballot,
        })
    : () =>
        fetch(`${API}/${S.uuid}/ballots`, {
          method: "POST",
          // no credentials mode: a refused login comes back as a 401 for the page to explain,
          // never as the browser's own login prompt (the Authorization header is still sent)
          credentials: "omit",
          headers: {
            "Content-Type": "application/json",
            Authorization: basicAuth(S.login, S.secret),
          },
          body: ballot,
        });
  return sendPatiently(send, { onWait });
}

/** The server's answer to a cast ballot: the receipt (done), or why not. Returns the
 * message for the page, or null when the ballot was cast. */
async function castAnswer(r) {
  let body = {};
  try {
    body = await r.json();
  } catch {
    // no JSON body
  }
  if (r.status === 201) {
    if (!S.qrSvg) S.qrSvg = (await import("../common/qr.js")).qrSvg;
    S.cast = body;
    S.credential = ""; // not kept once used
    S.pool?.forgetCredential();
    S.encrypted = null;
    go("done");
    return null;
  }
  if (r.status === 401) {
    S.flash = { kind: "bad", text: t(S.station ? "station.auth" : "err.auth") };
    if (S.station) S.stationSecret = "";
    go(S.station ? "staff" : "login");
    return null;
  }
  if (body.code === "V3007") return t("err.binding");
  if (body.code === "V8050") return t("station.locked");
  if (body.code === "V8051") return t("station.style");
  if (body.code === "V3005") return t("err.phase");
  return t("err.server", { code: body.code ?? r.status, message: body.message ?? "" });
}

async function cast(castButton, feedback) {
  const e = S.encrypted;
  if (!e || S.audited.has(e.tracker)) return; // an audited ballot is never cast
  if (closed()) {
    feedback.replaceChildren(msg("bad", t("close.noCast")));
    return;
  }
  castButton.disabled = true;
  castButton.textContent = t("encd.casting");
  let r;
  try {
    r = await postBallot(e.ballot, (seconds) => {
      castButton.textContent = t("encd.busy", { seconds: Math.ceil(seconds) });
    });
  } catch {
    if (S.station) { // a station has its link: nothing is queued on the terminal
      castButton.disabled = false;
      castButton.textContent = t("encd.cast");
      feedback.replaceChildren(msg("bad", t("err.network")));
      return;
    }
    // no network: the encrypted, signed ballot is queued and sent when the link returns
    S.pending = { uuid: S.uuid, login: S.login, ballot: e.ballot, tracker: e.tracker, close: S.closeAt };
    enqueue(S.pending);
    S.credential = ""; // the ballot is signed: the credential is no longer needed
    S.pool?.forgetCredential();
    S.encrypted = null;
    S.attempts = 0;
    go("queued");
    later();
    return;
  }
  const text = await castAnswer(r);
  castButton.disabled = false;
  castButton.textContent = t("encd.cast");
  if (text) feedback.replaceChildren(msg("bad", text));
}

/** The next attempt at the queued ballot: 2, 4, 8… seconds, at most a minute apart (and
 * at once when the browser says the link is back). */
function later() {
  clearTimeout(S.retry);
  const delay = Math.min(60, 2 ** Math.min(6, ++S.attempts)) * 1000;
  S.retry = setTimeout(sendQueued, delay);
}

let sending = false;

/** Send the queued ballot; refused after the close (the voter is told, the ballot
 * forgotten), kept on a network error, forgotten once the server has answered. */
async function sendQueued() {
  const p = S.pending;
  if (!p || sending || p.uuid !== S.uuid) return;
  clearTimeout(S.retry);
  if (p.close !== null && Date.now() >= p.close) {
    dequeue(p.uuid, p.login);
    if (S.step === "queued") render(false);
    return;
  }
  sending = true;
  let r;
  try {
    r = await postBallot(p.ballot);
  } catch {
    if (S.step === "queued") render(false);
    later();
    return;
  } finally {
    sending = false;
  }
  if (r.status !== 401) {
    dequeue(p.uuid, p.login);
    S.pending = null;
  }
  const text = await castAnswer(r);
  if (text) {
    S.flash = { kind: "bad", text };
    go("login");
  }
}

/** The kiosk, between two voters: everything of this voter is forgotten (login, secret,
 * credential, choices, ballot, receipt, queue, the tab's storage) and the booth starts
 * again for the next one. */
function wipe() {
  clearTimeout(S.retry);
  S.pool?.forgetCredential();
  Object.assign(S, {
    login: "", secret: "", credential: "", encrypted: null, cast: null, pending: null,
    audited: new Set(), attempts: 0, q: 0, voter: "",
  });
  S.answers = freshAnswers();
  clearQueue();
  try {
    sessionStorage.clear();
  } catch {
    // none
  }
  if (S.station) { // the station's session stays; the next voter's id
    S.uuid = null;
    S.detail = null;
    go("staff");
    return;
  }
  go("login");
}

window.addEventListener("online", () => {
  S.attempts = 0;
  sendQueued();
});
window.addEventListener("offline", () => {
  if (S.step === "queued") render(false);
});

// ------------------------------------------------------------------ rendering

function render(focus) {
  translatePage();
  const langButton = document.getElementById("lang");
  const other = lang() === "uk" ? "en" : "uk";
  langButton.textContent = t("lang.switch");
  langButton.setAttribute("lang", other);
  langButton.setAttribute("aria-label", t("lang.switchLabel"));
  document.title = t("app.title");
  const parts = STEPS[S.step]();
  if (S.flash) {
    parts.splice(1, 0, msg(S.flash.kind, S.flash.text));
    S.flash = null;
  }
  view().replaceChildren(...parts.filter(Boolean));
  view().dataset.step = S.step;
  status("");
  if (focus) document.getElementById("view-title")?.focus();
}

function route() {
  if (S.station) { // the staff's screen decides the election
    if (!S.uuid) go("staff");
    return;
  }
  const uuid = decodeURIComponent(location.hash.slice(1));
  if (UUID.test(uuid)) {
    if (uuid !== S.uuid) loadElection(uuid);
  } else {
    S.uuid = null;
    S.elections = null;
    go("choose");
  }
}

document.getElementById("lang").addEventListener("click", () => {
  setLang(lang() === "uk" ? "en" : "uk");
  render(false);
});
window.addEventListener("hashchange", route);
keepOffline();
route();
