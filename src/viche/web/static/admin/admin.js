// Administration pages for the commission, on the server's API (web/routers/admin.py):
// create an election from a template, import the roll (each bad line reported), upload the
// credential authority's public credentials and the trustees' keys, open, watch turnout and
// refusals, close, upload the trustees' partial decryptions, publish the result.
//
// Secrets: each role's secret goes only into an Authorization: Bearer header; they are kept
// in memory and in this tab's sessionStorage (gone when the tab closes), never in a URL,
// never in localStorage. The voters' login secrets are only shown and downloaded.

import { h, download, lang, setLang, t, translatePage, when } from "../common/i18n.js";
import { NOT_OPEN } from "../common/notopen.js";

const API = "/api/v1/elections";
const UUID = /^[1-9A-HJ-NP-Za-km-z]{14,64}$/;
const KEY = "viche.admin";
const EXAMPLE = {
  name: "Загальні збори",
  description: "Голосування громади",
  questions: [
    { question: "Хто має головувати?", answers: ["Олена Коваленко", "Тарас Шевчук"], min: 1, max: 1, blank: true },
  ],
};

const S = {
  view: "signin",
  flash: null,
  ranked: false, // the election has questions tallied through shuffles
  made: null, // the creation answer, shown once
  roll: null, // {voters, login_secrets} or {rows}
  detail: null,
  result: null,
  poll: null,
  ...JSON.parse(sessionStorage.getItem(KEY) ?? "{}"), // server, uuid, admin, ca, trustees
};

function save() {
  const { server, uuid, admin, ca, trustees } = S;
  sessionStorage.setItem(KEY, JSON.stringify({ server, uuid, admin, ca, trustees }));
}

function title(text) {
  return h("h1", { id: "view-title", tabindex: "-1" }, text);
}

function msg(kind, text, id) {
  return h("div", { class: `msg ${kind}`, role: kind === "bad" ? "alert" : "status", id }, text);
}

function button(label, onclick, { secondary = false, id, type = "button" } = {}) {
  return h("button", { type, class: secondary ? "secondary" : null, onclick, id }, label);
}

function field(id, label, input, hint) {
  input.id = id;
  if (hint) input.setAttribute("aria-describedby", `${id}-hint`);
  return [
    h("label", { class: "field", for: id }, label),
    hint ? h("p", { class: "hint", id: `${id}-hint` }, hint) : null,
    input,
  ];
}

function secretInput(value = "") {
  const input = h("input", { type: "password", autocomplete: "off", spellcheck: "false", class: "mono" });
  input.value = value ?? "";
  return input;
}

function go(view) {
  S.view = view;
  render(true);
}

/** A call of the API with a role's secret; resolves to {ok, status, body}. */
async function call(method, path, secret, body, type = "application/json") {
  const headers = { Accept: "application/json" };
  if (secret) headers.Authorization = `Bearer ${secret}`;
  if (body !== undefined) headers["Content-Type"] = type;
  let r;
  try {
    r = await fetch(path, { method, headers, body, credentials: "omit" });
  } catch {
    return { ok: false, status: 0, body: { code: "network", message: t("err.network") } };
  }
  let parsed = null;
  try {
    parsed = await r.json();
  } catch {
    // no JSON body (204)
  }
  return { ok: r.ok, status: r.status, body: parsed };
}

/** An API error as a message (and, for a refused roll, a table of its bad lines). */
function failure(answer) {
  const b = answer.body ?? {};
  if (answer.status === 401) return [msg("bad", t("admin.denied"))];
  const out = [msg("bad", t("admin.error", { code: b.code ?? answer.status, message: b.message ?? "" }))];
  if (Array.isArray(b.rows) && b.rows.length) out.push(lineReport(b.rows));
  return out;
}

function lineReport(rows) {
  return h(
    "table",
    { id: "roll-report", "aria-label": t("admin.rollReport") },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("admin.line")), h("th", { scope: "col" }, t("admin.problem")))),
    h("tbody", {}, rows.map((r) => h("tr", {}, h("td", {}, String(r.where?.line ?? "?")), h("td", {}, `${r.code}: ${r.message}`)))),
  );
}

function readFile(input) {
  const file = input.files?.[0];
  return file ? file.text() : Promise.resolve(null);
}

// ------------------------------------------------------------------ views

