"""Cross-language matching of real posts to known cases (EUvsDisinfo), judged by hand.

    python bench/narrative_eval/retrieve.py            # embed, calibrate, retrieve.csv
    python bench/narrative_eval/retrieve.py --score    # precision per language (judgments.csv)

What the monitor does with a post (or a narrative's centroid): it compares it with the known
cases (English one-line claims, embedded as ``title. keywords`` by
:class:`viche.monitor.narratives.CaseIndex`) and shows the best ones whose similarity reaches
the threshold of the post's language. This bench measures exactly that, on real texts:

* **Known cases**: the EUvsDisinfo cases dated :data:`CASES_FROM` .. :data:`CASES_TO` (the
  database starts in earnest in Nov 2015: 2015-01..10 hold 15 cases in all; the earlier
  version of this bench drew posts from all of 2015 and most had 0-4 cases in their window,
  which is why its precision@5 was ~0.02). Each post is compared with the cases within
  :data:`DAYS` days of it (the same weeks; ~170 cases).
* **Posts**: IRA tweets (``ira_dev``) of :data:`POSTS_FROM` .. :data:`POSTS_TO` in Russian and
  in English (the letters must agree with the language field: the set's "Ukrainian" tweets are
  Russian text, so there is no real Ukrainian post here), not retweets, >= 8 words once links
  and mentions are dropped, on public affairs (:data:`TOPIC`), one per distinct opening, and a
  fixed random sample of :data:`POOL` per language. **Ukrainian**: our own translations of the
  Russian queries (``uk_parallel.py``): the same claims, so a judgment of a (Russian post, case)
  pair holds for its translation too.
* **Thresholds** from unrelated texts, per language (:func:`thresholds`): the 99th percentile
  of the best case score of apolitical posts -- Russian Telegram posts of ``tg_ru_news_2024``
  (topics science, IT, weather, games, personal, Moscow), English posts of ``organic_dev``,
  and 40 everyday Ukrainian sentences written for this bench (``uk_everyday.py``; with so few,
  the maximum). Cross-language scores run lower than English-to-English ones, so one threshold
  for all languages either floods English or silences Russian and Ukrainian.
* **Queries**: per language, :data:`QUERIES` posts drawn at random (fixed seed) among those
  the monitor would report, i.e. whose best case reaches the threshold; Ukrainian: the
  translations of the Russian queries. The top :data:`K` cases of each are written to
  ``retrieved.csv`` (with the score and whether it reaches the threshold).

``judgments.csv``: one row per (post, case) pair, ``relevant`` = 1 when the post states, implies
or argues the claim of the case (the same claim in any words or language), 0 when it only shares
a topic, an actor or an event; ``reason`` says why in a few words. Judged by reading both (an
LLM, Claude, reading the Russian/English post and the case title; each reason written down).
Alternatives tried on the same ru/en queries (their top case judged too, ``judgments.csv``
rows marked "alternative ranking"; top-1 precision ru / en): the monitor's ``title. keywords``
with ``query:`` 3/15, 1/15; title only 2/15, 1/15; title only with ``passage:`` 1/15, 0/15;
hub-corrected scores (CSLS: 2 cos - mean of the post's 10 best - mean of the case's 10
nearest cases; it halves how often the five most frequent cases come first) 2/15 and 0/15
with ``title. keywords``, 1/15 and 0/15 with titles (either prefix). None is better than what
the monitor does.

``--score`` prints per language: precision@1 and @K of the ranking, the precision of what the
monitor shows (the top K cases that reach the threshold), and how many posts of the pool get
any case at all.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import json
import random
import re
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from uk_everyday import EVERYDAY_UK
from uk_parallel import UK_OF_RU

from viche.monitor import embed
from viche.monitor import narratives as nar
from viche.monitor.text import guess_language

HERE = Path(__file__).parent
CASES_FROM, CASES_TO = "2015-10-15", "2016-02-15"
POSTS_FROM, POSTS_TO = "2015-11-01", "2016-01-31"
DAYS = 14
POOL = {"ru": 1800, "en": 1200}
QUERIES = 15
K = 5
SEED = 2026
TOPIC = re.compile(
    r"украин|крым|донбас|донецк|луганс|росси|нато|сша|америк|евросоюз|европ|майдан|порошенк|"
    r"путин|обам|санкци|войн|сири|хунт|киев|запад|турц|игил|беженц|терро|ukrain|russia|putin|"
    r"syria|turkey|isis|nato|crimea|obama|refugee|\beu\b|europe|sanction|kiev|kyiv|terror",
    re.IGNORECASE,
)
APOLITICAL = {"science", "it", "weather", "gaming", "stuff", "personal", "moscow"}


def pool(shared: Path) -> dict[str, list[dict[str, str]]]:
    """Public-affairs IRA posts in Russian and English, a fixed sample per language."""
    found: dict[str, list[dict[str, str]]] = {"ru": [], "en": []}
    seen: set[str] = set()
    ira = shared / "data/influence/ira_dev/posts.csv.gz"
    with gzip.open(ira, "rt", encoding="utf-8", newline="") as fh:
        for r in csv.DictReader(fh):
            day = r["created_at"][:10]
            if not (POSTS_FROM <= day <= POSTS_TO) or r["text"].startswith("RT "):
                continue
            text = nar.claim_text(r["text"])
            if len(text.split()) < 8 or not TOPIC.search(text):
                continue
            lang = {"English": "en", "Russian": "ru", "Ukrainian": "ru"}.get(r["lang"])
            if lang is None or guess_language(text) != lang:
                continue
            key = text.casefold()[:80]
            if key in seen:
                continue
            seen.add(key)
            found[lang].append({"post_id": r["post_id"], "date": day, "text": text})
    rng = random.Random(7)
    for items in found.values():
        rng.shuffle(items)
    return {lang: found[lang][: POOL[lang]] for lang in found}


def unrelated(shared: Path) -> dict[str, list[str]]:
    """Apolitical texts per language: the negatives the thresholds are read from."""
    rng = random.Random(5)
    ru: list[str] = []
    tg = shared / "data/influence/tg_ru_news_2024/posts.csv.gz"
    with gzip.open(tg, "rt", encoding="utf-8", newline="") as fh:
        for r in csv.DictReader(fh):
            t = nar.claim_text(r["text"])
            apolitical = r["topic_category"] in APOLITICAL and len(t.split()) >= 8
            if apolitical and guess_language(t) == "ru":
                ru.append(t[:300])
    en: list[str] = []
    org = shared / "data/influence/organic_dev/posts.csv.gz"
    with gzip.open(org, "rt", encoding="utf-8", newline="") as fh:
        for i, r in enumerate(csv.DictReader(fh)):
            if i % 13 or r["text"].startswith("RT "):
                continue
            t = nar.claim_text(r["text"])
            if len(t.split()) >= 8 and guess_language(t) == "en":
                en.append(t)
    ru, en = sorted(set(ru)), sorted(set(en))
    rng.shuffle(ru)
    rng.shuffle(en)
    return {"ru": ru[:300], "en": en[:300], "uk": list(EVERYDAY_UK)}


def cached_encode(model: embed.Embedder, texts: Sequence[str]) -> np.ndarray:
    """The model's vectors, cached in .cache by the model and the texts."""
    digest = hashlib.sha256(model.name.encode())
    for t in texts:
        digest.update(b"\x00" + t.encode())
    path = HERE / ".cache" / f"texts-{digest.hexdigest()[:24]}.npy"
    if path.is_file():
        return np.load(path)
    vectors = model.encode(list(texts))
    path.parent.mkdir(exist_ok=True)
    np.save(path, vectors)
    return vectors


