"""The cross-lexical channel's short words and chance collisions (issue 11, acro11).

    python bench/narrative_eval/acro.py --sample          # skeleton matches to judge -> csv
    python bench/narrative_eval/acro.py --sample --score  # how often a skeleton match is a cognate
    python bench/narrative_eval/acro.py                   # rankings' top 5 -> acro_retrieved.csv
    python bench/narrative_eval/acro.py --score --ci --halves dev,test   # P@5, paired bootstrap
    python bench/narrative_eval/acro.py --todo NAME --half dev   # unjudged top-5 pairs

**The sample** (``skeleton_sample.csv``): how often a bare skeleton match (the ``t:`` terms of
:mod:`viche.monitor.crosslex`) joins a word to its English cognate. Drawn from Russian posts
that are NOT queries of the claim set (``claim_set.candidates``' Russian list from position
:data:`SAMPLE_FROM` on, past every candidate read for it): a Cyrillic word occurrence (>= 4
letters) whose skeleton some case word has, uniformly; then one case word of that skeleton,
weighted by its count in the cases (what BM25 meets). Judged by hand, before the strict rule's
verdict was printed beside it: ``cognate`` = 1 when the two words are the same word or name
(an inflection, a derivation of the same root with the same sense: "организаторам" /
"organized"), 0 otherwise ("обстрелов" / "obstruct", "совета" / "soviet": council is not
Soviet). ``strict`` is :func:`cognate` of their spellings.

**The options** (here, not in :mod:`viche.monitor.crosslex`: they did not win, see the
README's acro11 section): ``a:`` terms from a table of political acronyms and abbreviations
(:data:`ACRONYMS`: США / US, ЕС / ЄС / EU, ВСУ / ЗСУ / the Ukrainian army, ООН / UN, ...), which
the channel's words of fewer than four letters skip; and ``c:`` terms instead of ``t:``: a
word meets a case word only when their skeletons agree AND their spellings with the vowels
(:func:`spelling`) share a long enough beginning (:func:`cognate`). Both are scored by the
monitor's BM25 (:class:`Variant`).

**Rankings** (``hyb`` = the concept lexicon's ranking, ``CaseIndex.scores`` with
``cross_weight=0``; languages guessed from the letters, as the monitor does):

* ``monitor`` -- the monitor before acro11 (xlex11's ``all0.08``: ``t:`` + ``e:`` terms).
* ``acr{w}`` -- ``hyb + w x channel`` with the ``a:`` acronym terms added.
* ``cog{w}`` -- with ``c:`` (skeleton AND :func:`cognate`) instead of ``t:``.
* ``acrcog{w}`` -- both.
* ``acrx{w}``, ``acrxcog{w}`` -- the same with the acronyms the concept lexicon does not
  carry already (:data:`BEYOND_LEXICON`); added after the first dev reading, as was the
  weight 0.12.

Choice on dev by the rule of ``rules.py`` (the lowest of ru, uk_tr, en; the mean breaks
ties), then read once on test. Judgments: ``analyst_judgments.csv`` (reasons of this pass end
"(acro11)"); only fully judged top 5s count ("(judged / all)").
"""

from __future__ import annotations

import argparse
import csv
import random
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Collection, Mapping, Sequence
from functools import partial
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from viche.monitor import crosslex as cl
from viche.monitor.text import guess_language

HERE = Path(__file__).parent
OUT = HERE / "acro_retrieved.csv"
SAMPLE = HERE / "skeleton_sample.csv"
SAMPLE_FROM = 700  # the Russian candidates read for the claim set end at 653
SAMPLE_POSTS = 400
SAMPLE_PAIRS = 150
SAMPLE_SEED = 11
LANGS = ("ru", "uk_tr", "uk", "en")
K = 5
#: name -> (cognates, acronym keys: "all" of ACRONYMS, "beyond" = BEYOND_LEXICON or "none",
#: weight)
VARIANTS_SPEC = {
    "acr0.08": (False, "all", 0.08),
    "cog0.08": (True, "none", 0.08),
    "acrcog0.08": (True, "all", 0.08),
    # added after the first dev reading (see README): the acronyms the concept lexicon
    # does not carry already, and a higher weight for the stricter channel
    "acrx0.08": (False, "beyond", 0.08),
    "acrxcog0.08": (True, "beyond", 0.08),
    "cog0.12": (True, "none", 0.12),
    "acrxcog0.12": (True, "beyond", 0.12),
}