const VIEWS = {
  signin() {
    const server = secretInput(S.server);
    const uuid = h("input", { type: "text", class: "mono", autocomplete: "off", spellcheck: "false" });
    uuid.value = S.uuid ?? "";
    const admin = secretInput(S.admin);
    const err = h("div", { id: "signin-msg" });
    const errExisting = h("div", { id: "manage-msg" });
    return [
      title(t("admin.signin")),
      h("p", {}, t("admin.secretsNote")),
      h("h2", {}, t("admin.newElection")),
      h(
        "form",
        {
          novalidate: true,
          onsubmit: (event) => {
            event.preventDefault();
            if (!server.value.trim()) return err.replaceChildren(msg("bad", t("admin.missing")));
            S.server = server.value.trim();
            save();
            go("create");
          },
        },
        field("server-secret", t("admin.serverSecret"), server, t("admin.serverSecretHint")),
        err,
        h("div", { class: "actions" }, button(t("admin.create"), null, { type: "submit", id: "to-create" })),
      ),
      h("h2", {}, t("admin.existing")),
      h(
        "form",
        {
          novalidate: true,
          onsubmit: (event) => {
            event.preventDefault();
            if (!UUID.test(uuid.value.trim()) || !admin.value.trim())
              return errExisting.replaceChildren(msg("bad", t("admin.missing")));
            S.uuid = uuid.value.trim();
            S.admin = admin.value.trim();
            S.trustees = S.trustees ?? [];
            save();
            go("manage");
          },
        },
        field("uuid", t("admin.uuid"), uuid),
        field("admin-secret", t("admin.adminSecret"), admin),
        errExisting,
        h("div", { class: "actions" }, button(t("admin.manage"), null, { type: "submit", id: "to-manage" })),
      ),
    ];
  },

  create() {
    const template = h("textarea", { rows: "12", class: "mono", spellcheck: "false" });
    template.value = JSON.stringify(EXAMPLE, null, 1);
    const file = h("input", { type: "file", accept: ".json,application/json" });
    file.addEventListener("change", async () => {
      const text = await readFile(file);
      if (text !== null) template.value = text;
    });
    const group = h(
      "select",
      {},
      ["BELENIOS-2048", "RFC-3526-2048"].map((g) => h("option", { value: g }, g)),
    );
    const trustees = h("input", { type: "number", min: "1", max: "20", value: "1", inputmode: "numeric" });
    const err = h("div", { id: "create-msg" });
    const submit = async (event) => {
      event.preventDefault();
      let parsed;
      try {
        parsed = JSON.parse(template.value);
      } catch {
        err.replaceChildren(msg("bad", t("admin.badJson")));
        template.focus();
        return;
      }
      const body = JSON.stringify({ template: parsed, group: group.value, trustees: Number(trustees.value) });
      const answer = await call("POST", API, S.server, body);
      if (!answer.ok) return err.replaceChildren(...failure(answer));
      const made = answer.body;
      Object.assign(S, { uuid: made.uuid, admin: made.administrator, ca: made.credential_authority, trustees: made.trustees });
      S.made = made;
      S.roll = null;
      save();
      go("manage");
    };
    return [
      title(t("admin.create")),
      h(
        "form",
        { novalidate: true, onsubmit: submit },
        field("template", t("admin.template"), template, t("admin.templateHint")),
        field("template-file", t("admin.templateFile"), file),
        field("group", t("admin.group"), group),
        field("trustees", t("admin.trustees"), trustees),
        err,
        h(
          "div",
          { class: "actions" },
          button(t("admin.createNow"), null, { type: "submit", id: "create" }),
          button(t("nav.back"), () => go("signin"), { secondary: true }),
        ),
      ),
    ];
  },

  manage() {
    const out = [title(t("admin.election")), h("p", { class: "meta mono", id: "admin-uuid" }, S.uuid)];
    if (S.made) out.push(...secretsShown(S.made));
    const body = h("div", { id: "phase" }, h("p", {}, t("admin.loading")));
    out.push(body, h("div", { class: "actions" }, button(t("admin.signout"), signOut, { secondary: true, id: "signout" })));
    loadPhase(body);
    return out;
  },
};

