"""What an analyst gets: real posts matched against ALL known cases, judged by hand.

    python bench/narrative_eval/analyst.py              # embed (cached), pick queries, retrieve
    python bench/narrative_eval/analyst.py --score      # P@5 per language, as the monitor ranks now
    python bench/narrative_eval/analyst.py --score --ranking claim   # another ranking, same set

Why this set and not ``retrieve.py``'s. The earlier set compared IRA tweets of Nov 2015 -
Jan 2016 with the ~170 cases of the same two weeks: a post had, at best, one or two cases it
could restate, so most posts only shared a topic with all of theirs and P@5 was bounded near
0 whatever the model did. The monitor does not do that: it compares a narrative with the
WHOLE database (10,892 cases, 2015-2021), and the claims it is for (Kyiv is run by Nazis, the
West fights Russia to the last Ukrainian, Ukraine shells civilians, sanctions hurt Europe
more, ...) recur across hundreds of cases. So here, per language:

* **Pool** (real posts): ru -- the posts of ``tg_ru_news_2024`` labelled "political" upstream
  (Russian Telegram news channels, Aug 2023 - Dec 2024; 4,631 posts), a fixed sample of
  :data:`RU_POOL` distinct ones; en -- English IRA tweets
  (``ira_dev``) on public affairs, a fixed sample of :data:`EN_POOL`; uk -- there is no real
  Ukrainian post in the data: our own translations (``uk_analyst.py``) of the Russian queries.
* **Cases**: all of ``euvsdisinfo/cases.csv``, embedded as the monitor does
  (:class:`viche.monitor.narratives.CaseIndex`).
* **Thresholds**: per language, the 99th percentile of the best score over ALL cases of
  apolitical posts (the null distribution; ``retrieve.unrelated``).
* **Queries**: per language, :data:`QUERIES` posts drawn with a fixed seed among the pool
  posts for which the monitor would show a case (best score at the threshold): the links an
  analyst is actually shown. Ukrainian: the translations of the Russian queries. The queries
  are chosen once (``analyst_queries.json``) and stay fixed when the ranking changes.
* **Halves**: the queries of each language are split with a fixed seed (:func:`split_of`)
  into a dev half (to choose a method, ``rules.py``) and a test half (to report it).
* **Real Ukrainian**: :func:`uk_real_pool`, the 12 IRA tweets in Ukrainian letters (a check
  in ``rules.py``, too few for a figure).
* **Figure**: direction post -> cases. P@5 = for each query the share of its top 5 cases that
  are relevant, averaged over the queries; also P@1, the precision of the cases shown (top 5
  at threshold) and the share of queries with any relevant case in the top 5.

Judging rules (written before any score was looked at; ``analyst_judgments.csv``, one row per
(post, case) pair, the uk translation inherits the judgment of its Russian original):

1. relevant = 1 when the post states, implies or argues the claim of the case title, in any
   words or language: the same accusation against the same kind of actor (e.g. post "Kyiv's
   regime shells Donetsk" and case "Ukrainian army shells civilians in Donbas"), even if the
   case is years older and names other people or places, as long as the claim is the same.
2. relevant = 0 when the post only shares the topic, an actor, a country or an event with the
   case (e.g. a news item on a Ukrainian drone attack vs "Ukraine is a failed state").
3. relevant = 0 when the post reports the opposite or debunks the claim.
4. A post carrying several claims: relevant if the case restates any one of them.
5. When in doubt: 0 (an analyst needs the link to be right, not plausible).
The reason column says why, in a few words. Judged by an LLM (Claude) reading the Russian /
English post and the English case title.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import random
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from retrieve import TOPIC, cached_encode, thresholds, unrelated

from viche.monitor import embed
from viche.monitor import narratives as nar
from viche.monitor.text import guess_language

HERE = Path(__file__).parent
RU_POOL = 400
EN_POOL = 500
QUERIES = 20
K = 5
SEED = 2024
SPLIT_SEED = 11
RANKINGS = ("post", "clean", "claim", "hybrid")


def ru_pool(shared: Path) -> list[dict[str, str]]:
    """Political posts of the Russian Telegram channels, one per distinct opening."""
    out: list[dict[str, str]] = []
    seen: set[str] = set()
    tg = shared / "data/influence/tg_ru_news_2024/posts.csv.gz"
    with gzip.open(tg, "rt", encoding="utf-8", newline="") as fh:
        for r in csv.DictReader(fh):
            if r["topic_category"] != "political":
                continue
            text = nar.claim_text(r["text"])
            if len(text.split()) < 8 or guess_language(text) != "ru":
                continue
            key = text.casefold()[:80]
            if key in seen:
                continue
            seen.add(key)
            out.append({"post_id": r["post_id"], "date": r["created_at"][:10], "text": text})
    random.Random(13).shuffle(out)
    return out[:RU_POOL]


def en_pool(shared: Path) -> list[dict[str, str]]:
    """English IRA tweets on public affairs (all dates), a fixed sample."""
    found: list[dict[str, str]] = []
    seen: set[str] = set()
    ira = shared / "data/influence/ira_dev/posts.csv.gz"
    with gzip.open(ira, "rt", encoding="utf-8", newline="") as fh:
        for r in csv.DictReader(fh):
            if r["lang"] != "English" or r["text"].startswith("RT "):
                continue
            text = nar.claim_text(r["text"])
            if len(text.split()) < 8 or not TOPIC.search(text) or guess_language(text) != "en":
                continue
            key = text.casefold()[:80]
            if key in seen:
                continue
            seen.add(key)
            found.append({"post_id": r["post_id"], "date": r["created_at"][:10], "text": text})
    random.Random(11).shuffle(found)
    return found[:EN_POOL]


def uk_real_pool(shared: Path) -> list[dict[str, str]]:
    """The only real Ukrainian-language posts of the data: IRA tweets (``ira_dev``, 2014-2017)
    whose letters are Ukrainian (:func:`guess_language`), not retweets, >= 8 words once
    cleaned, one per distinct opening (12; most labelled "Ukrainian" upstream, several mix in
    Russian). Too few for a figure of their own; a check that real Ukrainian text behaves as
    our translations do."""
    out: list[dict[str, str]] = []
    seen: set[str] = set()
    ira = shared / "data/influence/ira_dev/posts.csv.gz"
    with gzip.open(ira, "rt", encoding="utf-8", newline="") as fh:
        for r in csv.DictReader(fh):
            if r["text"].startswith("RT "):
                continue
            text = nar.claim_text(r["text"])
            if len(text.split()) < 8 or guess_language(text) != "uk":
                continue
            key = text.casefold()[:80]
            if key not in seen:
                seen.add(key)
                out.append({"post_id": r["post_id"], "date": r["created_at"][:10], "text": text})
    return out


def case_index(shared: Path, model: embed.Embedder) -> nar.CaseIndex:
    known = nar.load_cases(shared / "data/influence/euvsdisinfo/cases.csv")
    return nar.CaseIndex.build(known, model, cache_dir=HERE / ".cache")


def ranked(
    model: embed.Embedder, index: nar.CaseIndex, texts: list[str], ranking: str
) -> np.ndarray:
    """Similarity of each text to every case, as ``ranking`` scores it: "post" -- the whole
    post as the monitor embedded it before this bench (links and mentions dropped);
    "clean" -- the whole post cleaned by today's
    :func:`viche.monitor.narratives.claim_text` (Telegram markup, pictographs and
    "subscribe" links dropped too); "claim" -- the best of "clean" and each of the post's
    sentences (:func:`viche.monitor.narratives.claim_sentences`); "hybrid" -- "clean" plus
    the lexical bridge, as :meth:`viche.monitor.narratives.CaseIndex.scores` ranks."""
    if ranking == "post":
        return cached_encode(model, texts) @ index.vectors.T
    whole = cached_encode(model, [nar.claim_text(t) for t in texts]) @ index.vectors.T
    if ranking == "clean":
        return whole
    if ranking == "hybrid":  # the monitor's ranking: cosine + the lexical bridge (claim_set.py)
        cleaned = [nar.claim_text(t) for t in texts]
        return index.scores(cached_encode(model, cleaned), cleaned, cross_weight=0.0)
    out = whole.copy()
    parts = [(i, s) for i, t in enumerate(texts) for s in nar.claim_sentences(t)]
    if parts:
        sims = cached_encode(model, [s for _, s in parts]) @ index.vectors.T
        for row, (i, _) in enumerate(parts):
            np.maximum(out[i], sims[row], out=out[i])
    return out


FRESH = 10


def fresh_queries(
    shared: Path, model: embed.Embedder, index: nar.CaseIndex, queries: dict[str, Any]
) -> dict[str, list[dict[str, str]]]:
    """:data:`FRESH` more queries per language (ru, en), drawn by the same rule as the first
    20 (pool posts whose best case reaches the language's threshold in ``queries``), among
    those not drawn yet, seed ``SEED + 1``. Drawn after the scoring rule was chosen on the
    dev half (``rules.py``): a test set no choice has seen. Kept in
    ``analyst_fresh_queries.json`` (no Ukrainian translations were written for them)."""
    path = HERE / "analyst_fresh_queries.json"
    if path.is_file():
        fresh: dict[str, list[dict[str, str]]] = json.loads(path.read_text())
        return fresh
    rng = random.Random(SEED + 1)
    fresh = {}
    for lang, items in (("ru", ru_pool(shared)), ("en", en_pool(shared))):
        best = (cached_encode(model, [p["text"] for p in items]) @ index.vectors.T).max(axis=1)
        taken = {p["post_id"] for p in queries[lang]}
        eligible = [
            i
            for i in range(len(items))
            if best[i] >= queries["thresholds"][lang] and items[i]["post_id"] not in taken
        ]
        fresh[lang] = [items[i] for i in rng.sample(eligible, min(FRESH, len(eligible)))]
    path.write_text(json.dumps(fresh, indent=1, ensure_ascii=False))
    return fresh


def retrieve(args: argparse.Namespace) -> None:
    model = embed.load_embedder()
    index = case_index(args.shared, model)
    print(f"{len(index.cases)} cases embedded", flush=True)
    negatives = unrelated(args.shared)
    qpath = HERE / "analyst_queries.json"
    if qpath.is_file():
        queries = json.loads(qpath.read_text())
    else:
        best_null = {
            lang: (cached_encode(model, texts) @ index.vectors.T).max(axis=1)
            for lang, texts in negatives.items()
        }
        limit = thresholds(best_null)
        pools = {"ru": ru_pool(args.shared), "en": en_pool(args.shared)}
        rng = random.Random(SEED)
        queries = {"thresholds": limit, "coverage": {}}
        for lang, items in pools.items():
            vectors = cached_encode(model, [p["text"] for p in items])
            best = (vectors @ index.vectors.T).max(axis=1)
            eligible = [i for i in range(len(items)) if best[i] >= limit[lang]]
            queries["coverage"][lang] = [len(eligible), len(items)]
            queries[lang] = [items[i] for i in rng.sample(eligible, min(QUERIES, len(eligible)))]
        qpath.write_text(json.dumps(queries, indent=1, ensure_ascii=False))
    print(json.dumps({k: queries[k] for k in ("coverage", "thresholds")}), flush=True)
    from uk_analyst import UK_OF_RU

    queries["uk"] = [
        {**p, "post_id": f"uk:{p['post_id']}", "text": UK_OF_RU[p["post_id"]]}
        for p in queries["ru"]
        if p["post_id"] in UK_OF_RU
    ]
    out = HERE / "analyst_retrieved.csv"
    rows = []
    if out.is_file():  # keep the other rankings' rows
        with out.open(encoding="utf-8", newline="") as fh:
            rows = [r for r in csv.DictReader(fh) if r["ranking"] not in args.rankings]
    for ranking in args.rankings:
        # a ranking's own thresholds: the same null texts scored the same way
        limit = thresholds(
            {
                lang: ranked(model, index, texts, ranking).max(axis=1)
                for lang, texts in negatives.items()
            }
        )
        for lang in ("ru", "uk", "en"):
            items = queries[lang]
            if not items:
                continue
            sims = ranked(model, index, [p["text"] for p in items], ranking)
            for p, row in zip(items, sims, strict=True):
                for rank, j in enumerate(np.argsort(-row)[:K], start=1):
                    c = index.cases[int(j)]
                    rows.append(
                        {
                            "ranking": ranking,
                            "lang": lang,
                            "post_id": p["post_id"],
                            "rank": rank,
                            "score": round(float(row[j]), 4),
                            "shown": int(row[j] >= limit[lang]),
                            "case_date": c.date[:10],
                            "case_url": c.url,
                            "case_title": c.title,
                            "text": p["text"][:700],
                        }
                    )
        print(ranking, "thresholds", limit, flush=True)
    with out.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(f"{len(rows)} retrieved pairs -> analyst_retrieved.csv")


def split_of(queries: dict[str, list[dict[str, str]]]) -> dict[str, str]:
    """The half ("dev" or "test") of each query id: per language, the ids sorted, shuffled with
    :data:`SPLIT_SEED`, the first half dev. A Ukrainian translation (``uk:<id>``) goes with
    its Russian original (the same claim must not be in both halves)."""
    out: dict[str, str] = {}
    for lang in ("ru", "en"):
        order = sorted(p["post_id"] for p in queries[lang])
        random.Random(SPLIT_SEED).shuffle(order)
        for i, pid in enumerate(order):
            out[pid] = out[f"uk:{pid}"] = "dev" if i < len(order) // 2 else "test"
    return out


def judgments() -> dict[tuple[str, str], int]:
    with (HERE / "analyst_judgments.csv").open(encoding="utf-8", newline="") as fh:
        return {(r["post_id"], r["case_url"]): int(r["relevant"]) for r in csv.DictReader(fh)}


def judged_key(r: dict[str, str]) -> tuple[str, str]:
    """A translation is judged as its original (the same claim)."""
    return r["post_id"].removeprefix("uk:"), r["case_url"]


def precision_table(rows: list[dict[str, str]]) -> dict[str, str | float]:
    """P@K of retrieved rows (top K per query, judged), over all queries and over the
    queries each show rule shows (columns ``shown_top1`` / ``shown_margin``, when present):
    "shown" as "n/N" queries and the P@K over them ("-" when none is shown)."""
    judged = judgments()
    missing = [r for r in rows if judged_key(r) not in judged]
    if missing:
        sys.exit(f"{len(missing)} retrieved pairs are not judged, e.g. {judged_key(missing[0])}")
    by_post: dict[str, list[dict[str, str]]] = {}
    for r in rows:
        by_post.setdefault(r["post_id"], []).append(r)

    def p_at_k(v: list[dict[str, str]]) -> float:
        return float(np.mean([judged[judged_key(r)] for r in v[:K]]))

    out: dict[str, str | float] = {
        "p_at_k": float(np.mean([p_at_k(v) for v in by_post.values()])) if by_post else 0.0
    }
    for rule in ("shown_top1", "shown_margin"):
        shown = [v for v in by_post.values() if rule in v[0] and v[0][rule] == "1"]
        out[rule] = f"{len(shown)}/{len(by_post)}"
        out[f"p_{rule}"] = f"{np.mean([p_at_k(v) for v in shown]):.3f}" if shown else "-"
    return out


def score(args: argparse.Namespace) -> None:
    with (HERE / "analyst_retrieved.csv").open(encoding="utf-8", newline="") as fh:
        retrieved = [r for r in csv.DictReader(fh) if r["ranking"] == args.ranking]
    judged = judgments()
    key = judged_key
    half = split_of(json.loads((HERE / "analyst_queries.json").read_text()))
    missing = [r for r in retrieved if key(r) not in judged]
    if missing:
        sys.exit(f"{len(missing)} retrieved pairs are not judged, e.g. {key(missing[0])}")
    print(f"ranking {args.ranking!r}, direction post -> all {'cases'}")
    for lang in ("ru", "uk", "en"):
        by_post: dict[str, list[tuple[int, int]]] = {}
        for r in retrieved:
            if r["lang"] == lang:
                by_post.setdefault(r["post_id"], []).append((judged[key(r)], int(r["shown"])))
        if not by_post:
            continue
        p1 = np.mean([v[0][0] for v in by_post.values()])
        pk = np.mean([np.mean([x for x, _ in v[:K]]) for v in by_post.values()])
        shown = [x for v in by_post.values() for x, s in v[:K] if s]
        hit = np.mean([max(x for x, _ in v[:K]) for v in by_post.values()])
        at = [
            judged[key(r)]
            for r in retrieved
            if r["lang"] == lang and float(r["score"]) >= nar.MATCH_THRESHOLD
        ]
        print(
            f"{lang}: {len(by_post)} queries; P@1 {p1:.3f}, P@{K} {pk:.3f};"
            f" shown (top {K} at threshold) {len(shown)} cases, precision"
            f" {np.mean(shown) if shown else float('nan'):.3f};"
            f" queries with a relevant case in the top {K}: {hit:.3f};"
            f" at the monitor's MATCH_THRESHOLD {nar.MATCH_THRESHOLD}: {len(at)} cases,"
            f" precision {np.mean(at) if at else float('nan'):.3f}"
        )
        mine = [r for r in retrieved if r["lang"] == lang]
        dev = precision_table([r for r in mine if half[r["post_id"]] == "dev"])["p_at_k"]
        test = precision_table([r for r in mine if half[r["post_id"]] == "test"])["p_at_k"]
        print(f"    P@{K} dev {dev:.3f}, test {test:.3f} (halves: {SPLIT_SEED=}, see split_of)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", type=Path, default=Path("../shared"))
    ap.add_argument("--score", action="store_true")
    ap.add_argument("--ranking", choices=RANKINGS, default="clean", help="the one --score scores")
    ap.add_argument(
        "--rankings", nargs="+", choices=RANKINGS, default=list(RANKINGS), help="to retrieve"
    )
    args = ap.parse_args()
    if args.score:
        score(args)
    else:
        retrieve(args)


if __name__ == "__main__":
    main()
