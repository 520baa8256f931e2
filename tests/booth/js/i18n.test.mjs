import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { STATIC } from "./support.mjs";

globalThis.document ??= { documentElement: {} };
const COMMON = new URL("../common/", STATIC);
const { CATALOGUE, setLang, t, tn } = await import(new URL("i18n.js", COMMON));

const PLURAL = /\.(zero|one|two|few|many|other)$/;
const base = (key) => key.replace(PLURAL, "");
const placeholders = (text) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

test("Ukrainian and English have the same keys (plural forms aside) and placeholders", () => {
  const uk = new Set(Object.keys(CATALOGUE.uk).map(base));
  const en = new Set(Object.keys(CATALOGUE.en).map(base));
  assert.deepEqual([...uk].sort(), [...en].sort());
  for (const key of Object.keys(CATALOGUE.uk).filter((k) => !PLURAL.test(k))) {
    assert.deepEqual(placeholders(CATALOGUE.uk[key]), placeholders(CATALOGUE.en[key]), key);
  }
});

test("every key the booth and the pages use is in the catalogue", () => {
  const sources = [
    new URL("booth.js", STATIC),
    new URL("index.html", STATIC),
    new URL("pages.js", COMMON),
    new URL("../index.html", STATIC),
    new URL("../admin/admin.js", STATIC),
    new URL("../admin/index.html", STATIC),
  ].map((u) => readFileSync(u, "utf8"));
  const used = new Set();
  for (const text of sources) {
    for (const m of text.matchAll(/\bt\("([\w.]+)"/g)) used.add(m[1]);
    for (const m of text.matchAll(/\btn\("([\w.]+)"/g)) used.add(`${m[1]}.other`);
    for (const m of text.matchAll(/data-i18n="([\w.]+)"/g)) used.add(m[1]);
  }
  assert.ok(used.size > 40);
  for (const key of used) {
    for (const lang of ["uk", "en"]) {
      const table = CATALOGUE[lang];
      const ok = key.endsWith(".other")
        ? Object.keys(table).some((k) => base(k) === base(key))
        : key in table;
      assert.ok(ok, `${lang}: ${key}`);
    }
  }
});

test("placeholders are filled and Ukrainian plurals agree with the number", () => {
  setLang("uk");
  assert.equal(t("q.rule", { min: 1, max: 3 }), "Оберіть від 1 до 3 відповідей.");
  assert.deepEqual(
    [1, 2, 5, 21].map((n) => tn("choose.ballots", n)),
    ["1 бюлетень", "2 бюлетені", "5 бюлетенів", "21 бюлетень"],
  );
  setLang("en");
  assert.equal(tn("choose.ballots", 1), "1 ballot");
  assert.equal(tn("choose.ballots", 2), "2 ballots");
  assert.equal(t("no.such.key"), "no.such.key"); // a missing key shows itself, never blank
});