function secretsShown(made) {
  const text = [
    `election ${made.uuid}`,
    `administrator ${made.administrator}`,
    `credential-authority ${made.credential_authority}`,
    ...made.trustees.map((s, i) => `trustee-${i + 1} ${s}`),
  ].join("\n");
  return [
    msg("info", t("admin.secretsOnce"), "secrets-note"),
    h("pre", { id: "secrets", tabindex: "0", "aria-label": t("admin.secrets") }, text),
    h(
      "div",
      { class: "actions" },
      button(t("admin.downloadSecrets"), () => download(`${made.uuid}-secrets.txt`, `${text}\n`, "text/plain"), { secondary: true, id: "download-secrets" }),
      button(t("admin.secretsKept"), () => { S.made = null; render(false); }, { secondary: true, id: "secrets-done" }),
    ),
  ];
}

function signOut() {
  clearInterval(S.poll);
  sessionStorage.removeItem(KEY);
  for (const k of ["server", "uuid", "admin", "ca", "trustees", "made", "roll", "result", "detail"]) S[k] = null;
  go("signin");
}

async function loadPhase(body) {
  const r = await call("GET", `${API}/${S.uuid}`);
  if (S.view !== "manage") return;
  // an election being set up is "not open yet" to the public API (404: an older server)
  if (r.status === 404 || r.body?.code === NOT_OPEN) {
    body.replaceChildren(...setupSteps());
    return;
  }
  if (!r.ok) {
    body.replaceChildren(...failure(r));
    return;
  }
  S.detail = r.body;
  // ranked questions (tallied through shuffles): the shuffles are closed before decrypting
  S.ranked = false;
  if (r.body.phase === "closed") {
    const e = await call("GET", `${API}/${S.uuid}/objects/${r.body.setup.election}`);
    S.ranked = e.ok && (e.body?.questions ?? []).some((q) => q.type === "NonHomomorphic");
  }
  if (S.view !== "manage") return;
  body.replaceChildren(...phaseSteps(r.body));
}

/** A form posting a file's text (or a textarea's) with a role's secret. */
function uploadForm({ id, heading, intro, secret, path, method = "PUT", type = "application/json", textarea = false, done }) {
  const source = textarea
    ? h("textarea", { rows: "6", class: "mono", spellcheck: "false" })
    : h("input", { type: "file" });
  const key = secretInput(secret);
  const feedback = h("div", { id: `${id}-msg` });
  const submit = async (event) => {
    event.preventDefault();
    const text = textarea ? source.value : await readFile(source);
    if (!text || !key.value.trim()) return feedback.replaceChildren(msg("bad", t("admin.missing")));
    const answer = await call(method, path, key.value.trim(), text, type);
    if (!answer.ok) return feedback.replaceChildren(...failure(answer));
    feedback.replaceChildren(...done(answer.body));
  };
  return h(
    "section",
    { class: "card", "aria-labelledby": `${id}-h` },
    h("h2", { id: `${id}-h` }, heading),
    intro ? h("p", { class: "hint" }, intro) : null,
    h(
      "form",
      { novalidate: true, onsubmit: submit },
      field(`${id}-source`, textarea ? t("admin.text") : t("admin.file"), source),
      field(`${id}-secret`, t("admin.roleSecret"), key),
      h("div", { class: "actions" }, button(t("admin.send"), null, { type: "submit", id: `${id}-send` })),
      feedback,
    ),
  );
}