# ------------------------------------------------ the acronym table and cognate matching


def _upper(*forms: str) -> str:
    """Cyrillic abbreviations written in capitals, with an inflection of up to two small
    letters ("МИДа", "ООНе"); never a word that only starts with them ("ВОЗМОЖНО")."""
    return r"\b(?:" + "|".join(forms) + r")[а-яёіїєґ]{0,2}\b"


#: Political acronyms and abbreviations: key -> (Russian / Ukrainian forms, English forms).
#: The English forms are those the EUvsDisinfo case titles and keywords use (capitalised
#: acronyms counted in ``cases.csv``: US 2,034, EU 1,148, USSR 321, CIA 173, UN 158, OPCW
#: 155, USA 140, OSCE 104, ISIS 83, IMF 82, DPR / DNR 140, LPR / LNR 124, WHO 56, ECHR 27,
#: FSB 29, SBU 26, GRU 21, CIS 17, FBI 13, PACE 9, EEU 8, MFA 7, KGB 6, plus the
#: spelled-out names), the Cyrillic ones the standard abbreviations of the same bodies in
#: Russian and Ukrainian writing (ВООЗ, ОБСЄ, ПАРЄ, МЗС, ЗСУ, СНД: the Ukrainian forms).
#: Only acronyms a bare skeleton misses: НАТО / NATO, ЛГБТ / LGBT and ВАДА / WADA have four
#: letters and the same skeleton, so they are left to the ``t:`` terms. Capitals are
#: required on both sides where a form is also a word ("US" / "us", "WHO" / "who", "ВОЗ" /
#: "воз").
ACRONYMS: dict[str, tuple[str, str]] = {
    "us": (_upper("США"), r"\bUSA?\b|\bU\.S\.|(?i:\bunited states\b)"),
    "russia": (_upper("РФ"), r"\bRF\b|(?i:\brussia\b|\brussian federation\b)"),
    "eu": (
        _upper("ЕС", "ЄС") + r"|(?i:\b(?:евросоюз|євросоюз)\w*)",
        r"\bEU\b|(?i:\beuropean union\b)",
    ),
    "uaf": (
        _upper("ВСУ", "ЗСУ"),
        r"\bAFU\b|\bUAF\b|(?i:\bukrainian (?:armed forces|army|military|troops|soldiers)\b"
        r"|\barmed forces of ukraine\b)",
    ),
    "un": (_upper("ООН"), r"\bUN\b|(?i:\bunited nations\b)"),
    "imf": (_upper("МВФ"), r"\bIMF\b|(?i:\binternational monetary fund\b)"),
    "cia": (_upper("ЦРУ"), r"\bCIA\b"),
    "fbi": (_upper("ФБР"), r"\bFBI\b"),
    "who": (_upper("ВОЗ", "ВООЗ"), r"\bWHO\b|(?i:\bworld health organi[sz]ation\b)"),
    "osce": (_upper("ОБСЕ", "ОБСЄ"), r"\bOSCE\b"),
    "sbu": (_upper("СБУ"), r"\bSBU\b|(?i:\bsecurity service of ukraine\b)"),
    "mfa": (
        _upper("МИД", "МЗС"),
        r"\bMFA\b|(?i:\bforeign (?:affairs )?ministry\b|\bministry of foreign affairs\b)",
    ),
    "pace": (
        _upper("ПАСЕ", "ПАРЄ"),
        r"\bPACE\b|(?i:\bparliamentary assembly of the council of europe\b)",
    ),
    "dpr": (_upper("ДНР"), r"\bD[PN]R\b|(?i:\bdonetsk people's republic\b)"),
    "lpr": (_upper("ЛНР"), r"\bL[PN]R\b|(?i:\blu[hg]ansk people's republic\b)"),
    "opcw": (_upper("ОЗХО", "ОЗХЗ"), r"\bOPCW\b"),
    "fsb": (_upper("ФСБ"), r"\bFSB\b"),
    "gru": (_upper("ГРУ"), r"\bGRU\b"),
    "kgb": (_upper("КГБ"), r"\bKGB\b"),
    "ussr": (_upper("СССР"), r"\bUSSR\b|(?i:\bsoviet union\b)"),
    "cis": (_upper("СНГ", "СНД"), r"\bCIS\b|(?i:\bcommonwealth of independent states\b)"),
    "eeu": (_upper("ЕАЭС", "ЄАЕС"), r"\bE?EEU\b|\bEAEU\b|(?i:\beurasian economic union\b)"),
    "echr": (_upper("ЕСПЧ", "ЄСПЛ"), r"\bECHR\b|(?i:\beuropean court of human rights\b)"),
    "isis": (
        _upper("ИГИЛ", "ІДІЛ") + r"|(?i:\b(?:игил|ігіл|іділ)\w*)",
        r"\bISIS\b|\bISIL\b|(?i:\bislamic state\b|\bdaesh\b)",
    ),
    "state_department": (
        r"(?i:\b(?:госдеп|держдеп)\w*)", r"(?i:\bstate department\b|\bdepartment of state\b)"
    ),
}  # fmt: skip
_ACRONYMS = tuple((key, re.compile(cyr), re.compile(en)) for key, (cyr, en) in ACRONYMS.items())
#: the keys of :data:`ACRONYMS` that :mod:`viche.monitor.lexicon`'s concepts already bridge
#: (США in "usa", РФ in "russia", ЕС in "eu", ВСУ / ЗСУ in "ukraine", ДНР / ЛНР in
#: "donbas", ИГИЛ in "terror"): counted twice when added here
IN_LEXICON = frozenset({"us", "russia", "eu", "uaf", "dpr", "lpr", "isis"})
#: the others: the acronyms only this channel bridges
BEYOND_LEXICON = frozenset(ACRONYMS) - IN_LEXICON
#: a word meets a case word (``c:`` terms) when their :func:`spelling` share this many
#: first letters, and at least :data:`COGNATE_SHARE` of the shorter one
COGNATE_PREFIX = 4
COGNATE_SHARE = 0.75


