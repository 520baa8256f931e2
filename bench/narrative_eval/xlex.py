"""A cross-language lexical channel for the claim set (issue 11, xlex11): transliteration and
bilingual dictionaries that install offline, mixed with the monitor's ranking.

    python bench/narrative_eval/xlex.py                 # rankings' top 10 -> xlex_retrieved.csv
    python bench/narrative_eval/xlex.py --score         # P@5 per ranking, language, half (+ CI)
    python bench/narrative_eval/xlex.py --todo NAME --half dev   # unjudged top-5 pairs (csv)

The case list is English (title + keywords); a Russian or Ukrainian post shares no word with it.
This channel gives the post English-side terms from two offline sources and scores them
against each case with BM25:

* **Transliteration** (``t:`` terms): each Cyrillic word is written in Latin letters by a
  table per language (:data:`RU_LATIN`, after the common Russian passport / BGN usage;
  :data:`UK_LATIN`, after Ukraine's national standard of 2010), and every word, Latin or
  transliterated, is reduced to a *skeleton* (:func:`skeleton`: spelling variants of the
  same sound merged, vowels after the first letter dropped, doubles collapsed, the first
  :data:`SKELETON` consonants kept), so that "Сорос" / "Soros", "Скрипаля" / "Skripal",
  "Зеленський" / "Zelenskyy", "Януковича" / "Yanukovych" land on one term. Names carry most
  of what these terms match; ordinary words collide by chance and are damped by idf.
* **Dictionary** (``e:`` terms): Debian's ``dict-freedict-eng-rus`` (FreeDict, GPL-2+, 1,693
  English headwords, dictd format) read backwards: a Russian word's stem (its first
  :data:`STEM` letters, after folding Ukrainian letters onto Russian ones so that Ukrainian
  words reach the same stems) gives the English headwords whose translation has that stem;
  English words, of the post or of the case, are reduced to their first :data:`STEM` letters.

Rankings (``cos`` the e5 cosine, ``hyb`` the monitor's ``hyb0.12``, ``lex`` the BM25 of the
channel divided by the query's best case, 0..1):

* ``hyb0.12`` -- the monitor (the reference; same as ``claim_set.py``'s row).
* ``{part}{w}`` -- ``hyb + w x lex`` for the part ``tr`` (transliteration only), ``ent``
  (transliteration of the words written with a capital only: names), ``dict`` (dictionary
  only) and ``all`` (both), at the weights :data:`WEIGHTS`.
* ``rrf_{part}`` -- reciprocal-rank fusion (k = 60) of ``hyb`` and ``lex``, and ``lex_{part}``,
  the channel alone: computed, not written (their top 5 were far from judged; see README).
* ``monitor`` -- :meth:`viche.monitor.narratives.CaseIndex.scores` with its defaults (since
  xlex11: ``all0.08``, each text's language guessed from its letters).

``xlex_retrieved.csv`` keeps each ranking's top 5 (the post cut to 120 characters).

Choice on dev by the rule of ``rules.py`` (the lowest of ru, uk_tr, en; the mean breaks
ties), then read once on test. Judgments: ``analyst_judgments.csv`` as ``claim_set.py``;
``--score`` scores only the queries whose top 5 is fully judged ("(judged / all)") and never
counts an unjudged pair as relevant or irrelevant.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Mapping
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from viche.monitor.crosslex import (
    _CYR,
    FREEDICT,
    CrossLexicon,
    latin,
    load_dictionary,
    skeleton,
    stem_en,
    stem_ru,
    words,
)

HERE = Path(__file__).parent
LANGS = ("ru", "uk_tr", "uk", "en")
K = 5
WEIGHTS = (0.02, 0.04, 0.08)
PARTS = ("tr", "ent", "dict", "all", "e5w", "tr_e5w")
E5W_MIN = 0.90  # cosine a Cyrillic word needs to its nearest English case word (e5w)
OUT = HERE / "xlex_retrieved.csv"


def terms(
    text: str,
    lang: str,
    part: str,
    dictionary: Mapping[str, frozenset[str]],
    e5words: dict[str, str] | None = None,
) -> list[str]:
    """The channel's terms of a text: ``t:`` skeletons (``tr``, ``all``, ``tr_e5w``; ``ent``:
    capitalised words only) and ``e:`` English stems (``dict``, ``all``: FreeDict for
    Cyrillic words; ``e5w``, ``tr_e5w``: the nearest English case word by e5; the word
    itself for Latin ones)."""
    out: list[str] = []
    for w in words(text):
        cyr = bool(_CYR.search(w))
        if part in ("tr", "all", "tr_e5w") or (part == "ent" and w[:1].isupper()):
            out.append("t:" + skeleton(latin(w, lang) if cyr else w))
        if part in ("dict", "all", "e5w", "tr_e5w"):
            if not cyr:
                out.append("e:" + stem_en(w))
            elif part in ("dict", "all"):
                out.extend("e:" + e for e in sorted(dictionary.get(stem_ru(w), ())))
            elif e5words is not None and w.lower() in e5words:
                out.append("e:" + stem_en(e5words[w.lower()]))
    return out


def e5_words(model: object, cyrillic: list[str], english: list[str]) -> dict[str, str]:
    """A dictionary induced from the monitor's own model: each Cyrillic word -> the English
    case word of highest e5 cosine, when it reaches :data:`E5W_MIN` (vectors cached)."""
    from retrieve import cached_encode

    cv = cached_encode(model, cyrillic)  # type: ignore[arg-type]
    ev = cached_encode(model, english)  # type: ignore[arg-type]
    sims = cv @ ev.T
    best = sims.argmax(axis=1)
    return {
        w: english[int(j)] for w, j, s in zip(cyrillic, best, sims.max(axis=1), strict=True)
        if s >= E5W_MIN
    }  # fmt: skip


def ranks(x: np.ndarray) -> np.ndarray:
    r = np.empty_like(x)
    r[np.argsort(-x)] = np.arange(1, len(x) + 1)
    return r


def rank_all(shared: Path, freedict: Path) -> None:
    import claim_set as cs
    from analyst import case_index
    from retrieve import cached_encode

    from viche.monitor import embed

    model = embed.load_embedder()
    index = case_index(shared, model)
    dictionary = load_dictionary(freedict)
    bm = CrossLexicon((c.text() for c in index.cases), dictionary)
    qs = cs.queries(shared)
    english = sorted({w.lower() for c in index.cases for w in words(c.text())})
    cyrillic = sorted(
        {w.lower() for v in qs.values() for p in v for w in words(p["text"]) if _CYR.search(w)}
    )
    e5words = e5_words(model, cyrillic, english)
    print(f"e5w: {len(e5words)} of {len(cyrillic)} Cyrillic words translated")
    rows = []
    cover: dict[str, list[float]] = {}
    for lang in LANGS:
        items = qs[lang]
        if not items:
            continue
        texts = [p["text"] for p in items]
        vectors = cached_encode(model, texts)
        hyb = index.scores(vectors, texts, weight=0.12, cross_weight=0.0)
        scores: dict[str, np.ndarray] = {"hyb0.12": hyb}
        # the monitor since xlex11 (CaseIndex's defaults: all0.08, language guessed)
        scores["monitor"] = index.scores(vectors, texts)
        for part in PARTS:
            lex = np.zeros_like(hyb)
            for i, t in enumerate(texts):
                q = terms(t, lang, part, dictionary, e5words)
                if part == "dict":
                    cover.setdefault(lang, []).append(
                        sum(1 for w in words(t) if stem_ru(w) in dictionary)
                        / max(1, sum(1 for w in words(t) if _CYR.search(w)))
                    )
                s = bm.term_scores(q)
                lex[i] = s / s.max() if s.max() > 0 else s
            scores[f"lex_{part}"] = lex
            for w in WEIGHTS:
                scores[f"{part}{w:g}"] = hyb + w * lex
            rrf = np.stack(
                [1 / (60 + ranks(h)) + 1 / (60 + ranks(x)) for h, x in zip(hyb, lex, strict=True)]
            )
            scores[f"rrf_{part}"] = rrf
        kept = {k: v for k, v in scores.items() if not k.startswith(("lex_", "rrf_"))}
        rows += [
            r
            for r in cs.top_rows(kept, lang, items, index.cases, text_chars=120)
            if int(str(r["rank"])) <= K  # P@5 reads no further; the file stays small
        ]
    with OUT.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(f"{len(rows)} rows -> {OUT.name}")
    for lang, c in cover.items():
        if lang != "en":
            print(f"dictionary: {lang} share of Cyrillic words with a translation {np.mean(c):.2f}")


def _rows() -> list[dict[str, str]]:
    with OUT.open(encoding="utf-8", newline="") as fh:
        return [r for r in csv.DictReader(fh) if int(r["rank"]) <= K]


def bootstrap(vals: list[float], n: int = 10000, seed: int = 11) -> tuple[float, float]:
    """95 % percentile interval of the mean over queries (resampled with replacement)."""
    rng = np.random.default_rng(seed)
    a = np.asarray(vals)
    means = a[rng.integers(0, len(a), size=(n, len(a)))].mean(axis=1)
    return float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def score(shared: Path, only: str, ci: bool) -> None:
    import claim_set as cs
    from analyst import judgments

    judged = judgments()
    rows = _rows()
    half = cs.split_of(cs.queries(shared))
    wanted = only.split(",") if only else None
    names = [n for n in dict.fromkeys(r["ranking"] for r in rows) if not wanted or n in wanted]
    for name in names:
        line = [f"{name:10}"]
        lows = []
        for lang in LANGS:
            for h in ("dev", "test"):
                vals, queries = cs.judged_top5(rows, judged, half, name, lang, h)
                mean = np.mean(vals) if vals else float("nan")
                cell = f"{lang}-{h} {mean:.2f} ({len(vals)}/{queries})"
                if ci and vals and lang != "uk":
                    lo, hi = bootstrap(vals)
                    cell += f" [{lo:.2f},{hi:.2f}]"
                if h == "dev" and lang != "uk":
                    lows.append(mean)
                line.append(cell)
        line.append(f"| dev min {min(lows):.2f} mean {np.mean(lows):.2f}")
        print("  ".join(line))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", type=Path, default=Path("../shared"))
    ap.add_argument("--freedict", type=Path, default=FREEDICT, help="dictd base path")
    ap.add_argument("--score", action="store_true")
    ap.add_argument("--only", default="", help="--score: these rankings (comma-separated)")
    ap.add_argument("--ci", action="store_true", help="--score: 95 %% bootstrap intervals")
    ap.add_argument("--todo", default="")
    ap.add_argument("--half", default="dev")
    args = ap.parse_args()
    if args.score:
        score(args.shared, args.only, args.ci)
    elif args.todo:
        import claim_set as cs

        cs.unjudged(_rows(), args.shared, args.todo, args.half)
    else:
        rank_all(args.shared, args.freedict)


if __name__ == "__main__":
    main()