function setupSteps() {
  const trustees = S.trustees?.length ? S.trustees : [""];
  const open = h("div", { id: "open-msg" });
  return [
    msg("info", t("admin.phaseSetup")),
    uploadForm({
      id: "roll",
      heading: t("admin.roll"),
      intro: t("admin.rollHint"),
      secret: S.admin,
      path: `${API}/${S.uuid}/voters`,
      type: "text/csv",
      textarea: true,
      done: (b) => {
        const lines = Object.entries(b.login_secrets).map(([login, secret]) => `${login},${secret}`).join("\n");
        return [
          msg("ok", t("admin.rollOk", { n: b.voters }), "roll-ok"),
          h("div", { class: "actions" }, button(t("admin.downloadLogins"), () => download(`${S.uuid}-logins.csv`, `${lines}\n`, "text/csv"), { secondary: true, id: "download-logins" })),
        ];
      },
    }),
    uploadForm({
      id: "creds",
      heading: t("admin.credentials"),
      intro: t("admin.credentialsHint"),
      secret: S.ca,
      path: `${API}/${S.uuid}/credentials`,
      done: (b) => [msg("ok", t("admin.credentialsOk", { n: b.count }), "creds-ok")],
    }),
    ...trustees.map((secret, i) =>
      uploadForm({
        id: `trustee${i + 1}`,
        heading: t("admin.trusteeKey", { n: i + 1 }),
        intro: t("admin.trusteeKeyHint"),
        secret,
        path: `${API}/${S.uuid}/trustees/${i + 1}`,
        done: () => [msg("ok", t("admin.trusteeKeyOk", { n: i + 1 }), `trustee${i + 1}-ok`)],
      }),
    ),
    scheduleCard(),
    h(
      "section",
      { class: "card", "aria-labelledby": "open-h" },
      h("h2", { id: "open-h" }, t("admin.open")),
      h("p", { class: "hint" }, t("admin.openHint")),
      h("div", { class: "actions" }, button(t("admin.openNow"), async () => {
        const answer = await call("POST", `${API}/${S.uuid}/open`, S.admin);
        if (!answer.ok) return open.replaceChildren(...failure(answer));
        S.flash = t("admin.opened", { f: answer.body.fingerprint });
        render(true);
      }, { id: "open" })),
      open,
    ),
  ];
}

/** The schedule (when the vote opens and closes by itself) and, read with the
 * administrator's secret, the last failure of a scheduled opening or closing. */
function scheduleCard() {
  const box = h("div", { id: "schedule", "aria-live": "polite" });
  const at = (iso) => when(Date.parse(iso));
  call("GET", `${API}/${S.uuid}/schedule`, S.admin).then((r) => {
    if (!r.ok) return box.replaceChildren(...failure(r));
    const s = r.body;
    const lines = [
      s.open ? h("p", { id: "schedule-open" }, t("admin.opensAt", { at: at(s.open) })) : null,
      s.close ? h("p", { id: "schedule-close" }, t("admin.closesAt", { at: at(s.close) })) : null,
    ].filter(Boolean);
    if (!lines.length) lines.push(h("p", { class: "hint" }, t("admin.noSchedule")));
    const f = s.failed;
    if (f) {
      lines.push(msg("bad", t("admin.scheduleFailed", {
        action: t(`admin.action.${f.action}`),
        code: f.code,
        message: f.message,
        attempts: f.attempts,
        at: at(f.at),
        retry: at(f.retry),
      }), "schedule-failed"));
    }
    box.replaceChildren(...lines);
  });
  return h(
    "section",
    { class: "card", "aria-labelledby": "schedule-h" },
    h("h2", { id: "schedule-h" }, t("admin.schedule")),
    box,
  );
}

/** Refused ballots by error code, from the server's metrics (all its elections). */
async function refusals() {
  try {
    const r = await fetch("/metrics");
    if (!r.ok) return null;
    const out = [];
    for (const line of (await r.text()).split("\n")) {
      const m = /^viche_ballots_refused_total\{code="(V\d{4})"\} (\d+)/.exec(line);
      if (m) out.push([m[1], Number(m[2])]);
    }
    return out;
  } catch {
    return null;
  }
}

