"""Cross-language matching to known cases: Russian and Ukrainian posts against EUvsDisinfo.

    python bench/narrative_eval/retrieve.py [--shared ../shared] [--per-lang 20] [--k 5]
    python bench/narrative_eval/retrieve.py --score        # precision@k from judgments.csv

Queries: real posts of the IRA sample (``ira_dev``) in Russian and in Ukrainian (language
from the letters, :func:`viche.monitor.text.guess_language`), 2015-01-22..2016-01-10 (the
cases of 2015-01..2016-01 are embedded, see ``calibrate.eval_cases``), not retweets, at
least 10 words, on public affairs (a fixed list of word stems: Ukraine, Crimea, Donbas,
Russia, NATO, USA, EU, Maidan, Poroshenko, Putin, Obama, sanctions, war, Syria...), drawn
at random with a fixed seed. Candidates: the EUvsDisinfo cases dated within
``--days`` (21) days of the post (the same weeks). Each post is embedded as the monitor
embeds a narrative (:func:`viche.monitor.narratives.claim_text`) and the cases as the
monitor's case index does (``title. keywords``); the top ``k`` cases by cosine similarity
are written to ``retrieved.csv``.

``judgments.csv`` holds one row per retrieved (post, case) pair, judged by reading both:
``relevant`` = 1 when the post states, implies or argues the claim of the case (the same
claim, in any words or language), 0 when it only shares a topic, an actor or a country; the
``reason`` column says why in a few words. ``--score`` reports precision@1, @3 and @k per
language (and refuses to score while a retrieved pair is unjudged).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import random
import re
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from calibrate import CASES_FROM, CASES_TO, eval_cases

from viche.monitor import embed
from viche.monitor import narratives as nar
from viche.monitor.text import guess_language

HERE = Path(__file__).parent
DAYS = 21
#: queries fall where their +-DAYS window lies inside the embedded cases (eval_cases)
FIRST = (date.fromisoformat(CASES_FROM) + timedelta(days=DAYS)).isoformat()
LAST = (date.fromisoformat(CASES_TO) - timedelta(days=DAYS)).isoformat()
TOPIC = re.compile(
    r"украин|україн|крым|крим|донбас|донецк|донецьк|луганс|росси|росі|нато|сша|америк|"
    r"евросоюз|євросоюз|европ|європ|майдан|порошенк|путин|путін|обам|санкци|санкці|"
    r"войн|війн|сири|хунт|киев|київ|запад|захід|выбор|вибор|беженц|біженц",
    re.IGNORECASE,
)


def queries(shared: Path, per_lang: int, seed: int) -> list[dict[str, str]]:
    pool: dict[str, list[dict[str, str]]] = {"ru": [], "uk": []}
    seen: set[str] = set()
    with gzip.open(shared / "data/influence/ira_dev/posts.csv.gz", "rt", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            if r["text"].startswith("RT ") or not (FIRST <= r["created_at"][:10] <= LAST):
                continue
            text = nar.claim_text(r["text"])
            lang = guess_language(text)
            if lang not in pool or len(text.split()) < 10 or not TOPIC.search(text):
                continue
            key = text.casefold()[:80]
            if key in seen:
                continue
            seen.add(key)
            pool[lang].append(
                {"post_id": r["post_id"], "date": r["created_at"][:10], "lang": lang, "text": text}
            )
    rng = random.Random(seed)
    out: list[dict[str, str]] = []
    for lang in ("ru", "uk"):
        rng.shuffle(pool[lang])
        out.extend(pool[lang][:per_lang])
    return out


def retrieve(args: argparse.Namespace) -> None:
    model = embed.load_embedder()
    cases = eval_cases(args.shared)
    index = nar.CaseIndex.build(cases, model, cache_dir=HERE / ".cache")
    dates = np.array([date.fromisoformat(c.date[:10]).toordinal() if c.date else 0 for c in cases])
    qs = queries(args.shared, args.per_lang, args.seed)
    vectors = model.encode([q["text"] for q in qs])
    rows = []
    for q, v in zip(qs, vectors, strict=True):
        day = datetime.fromisoformat(q["date"]).date().toordinal()
        near = np.flatnonzero(np.abs(dates - day) <= args.days)
        sims = index.vectors[near] @ v
        for rank, j in enumerate(np.argsort(-sims)[: args.k], start=1):
            c = cases[int(near[j])]
            rows.append(
                {
                    **q,
                    "rank": rank,
                    "score": round(float(sims[j]), 4),
                    "case_date": c.date,
                    "case_url": c.url,
                    "case_title": c.title,
                    "candidates": len(near),
                }
            )
    with (HERE / "retrieved.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(f"{len(qs)} queries, {len(rows)} retrieved pairs -> {HERE / 'retrieved.csv'}")


def score(args: argparse.Namespace) -> None:
    with (HERE / "retrieved.csv").open(encoding="utf-8", newline="") as fh:
        retrieved = list(csv.DictReader(fh))
    with (HERE / "judgments.csv").open(encoding="utf-8", newline="") as fh:
        judged = {(r["post_id"], r["case_url"]): r for r in csv.DictReader(fh)}
    missing = [r for r in retrieved if (r["post_id"], r["case_url"]) not in judged]
    if missing:
        sys.exit(f"{len(missing)} retrieved pairs are not judged, e.g. {missing[0]['post_id']}")
    by_lang: dict[str, dict[str, list[int]]] = {}
    for r in retrieved:
        rel = int(judged[(r["post_id"], r["case_url"])]["relevant"])
        by_lang.setdefault(r["lang"], {}).setdefault(r["post_id"], []).append(rel)
    threshold = nar.MATCH_THRESHOLD
    for lang, posts in sorted(by_lang.items()):
        line = [f"{lang}: {len(posts)} posts"]
        for k in (1, 3, args.k):
            p = np.mean([np.mean(v[:k]) for v in posts.values()])
            line.append(f"P@{k} {p:.3f}")
        hit = np.mean([max(v) for v in posts.values()])
        line.append(f"posts with a relevant case in the top {args.k}: {hit:.3f}")
        print(", ".join(line))
    # the monitor reports a match only above MATCH_THRESHOLD: precision of those
    above = [
        int(judged[(r["post_id"], r["case_url"])]["relevant"])
        for r in retrieved
        if r["rank"] == "1" and float(r["score"]) >= threshold
    ]
    n_above = len(above)
    share = f"{np.mean(above):.3f}" if above else "n/a"
    print(f"top-1 matches at or above MATCH_THRESHOLD {threshold}: {n_above}, precision {share}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", type=Path, default=Path("../shared"))
    ap.add_argument("--per-lang", type=int, default=12)
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--days", type=int, default=DAYS)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--score", action="store_true")
    args = ap.parse_args()
    (score if args.score else retrieve)(args)


if __name__ == "__main__":
    main()