def acronyms(text: str, keys: Collection[str] | None = None) -> list[str]:
    """The keys of :data:`ACRONYMS` (of ``keys`` only, when given) a text names, in Cyrillic
    or in English, once each."""
    return [
        key
        for key, cyr, en in _ACRONYMS
        if (keys is None or key in keys) and (cyr.search(text) or en.search(text))
    ]


def _merged(word: str) -> str:
    w = word.lower()
    for a, b in cl._SOUNDS:
        w = w.replace(a, b)
    return w


def spelling(word: str) -> str:
    """A Latin word as :func:`skeleton` sees it but with its vowels: sounds merged, y and i
    one letter, doubled letters collapsed ("laboratorii" and "laboratory" both
    "laboratori")."""
    w = _merged(word).replace("y", "i")
    out: list[str] = []
    for ch in w:
        if not out or out[-1] != ch:
            out.append(ch)
    return "".join(out)


def cognate(a: str, b: str) -> bool:
    """Whether two :func:`spelling` forms are one word: their common beginning has at least
    :data:`COGNATE_PREFIX` letters and :data:`COGNATE_SHARE` of the shorter form (an
    inflection or a suffix may differ: "skripalia" / "skripal", "platformi" / "platforms";
    "obstrelov" / "obstrukt" do not)."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n >= COGNATE_PREFIX and n >= COGNATE_SHARE * min(len(a), len(b))


def query_terms(
    text: str,
    lang: str,
    dictionary: Mapping[str, frozenset[str]],
    vocabulary: Mapping[str, frozenset[str]] | None,
    acronym_keys: Collection[str],
) -> list[str]:
    """A post's terms as :func:`viche.monitor.crosslex.terms` gives them, but with the
    ``a:`` acronyms of ``acronym_keys`` and, when ``vocabulary`` (skeleton -> the
    :func:`spelling` forms of the case words, :func:`case_vocabulary`) is given, ``c:``
    terms instead of ``t:``: the case words of the same skeleton that are its
    :func:`cognate`."""
    out: list[str] = []
    for w in cl.words(text):
        cyr = bool(cl._CYR.search(w))
        form = cl.latin(w, lang) if cyr else w
        if vocabulary is None:
            out.append("t:" + cl.skeleton(form))
        else:
            mine = spelling(form)
            out.extend(
                "c:" + e for e in sorted(vocabulary.get(cl.skeleton(form), ())) if cognate(mine, e)
            )
        if cyr:
            out.extend("e:" + e for e in sorted(dictionary.get(cl.stem_ru(w), ())))
        else:
            out.append("e:" + cl.stem_en(w))
    return out + ["a:" + key for key in acronyms(text, acronym_keys)]


def case_terms(text: str, *, cognates: bool, acronym_keys: Collection[str]) -> list[str]:
    """An English case's terms: ``e:`` and either ``t:`` or (``cognates``) ``c:`` (the
    :func:`spelling`) of every word, and its ``a:`` acronyms of ``acronym_keys``."""
    kind, prefix = (spelling, "c:") if cognates else (cl.skeleton, "t:")
    out = [t for w in cl.words(text) for t in (prefix + kind(w), "e:" + cl.stem_en(w))]
    return out + ["a:" + key for key in acronyms(text, acronym_keys)]


def case_vocabulary(cases: Sequence[str]) -> dict[str, frozenset[str]]:
    """Skeleton -> the :func:`spelling` forms of the case words that have it."""
    by: dict[str, set[str]] = {}
    for text in cases:
        for w in cl.words(text):
            by.setdefault(cl.skeleton(w), set()).add(spelling(w))
    return {k: frozenset(v) for k, v in by.items()}


class Variant:
    """The channel of one variant: BM25 (:class:`viche.monitor.crosslex.CrossLexicon`) of
    :func:`query_terms` against :func:`case_terms`."""

    def __init__(
        self,
        cases: Sequence[str],
        dictionary: Mapping[str, frozenset[str]],
        *,
        cognates: bool,
        acronym_keys: Collection[str],
    ) -> None:
        self.dictionary = dictionary
        self.keys = frozenset(acronym_keys)
        self.vocabulary = case_vocabulary(cases) if cognates else None
        self.lexicon = cl.CrossLexicon(
            cases,
            dictionary,
            terms_of_case=partial(case_terms, cognates=cognates, acronym_keys=self.keys),
        )

    def similarity(self, texts: Sequence[str], langs: Sequence[str]) -> np.ndarray:
        """Per text, BM25 divided by its best case's (0..1), as ``CrossLexicon.similarity``."""
        out = np.zeros((len(texts), self.lexicon.size), dtype=np.float32)
        for i, (text, lang) in enumerate(zip(texts, langs, strict=True)):
            q = query_terms(text, lang, self.dictionary, self.vocabulary, self.keys)
            s = self.lexicon.term_scores(q)
            if len(s) and s.max() > 0:
                out[i] = s / s.max()
        return out