def cases(shared: Path) -> tuple[nar.KnownCase, ...]:
    every = nar.load_cases(shared / "data/influence/euvsdisinfo/cases.csv", since=CASES_FROM)
    return tuple(c for c in every if c.date[:10] <= CASES_TO)


def thresholds(best: dict[str, np.ndarray]) -> dict[str, float]:
    """Per language: the 99th percentile of unrelated texts' best case score (the maximum
    when there are fewer than 100 of them)."""
    return {
        lang: round(float(np.quantile(b, 0.99) if len(b) >= 100 else b.max()), 4)
        for lang, b in best.items()
    }


def retrieve(args: argparse.Namespace) -> None:
    model = embed.load_embedder()
    known = cases(args.shared)
    index = nar.CaseIndex.build(known, model, cache_dir=HERE / ".cache")
    day = np.array([date.fromisoformat(c.date[:10]).toordinal() for c in known])
    negatives = unrelated(args.shared)
    best_unrelated = {
        lang: (cached_encode(model, texts) @ index.vectors.T).max(axis=1)
        for lang, texts in negatives.items()
    }
    limit = thresholds(best_unrelated)
    posts = pool(args.shared)
    rng = random.Random(SEED)
    queries: dict[str, list[tuple[dict[str, str], np.ndarray]]] = {}
    coverage: dict[str, float] = {}
    for lang, items in posts.items():
        vectors = cached_encode(model, [p["text"] for p in items])
        sims = vectors @ index.vectors.T
        when = np.array([date.fromisoformat(p["date"]).toordinal() for p in items])
        window = np.abs(when[:, None] - day[None, :]) <= DAYS
        sims = np.where(window, sims, -1.0)
        eligible = [i for i in range(len(items)) if sims[i].max() >= limit[lang]]
        coverage[lang] = len(eligible) / len(items)
        chosen = rng.sample(eligible, min(QUERIES, len(eligible)))
        queries[lang] = [(items[i], sims[i]) for i in chosen]
    # Ukrainian: the translations of the Russian queries, compared with the same cases
    uk_items = [
        {"post_id": f"uk:{p['post_id']}", "date": p["date"], "text": UK_OF_RU[p["post_id"]]}
        for p, _ in queries["ru"]
        if p["post_id"] in UK_OF_RU
    ]
    if uk_items:
        vectors = cached_encode(model, [p["text"] for p in uk_items])
        when = np.array([date.fromisoformat(p["date"]).toordinal() for p in uk_items])
        window = np.abs(when[:, None] - day[None, :]) <= DAYS
        sims = np.where(window, vectors @ index.vectors.T, -1.0)
        queries["uk"] = [(p, sims[i]) for i, p in enumerate(uk_items)]
    rows = []
    for lang, qs in queries.items():
        for post, sims in qs:
            for rank, j in enumerate(np.argsort(-sims)[: args.k], start=1):
                c = known[int(j)]
                rows.append(
                    {
                        "lang": lang,
                        "post_id": post["post_id"],
                        "date": post["date"],
                        "text": post["text"],
                        "rank": rank,
                        "score": round(float(sims[j]), 4),
                        "shown": int(sims[j] >= limit[lang]),
                        "case_date": c.date[:10],
                        "case_url": c.url,
                        "case_title": c.title,
                    }
                )
    with (HERE / "retrieved.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    summary = {
        "model": model.name,
        "cases": len(known),
        "thresholds": limit,
        "unrelated_best_score": {
            lang: {
                "n": len(b),
                "median": round(float(np.median(b)), 4),
                "p99": round(float(np.quantile(b, 0.99)), 4),
                "max": round(float(b.max()), 4),
            }
            for lang, b in best_unrelated.items()
        },
        "pool": {lang: len(v) for lang, v in posts.items()},
        "posts_with_a_case_at_threshold": {k: round(v, 3) for k, v in coverage.items()},
        "queries": {lang: len(v) for lang, v in queries.items()},
    }
    (HERE / "retrieval.json").write_text(json.dumps(summary, indent=1, ensure_ascii=False))
    print(json.dumps(summary, indent=1, ensure_ascii=False))
    print(f"{len(rows)} retrieved pairs -> {HERE / 'retrieved.csv'}")