function phaseSteps(d) {
  const out = [
    h("p", {}, h("strong", {}, d.name)),
    h("p", { class: "meta" }, t(`pages.phase.${d.phase}`)),
    h("p", {}, h("a", { href: `/#${d.uuid}` }, t("pages.page"))),
  ];
  if (d.phase === "open") {
    const turnout = h("div", { id: "turnout", "aria-live": "polite" });
    const update = async () => {
      const r = await call("GET", `${API}/${S.uuid}`);
      const codes = await refusals();
      if (!r.ok) return;
      turnout.replaceChildren(
        h("p", { id: "turnout-count" }, t("pages.ballots", { n: r.body.ballots })),
        codes === null
          ? null
          : h("p", { id: "refusals" }, codes.length ? t("admin.refusals", { list: codes.map(([c, n]) => `${c} × ${n}`).join(", ") }) : t("admin.noRefusals")),
      );
    };
    clearInterval(S.poll);
    S.poll = setInterval(() => (S.view === "manage" ? update() : clearInterval(S.poll)), 5000);
    update();
    const closeMsg = h("div", { id: "close-msg" });
    out.push(
      h("h2", {}, t("admin.turnout")),
      turnout,
      scheduleCard(),
      h("div", { class: "actions" },
        button(t("admin.refresh"), update, { secondary: true, id: "refresh" }),
        button(t("admin.close"), async (event) => {
          const b = event.currentTarget;
          if (!b.dataset.armed) { // closing cannot be undone: a second press confirms
            b.dataset.armed = "1";
            b.textContent = t("admin.closeConfirm");
            closeMsg.replaceChildren(msg("info", t("admin.closeWarn")));
            return;
          }
          const answer = await call("POST", `${API}/${S.uuid}/close`, S.admin);
          if (!answer.ok) return closeMsg.replaceChildren(...failure(answer));
          S.flash = t("admin.closed", { n: answer.body.counted, b: answer.body.ballots });
          render(true);
        }, { id: "close" })),
      closeMsg,
    );
  } else if (d.phase === "closed" && S.ranked && ["EncryptedTally", "Shuffle"].includes(d.head.type)) {
    const shuffles = h("div", { id: "shuffles-msg" });
    out.push(
      msg("info", t("admin.phaseShuffles")),
      h("div", { class: "actions" }, button(t("admin.endShuffles"), async () => {
        const answer = await call("POST", `${API}/${S.uuid}/shuffles/end`, S.admin);
        if (!answer.ok) return shuffles.replaceChildren(...failure(answer));
        S.flash = t("admin.shufflesEnded", { n: answer.body.count });
        render(true);
      }, { id: "end-shuffles" })),
      shuffles,
    );
  } else if (d.phase === "closed") {
    const trustees = S.trustees?.length ? S.trustees : [""];
    const publish = h("div", { id: "publish-msg" });
    out.push(
      msg("info", t("admin.phaseClosed")),
      ...trustees.map((secret, i) =>
        uploadForm({
          id: `dec${i + 1}`,
          heading: t("admin.decryption", { n: i + 1 }),
          intro: t("admin.decryptionHint"),
          secret,
          path: `${API}/${S.uuid}/trustees/${i + 1}/decryption`,
          method: "POST",
          type: "text/plain",
          done: () => [msg("ok", t("admin.decryptionOk", { n: i + 1 }), `dec${i + 1}-ok`)],
        }),
      ),
      h("div", { class: "actions" }, button(t("admin.publish"), async () => {
        const answer = await call("POST", `${API}/${S.uuid}/result`, S.admin);
        if (!answer.ok) return publish.replaceChildren(...failure(answer));
        S.result = answer.body;
        render(true);
      }, { id: "publish" })),
      publish,
    );
  } else {
    if (S.result) out.push(...resultRows(S.result));
    out.push(h("p", {}, h("a", { class: "button", href: `/#${d.uuid}/result`, id: "public-result" }, t("result.title"))));
  }
  return out;
}

/** The rows POST /result answers: question, answers, counts, blank. */
function resultRows(rows) {
  return [
    h("h2", {}, t("admin.published")),
    ...rows.map((r, i) =>
      h(
        "table",
        { class: "result", "aria-label": r.question, id: `result-${i + 1}` },
        h("caption", {}, r.question),
        h("tbody", {},
          (r.answers ?? []).map((a, j) => h("tr", {}, h("th", { scope: "row" }, a), h("td", {}, String(r.counts?.[j] ?? "")))),
          Number.isInteger(r.blank) ? h("tr", {}, h("th", { scope: "row" }, t("result.blank")), h("td", {}, String(r.blank))) : null),
      ),
    ),
  ];
}

// ------------------------------------------------------------------ page

function render(focus) {
  translatePage();
  const langButton = document.getElementById("lang");
  langButton.textContent = t("lang.switch");
  langButton.setAttribute("lang", lang() === "uk" ? "en" : "uk");
  langButton.setAttribute("aria-label", t("lang.switchLabel"));
  document.title = t("admin.title");
  const parts = VIEWS[S.view]();
  if (S.flash) {
    parts.splice(1, 0, msg("ok", S.flash, "flash"));
    S.flash = null;
  }
  const view = document.getElementById("view");
  view.replaceChildren(...parts.flat().filter(Boolean));
  view.dataset.view = S.view;
  if (focus) document.getElementById("view-title")?.focus();
}

document.getElementById("lang").addEventListener("click", () => {
  setLang(lang() === "uk" ? "en" : "uk");
  render(false);
});
if (S.uuid && S.admin) S.view = "manage";
render(false);