def draw_sample(shared: Path) -> None:
    """Write :data:`SAMPLE` (judgment columns empty when new; kept when it exists)."""
    import claim_set as cs

    cases = cs.load_cases(shared)
    counts = Counter(w for c in cases for w in cl.words(c.text()) if not cl._CYR.search(w))
    by: dict[str, Counter[str]] = defaultdict(Counter)
    for w, n in counts.items():
        by[cl.skeleton(w)][w.lower()] += n
    posts = cs.candidates(shared)["ru"][SAMPLE_FROM : SAMPLE_FROM + SAMPLE_POSTS]
    tokens = [w for p in posts for w in cl.words(p["text"]) if cl._CYR.search(w)]
    hits = [w for w in tokens if cl.skeleton(cl.latin(w, "ru")) in by]
    print(f"{len(tokens)} Cyrillic words, {len(hits)} ({len(hits) / len(tokens):.0%}) with a"
          " skeleton match in the cases")  # fmt: skip
    old: dict[tuple[str, str], dict[str, str]] = {}
    if SAMPLE.exists():
        with SAMPLE.open(encoding="utf-8", newline="") as fh:
            old = {(r["word"], r["case_word"]): r for r in csv.DictReader(fh)}
    rng = random.Random(SAMPLE_SEED)
    rows = []
    for _ in range(SAMPLE_PAIRS):
        w = rng.choice(hits)
        sk = cl.skeleton(cl.latin(w, "ru"))
        english = rng.choices(list(by[sk]), weights=list(by[sk].values()))[0]
        prev = old.get((w, english), {})
        rows.append(
            {"word": w, "latin": cl.latin(w, "ru"), "skeleton": sk, "case_word": english,
             "case_count": by[sk][english], "cognate": prev.get("cognate", ""),
             "strict": int(cognate(spelling(cl.latin(w, "ru")), spelling(english)))}
        )  # fmt: skip
    with SAMPLE.open("w", encoding="utf-8", newline="") as fh:
        out = csv.DictWriter(fh, fieldnames=list(rows[0]))
        out.writeheader()
        out.writerows(rows)
    print(f"{len(rows)} pairs -> {SAMPLE.name}")