def score(args: argparse.Namespace) -> None:
    with (HERE / "retrieved.csv").open(encoding="utf-8", newline="") as fh:
        retrieved = list(csv.DictReader(fh))
    with (HERE / "judgments.csv").open(encoding="utf-8", newline="") as fh:
        judged = {(r["post_id"], r["case_url"]): r for r in csv.DictReader(fh)}

    def relevant(r: dict[str, str]) -> int:
        # a translation is judged as its original (the same claim)
        key = (r["post_id"].removeprefix("uk:"), r["case_url"])
        return int(judged[key]["relevant"])

    missing = [
        r for r in retrieved if (r["post_id"].removeprefix("uk:"), r["case_url"]) not in judged
    ]
    if missing:
        sys.exit(f"{len(missing)} retrieved pairs are not judged, e.g. {missing[0]['post_id']}")
    for lang in ("ru", "uk", "en"):
        mine = [r for r in retrieved if r["lang"] == lang]
        by_post: dict[str, list[tuple[int, int]]] = {}
        for r in mine:
            by_post.setdefault(r["post_id"], []).append((relevant(r), int(r["shown"])))
        if not by_post:
            continue
        p1 = np.mean([v[0][0] for v in by_post.values()])
        pk = np.mean([np.mean([x for x, _ in v[: args.k]]) for v in by_post.values()])
        shown = [x for v in by_post.values() for x, s in v[: args.k] if s]
        per_post = [
            np.mean([x for x, s in v[: args.k] if s])
            for v in by_post.values()
            if any(s for _, s in v[: args.k])
        ]
        hit = np.mean([max(x for x, _ in v) for v in by_post.values()])
        print(
            f"{lang}: {len(by_post)} posts; P@1 {p1:.3f}, P@{args.k} {pk:.3f} (ranking);"
            f" shown (top {args.k} at threshold): {len(shown)} cases,"
            f" precision {np.mean(shown):.3f}"
            f" (mean over the {len(per_post)} posts shown any: {np.mean(per_post):.3f}); posts"
            f" with a relevant case in the top {args.k}: {hit:.3f}"
        )
    # the same claim in Russian and in Ukrainian: do the two find the same cases?
    top: dict[tuple[str, str], list[str]] = {}
    for r in retrieved:
        top.setdefault((r["lang"], r["post_id"].removeprefix("uk:")), []).append(r["case_url"])
    pairs = [(v, top[("uk", pid)]) for (lang, pid), v in top.items() if lang == "ru"]
    pairs = [(a, b) for a, b in pairs if b]
    if pairs:
        same1 = np.mean([a[0] == b[0] for a, b in pairs])
        overlap = np.mean([len(set(a[: args.k]) & set(b[: args.k])) / args.k for a, b in pairs])
        print(
            f"ru vs its uk translation ({len(pairs)} posts): same top case {same1:.3f},"
            f" top-{args.k} overlap {overlap:.3f}"
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", type=Path, default=Path("../shared"))
    ap.add_argument("--k", type=int, default=K)
    ap.add_argument("--score", action="store_true")
    args = ap.parse_args()
    (score if args.score else retrieve)(args)


if __name__ == "__main__":
    main()
