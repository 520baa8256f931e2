"""Scoring and show rules for post -> case matching, measured on the analyst set (issue 11).

    python bench/narrative_eval/rules.py            # score every rule, top 5 -> rules_retrieved.csv
    python bench/narrative_eval/rules.py --score    # P@5 per rule, language and half (dev/test)
    python bench/narrative_eval/rules.py --embed-passage   # once: cases with e5's "passage: "

Same queries (``analyst_queries.json`` and the Ukrainian translations), same judging rules and
judgments file (``analyst_judgments.csv``: every pair any rule puts in a top 5 is judged, new
rows appended, old ones never changed) as ``analyst.py``. The queries of each language are
split in two halves with a fixed seed (:func:`analyst.split`; a Ukrainian translation follows
its Russian original): rules are compared on **dev**, the chosen one is reported on **test**.

Scoring rules (``cos`` = the cosine the monitor uses: ``query:`` post vs ``query: title.
keywords`` case, post cleaned by :func:`viche.monitor.narratives.claim_text`):

* ``raw``: cos (the monitor today).
* ``center_case``: both sides minus the mean case vector, re-normalised (anisotropy: e5 puts
  every text in a narrow cone, so cos 0.7-0.8 means nothing).
* ``center_lang``: cases minus the case mean, the post minus the mean of background posts of
  ITS language (the language offset of a multilingual model is removed too).
* ``csls_cases``: 2 cos - r(post) - r(case), r(post) = mean cos of the post's 10 nearest cases,
  r(case) = mean cos of the case's 10 nearest other cases (hubness, known at run time).
* ``csls_bg``: the same with r(case) = mean cos of the case's 10 nearest background posts of
  the post's language.
* ``z_bg`` / ``z_center``: per case, (cos - mean) / sd over the background posts of the post's
  language (raw / centred vectors): a hub case near everything gets a low z.
* ``smooth_lang``: centred (as ``center_lang``) score averaged over the case and its 9
  nearest cases (a case counts as much as the claim it restates, told again in other cases);
  ``smooth_mix``: half raw centred score, half smoothed.
* ``passage``: cos with the cases embedded with e5's ``passage: `` prefix (the model card's
  asymmetric use: ``query:`` for the post, ``passage:`` for what is searched).

Background posts (never a query): ru -- the analyst ru pool and the apolitical Russian
Telegram posts of ``retrieve.unrelated``; en -- the en pool and the organic English posts; uk --
the everyday Ukrainian sentences, the 30 claims of ``claims.py`` and the ``uk_parallel.py``
translations (~85 texts: there is no real Ukrainian post set).

Held out beyond the halves (scored with ``raw``, the rule chosen, only): the 9 real Ukrainian
IRA tweets (:func:`analyst.uk_real_pool`) and 10 fresh queries per language drawn by the same
rule after the choice (:func:`analyst.fresh_queries`). ``--score`` ends with the ceiling: the
P@5 a ranking would reach if every case judged relevant for a query came first.

Show rules, per language and rule, read off the null (the apolitical posts of
``retrieve.unrelated``, scored the same way; the 99th percentile, the maximum for the 40
Ukrainian ones): a query is shown its cases when its best score reaches the null's
(``shown_top1``), or when its margin best - 5th reaches the null's (``shown_margin``).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from analyst import (
    K,
    case_index,
    en_pool,
    fresh_queries,
    judgments,
    precision_table,
    ru_pool,
    split_of,
    uk_real_pool,
)
from claims import CLAIMS
from retrieve import cached_encode, thresholds, unrelated
from uk_analyst import UK_OF_RU
from uk_everyday import EVERYDAY_UK
from uk_parallel import UK_OF_RU as UK_PARALLEL

from viche.monitor import embed
from viche.monitor import narratives as nar

HERE = Path(__file__).parent
NEIGHBOURS = 10
#: the analyst languages, then the real Ukrainian tweets and the fresh queries (test only)
EXTRA_LANGS = ("ru", "uk", "en", "uk_real", "ru_fresh", "en_fresh")
RULES = (
    "raw", "center_case", "center_lang", "csls_cases", "csls_bg", "z_bg", "z_center",
    "smooth_lang", "smooth_mix", "passage",
)  # fmt: skip


class PassageEmbedder:
    """The monitor's model with e5's ``passage: `` prefix (for the case titles), bench only."""

    def __init__(self, inner: embed.E5Embedder) -> None:
        self.inner = inner
        self.name = inner.name.replace("query:", "passage:")

    def encode(self, texts: list[str]) -> np.ndarray:
        cut = [t[: embed.MAX_CHARS] if t.strip() else "." for t in texts]
        out = self.inner._model.passage(cut)  # bench: the other prefix
        return np.asarray(out, dtype=np.float32).reshape(len(cut), embed.DIMENSION)


def passage_index(shared: Path, model: embed.E5Embedder) -> nar.CaseIndex:
    known = nar.load_cases(shared / "data/influence/euvsdisinfo/cases.csv")
    return nar.CaseIndex.build(known, PassageEmbedder(model), cache_dir=HERE / ".cache")


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def topk_mean(sims: np.ndarray, k: int) -> np.ndarray:
    return np.sort(sims, axis=1)[:, -k:].mean(axis=1)


class Rules:
    """Every scoring rule over one case set, with its background statistics."""

    def __init__(
        self, V: np.ndarray, back: dict[str, np.ndarray], passage: np.ndarray | None
    ) -> None:
        self.V = V
        self.P = passage
        self.mu_case = V.mean(axis=0)
        self.Vc = unit(V - self.mu_case)
        self.mu_post = {lang: b.mean(axis=0) for lang, b in back.items()}
        raw = {lang: b @ V.T for lang, b in back.items()}
        cen = {lang: unit(b - self.mu_post[lang]) @ self.Vc.T for lang, b in back.items()}
        self.z_raw = {lang: (s.mean(axis=0), s.std(axis=0) + 1e-6) for lang, s in raw.items()}
        self.z_cen = {lang: (s.mean(axis=0), s.std(axis=0) + 1e-6) for lang, s in cen.items()}
        self.r_bg = {lang: np.sort(s, axis=0)[-NEIGHBOURS:].mean(axis=0) for lang, s in raw.items()}
        n = len(V)
        self.r_cases = np.zeros(n)
        self.knn = np.zeros((n, NEIGHBOURS), dtype=np.int64)
        for start in range(0, n, 2048):
            s = V[start : start + 2048] @ V.T
            s[np.arange(s.shape[0]), np.arange(start, start + s.shape[0])] = -1
            self.r_cases[start : start + 2048] = topk_mean(s, NEIGHBOURS)
            c = self.Vc[start : start + 2048] @ self.Vc.T
            self.knn[start : start + 2048] = np.argsort(-c, axis=1)[:, :NEIGHBOURS]

    def score(self, rule: str, Q: np.ndarray, lang: str) -> np.ndarray:
        cos = Q @ self.V.T
        if rule == "raw":
            return cos
        if rule == "center_case":
            return unit(Q - self.mu_case) @ self.Vc.T
        centred = unit(Q - self.mu_post[lang]) @ self.Vc.T
        if rule == "center_lang":
            return centred
        if rule == "csls_cases":
            return 2 * cos - topk_mean(cos, NEIGHBOURS)[:, None] - self.r_cases[None, :]
        if rule == "csls_bg":
            return 2 * cos - topk_mean(cos, NEIGHBOURS)[:, None] - self.r_bg[lang][None, :]
        if rule == "z_bg":
            mu, sd = self.z_raw[lang]
            return (cos - mu) / sd
        if rule == "z_center":
            mu, sd = self.z_cen[lang]
            return (centred - mu) / sd
        smooth = centred[:, self.knn].mean(axis=2)
        if rule == "smooth_lang":
            return smooth
        if rule == "smooth_mix":
            return 0.5 * centred + 0.5 * smooth
        if rule == "passage" and self.P is not None:
            return Q @ self.P.T
        raise ValueError(rule)


def background(shared: Path, queries: dict[str, list[dict[str, str]]]) -> dict[str, list[str]]:
    qids = {p["post_id"] for lang in ("ru", "en") for p in queries[lang]}
    neg = unrelated(shared)
    return {
        "ru": [p["text"] for p in ru_pool(shared) if p["post_id"] not in qids] + neg["ru"],
        "en": [p["text"] for p in en_pool(shared) if p["post_id"] not in qids] + neg["en"],
        "uk": list(EVERYDAY_UK) + [c[1] for c in CLAIMS.values()] + list(UK_PARALLEL.values()),
    }


def retrieve(shared: Path) -> None:
    model = embed.load_embedder()
    index = case_index(shared, model)
    pindex = passage_index(shared, model)  # embedded once, then cached
    queries = json.loads((HERE / "analyst_queries.json").read_text())
    queries["uk"] = [
        {**p, "post_id": f"uk:{p['post_id']}", "text": UK_OF_RU[p["post_id"]]}
        for p in queries["ru"]
    ]

    def vectors(texts: list[str]) -> np.ndarray:
        return cached_encode(model, [nar.claim_text(t) for t in texts]).astype(np.float64)

    # real Ukrainian posts (a handful of IRA tweets) chosen by the analyst rule: the best
    # case reaches the Ukrainian null threshold of analyst_queries.json
    real = uk_real_pool(shared)
    best = (vectors([p["text"] for p in real]) @ index.vectors.T).max(axis=1)
    queries["uk_real"] = [
        p for p, b in zip(real, best, strict=True) if b >= queries["thresholds"]["uk"]
    ]
    fresh = fresh_queries(shared, model, index, queries)
    queries["ru_fresh"], queries["en_fresh"] = fresh["ru"], fresh["en"]
    back = {lang: vectors(t) for lang, t in background(shared, queries).items()}
    rules = Rules(index.vectors.astype(np.float64), back, pindex.vectors.astype(np.float64))
    null = {lang: vectors(texts) for lang, texts in unrelated(shared).items()}
    rows = []
    for rule in RULES:
        top1: dict[str, np.ndarray] = {}
        margin: dict[str, np.ndarray] = {}
        for lang, N in null.items():
            s = np.sort(rules.score(rule, N, lang), axis=1)
            top1[lang], margin[lang] = s[:, -1], s[:, -1] - s[:, -K]
        t_top1, t_margin = thresholds(top1), thresholds(margin)
        for lang in EXTRA_LANGS:
            items = queries[lang]
            S = rules.score(rule, vectors([p["text"] for p in items]), lang[:2])
            for p, row in zip(items, S, strict=True):
                top = np.argsort(-row)[:K]
                top_score, gap = float(row[top[0]]), float(row[top[0]] - row[top[-1]])
                for rank, j in enumerate(top, start=1):
                    c = index.cases[int(j)]
                    rows.append(
                        {
                            "ranking": rule,
                            "lang": lang,
                            "post_id": p["post_id"],
                            "rank": rank,
                            "score": round(float(row[j]), 4),
                            "margin": round(gap, 4),
                            "shown_top1": int(top_score >= t_top1[lang[:2]]),
                            "shown_margin": int(gap >= t_margin[lang[:2]]),
                            "case_date": c.date[:10],
                            "case_url": c.url,
                            "case_title": c.title,
                            "text": p["text"][:700],
                        }
                    )
        print(rule, "null p99 best", t_top1, "margin", t_margin, flush=True)
    out = HERE / "rules_retrieved.csv"
    with out.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(len(rows), "rows ->", out.name)


def score() -> None:
    with (HERE / "rules_retrieved.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    queries = json.loads((HERE / "analyst_queries.json").read_text())
    half = split_of(queries)
    print(
        "rule         lang half  P@5 (all queries) | best>=null: shown, P@5 of shown"
        " | margin>=null: shown, P@5 of shown"
    )
    for rule in RULES:
        mine = [r for r in rows if r["ranking"] == rule]
        if not mine:
            continue
        for lang in EXTRA_LANGS:
            for h in ("dev", "test"):
                # the real Ukrainian posts choose nothing: all test
                part = [
                    r for r in mine if r["lang"] == lang and half.get(r["post_id"], "test") == h
                ]
                if not part or (lang not in ("ru", "uk", "en") and rule != "raw"):
                    continue  # the real Ukrainian and the fresh queries: the chosen rule only
                t = precision_table(part)
                print(
                    f"{rule:12s} {lang}   {h:4s}  {t['p_at_k']:.3f}             |"
                    f" {t['shown_top1']:>5s}, {t['p_shown_top1']}"
                    f" | {t['shown_margin']:>5s}, {t['p_shown_margin']}"
                )


def ceiling() -> None:
    """What no ranking can beat on this set: per language and half, the queries with any case
    judged relevant (by any rule) and the P@K if every such case were ranked first."""
    queries = json.loads((HERE / "analyst_queries.json").read_text())
    half = split_of(queries)
    relevant: dict[str, int] = {}
    judged: dict[str, int] = {}
    for (post, _), rel in judgments().items():
        relevant[post] = relevant.get(post, 0) + rel
        judged[post] = judged.get(post, 0) + 1
    for lang in ("ru", "en"):
        for h in ("dev", "test"):
            ids = [p["post_id"] for p in queries[lang] if half[p["post_id"]] == h]
            hits = [relevant.get(i, 0) for i in ids]
            best = sum(min(K, x) for x in hits) / K / len(ids)
            print(
                f"ceiling {lang} {h}: {sum(x > 0 for x in hits)}/{len(ids)} queries with a relevant"
                f" case, P@{K} at most {best:.2f} ({min(judged[i] for i in ids)}-"
                f"{max(judged[i] for i in ids)} cases judged per query)"
            )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", type=Path, default=Path("../shared"))
    ap.add_argument("--score", action="store_true")
    ap.add_argument("--embed-passage", action="store_true")
    args = ap.parse_args()
    if args.score:
        score()
        ceiling()
    elif args.embed_passage:
        passage_index(args.shared, embed.load_embedder())
    else:
        retrieve(args.shared)


if __name__ == "__main__":
    main()