def sample_score() -> None:
    """Share of true cognates among the judged skeleton matches, by skeleton length and by
    the strict rule's verdict (its precision and recall against the judgments)."""
    with SAMPLE.open(encoding="utf-8", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["cognate"] in ("0", "1")]
    yes = [r for r in rows if r["cognate"] == "1"]
    print(f"judged {len(rows)}: cognates {len(yes)} ({len(yes) / len(rows):.0%})")
    for n in sorted({len(r["skeleton"]) for r in rows}):
        part = [r for r in rows if len(r["skeleton"]) == n]
        hit = sum(r["cognate"] == "1" for r in part)
        print(f"  skeleton of {n} letters: {hit}/{len(part)} cognates")
    kept = [r for r in rows if r["strict"] == "1"]
    good = sum(r["cognate"] == "1" for r in kept)
    print(f"strict rule keeps {len(kept)}: {good} cognates (precision {good / len(kept):.0%},"
          f" recall {good / len(yes):.0%})")  # fmt: skip
    for r in rows:
        if (r["strict"] == "1") != (r["cognate"] == "1"):
            print(f"  {'kept' if r['strict'] == '1' else 'lost'}: {r['word']} / {r['case_word']}"
                  f" (cognate {r['cognate']})")  # fmt: skip


def rank_all(shared: Path, freedict: Path) -> None:
    import claim_set as cs
    from analyst import case_index
    from retrieve import cached_encode

    from viche.monitor import embed

    model = embed.load_embedder()
    index = case_index(shared, model)
    dictionary = cl.load_dictionary(freedict)
    texts_of_cases = [c.text() for c in index.cases]
    keys = {"all": frozenset(ACRONYMS), "beyond": BEYOND_LEXICON, "none": frozenset()}
    lexicons = {
        name: Variant(texts_of_cases, dictionary, cognates=c, acronym_keys=keys[a])
        for name, (c, a, _) in VARIANTS_SPEC.items()
    }
    qs = cs.queries(shared)
    rows = []
    for lang in LANGS:
        items = qs[lang]
        if not items:
            continue
        texts = [p["text"] for p in items]
        vectors = cached_encode(model, texts)
        hyb = index.scores(vectors, texts, cross_weight=0.0)
        scores = {"monitor": index.scores(vectors, texts)}
        langs = [guess_language(t) for t in texts]
        for name, (_, _, w) in VARIANTS_SPEC.items():
            scores[name] = hyb + w * lexicons[name].similarity(texts, langs)
        rows += [
            r
            for r in cs.top_rows(scores, lang, items, index.cases, text_chars=120)
            if int(str(r["rank"])) <= K
        ]
    with OUT.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(f"{len(rows)} rows -> {OUT.name}")


def _rows() -> list[dict[str, str]]:
    with OUT.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def per_query(
    rows: list[dict[str, str]],
    judged: dict[tuple[str, str], int],
    half: dict[str, str],
    name: str,
    lang: str,
    h: str,
) -> dict[str, float]:
    """P@5 per query id of a ranking, for the queries whose top 5 is fully judged."""
    by: dict[str, list[int]] = {}
    for r in rows:
        if r["ranking"] == name and r["lang"] == lang and half[r["post_id"]] == h:
            key = (r["post_id"].removeprefix("uk:"), r["case_url"])
            by.setdefault(r["post_id"], []).append(judged.get(key, -1))
    return {q: float(np.mean(v)) for q, v in by.items() if -1 not in v}


def score(shared: Path, ci: bool, halves: tuple[str, ...]) -> None:
    """P@5 per ranking, language and half (only ``halves``: dev until the choice is made);
    with ``ci`` the paired bootstrap of each ranking's per-query difference from
    ``monitor`` (mean, 95 % interval, queries better / worse)."""
    score_table(_rows(), shared, ci, halves)


def score_table(
    rows: list[dict[str, str]],
    shared: Path,
    ci: bool,
    halves: tuple[str, ...],
    *,
    only: str = "",
    width: int = 11,
    intervals: bool = False,
) -> None:
    """The table of :func:`score` for any retrieved rows (``only``: these rankings, comma
    separated; ``intervals``: with ``ci``, also each P@5's own bootstrap interval)."""
    import claim_set as cs
    from analyst import judgments
    from xlex import bootstrap

    judged = judgments()
    half = cs.split_of(cs.queries(shared))
    wanted = only.split(",") if only else None
    names = [n for n in dict.fromkeys(r["ranking"] for r in rows) if not wanted or n in wanted]
    for name in names:
        line = [f"{name:{width}}"]
        lows = []
        for lang in LANGS:
            for h in halves:
                mine = per_query(rows, judged, half, name, lang, h)
                n_all = len({r["post_id"] for r in rows if r["ranking"] == name
                             and r["lang"] == lang and half[r["post_id"]] == h})  # fmt: skip
                vals = list(mine.values())
                mean = float(np.mean(vals)) if vals else float("nan")
                cell = f"{lang}-{h} {mean:.2f} ({len(vals)}/{n_all})"
                if ci and vals and lang != "uk" and intervals:
                    lo, hi = bootstrap(vals)
                    cell += f" [{lo:.2f},{hi:.2f}]"
                if ci and vals and lang != "uk" and name != "monitor":
                    base = per_query(rows, judged, half, "monitor", lang, h)
                    diff = [mine[q] - base[q] for q in mine if q in base]
                    if diff:
                        lo, hi = bootstrap(diff)
                        up = sum(d > 0 for d in diff)
                        down = sum(d < 0 for d in diff)
                        cell += f" d{np.mean(diff):+.2f} [{lo:+.2f},{hi:+.2f}] {up}/{down}"
                if h == "dev" and lang != "uk":
                    lows.append(mean)
                line.append(cell)
        if lows:
            line.append(f"| dev min {min(lows):.2f} mean {np.mean(lows):.2f}")
        print("  ".join(line))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", type=Path, default=Path("../shared"))
    ap.add_argument("--freedict", type=Path, default=cl.FREEDICT, help="dictd base path")
    ap.add_argument("--sample", action="store_true")
    ap.add_argument("--score", action="store_true")
    ap.add_argument("--ci", action="store_true", help="--score: paired bootstrap vs monitor")
    ap.add_argument("--halves", default="dev", help="--score: dev, test or dev,test")
    ap.add_argument("--todo", default="")
    ap.add_argument("--half", default="dev")
    args = ap.parse_args()
    if args.sample:
        sample_score() if args.score else draw_sample(args.shared)
    elif args.score:
        score(args.shared, args.ci, tuple(args.halves.split(",")))
    elif args.todo:
        import claim_set as cs

        cs.unjudged(_rows(), args.shared, args.todo, args.half)
    else:
        rank_all(args.shared, args.freedict)


if __name__ == "__main__":
    main()
