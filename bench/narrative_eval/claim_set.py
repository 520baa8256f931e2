"""The claim set: real posts that carry a claim of the case list, for P@5 of matching itself.

    python bench/narrative_eval/claim_set.py --candidates   # the candidates, in drawing order
    python bench/narrative_eval/claim_set.py                # rankings -> claim_retrieved.csv
    python bench/narrative_eval/claim_set.py --score        # P@5 per ranking, language, half

Why a second set. The random-query set of ``analyst.py`` (kept as it is) draws posts at random
among those the model links to a case; most of them (2024 news headlines) state no claim of the
2015-2021 case list, so its P@5 is bounded by the data (ceiling ru 0.14 / 0.02), not by the
matcher. IR evaluations average P@k over the queries that HAVE relevant documents (TREC); this
set does the same, with a selection rule written down before any ranking was looked at:

1. **Pools** (real texts only): ru -- ``tg_ru_news_2024`` (all 24 channels, any topic label)
   and the Russian IRA tweets of ``ira_dev``; en -- the English IRA tweets of ``ira_dev``;
   uk -- the IRA tweets in Ukrainian letters (:func:`analyst.uk_real_pool`'s rule). Not
   retweets; cleaned by :func:`viche.monitor.narratives.claim_text`; >= 8 words; the
   language the letters say; one post per distinct opening (80 characters).
2. **Topic rule**: the cleaned text matches :data:`TOPICS` of its language: the topics the case
   list is about (NATO, biolabs, Nazis, Zelensky, sanctions, Crimea, Donbas, elections, MH17,
   Skripal, coronavirus, Maidan/coup, junta, Russophobia, genocide, chemical weapons,
   Navalny, Soros, colour revolutions, Bandera), in stems per language.
3. **Order**: the matching posts of each pool shuffled with :data:`SEED`; ru takes its
   candidates alternately from Telegram and from the IRA tweets (the two sources of Russian
   text), so neither fills the set.
4. **Judged in that order, before any ranking** (``claim_candidates.csv``, appended, one row per
   candidate read, with the reason): a candidate is a query when the post states, implies or
   argues a claim that some case title states, the case found by a keyword search of the
   titles (:func:`title_search`, never the model); a post that only reports an event or
   states no claim of the list is not (reason given). The first :data:`QUERIES` accepted per
   language are the queries (all the accepted real Ukrainian ones: there are few).
5. **Ukrainian**: the real Ukrainian queries (``lang`` = ``uk``) and, labelled ``uk_tr``, our
   translations of the Russian queries (``uk_claims.py``): a translation inherits the
   judgments of its original and goes to the same half.
6. **Halves**: per language, the ids sorted and shuffled with :data:`SPLIT_SEED`, first half
   dev (choose a ranker), second half test (confirm it). Done per batch of :data:`BATCH`
   queries in acceptance order, so that a batch added later (xenc11: queries 17-32 per
   language) is split by the same rule among itself and the first batch keeps its halves.

Relevance (the judging rules of ``analyst.py``'s docstring, unchanged; judgments appended to
``analyst_judgments.csv``, old rows never change). Pool per query: the union of the top 5 of
the rankings of :data:`RANKINGS` (P@5 reads no further) plus up to :data:`POOL_PER_SEARCH`
cases of the query's title search (:data:`SEARCHES`, :func:`keyword_pool`: those not judged
yet, the first by the monitor's ranking). Pooling bias: a relevant case that no ranking puts
in a top 5 and that the keyword pool left out is unjudged, so the ceiling printed by
``--score`` (every judged relevant case ranked first) is a lower bound; P@5 itself is exact
for the rankings pooled. A ranking added later needs its own top 5 judged: ``--score``
counts the unjudged pairs and scores only the queries whose top 5 is fully judged
("(judged / all)" beside each figure). The top 10 of every ranking is kept in
``claim_retrieved.csv`` for a deeper pool.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import random
import re
import sys
from collections.abc import Iterable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from viche.monitor import narratives as nar
from viche.monitor.text import guess_language

HERE = Path(__file__).parent
SEED = 1111
SPLIT_SEED = 11
QUERIES = 32
BATCH = 16
K = 5

TOPICS = {
    "en": re.compile(
        r"\bnato\b|biolab|bio-lab|biological (?:lab|weapon)|bioweapon|\bnazi|neo-?nazi|fascis|"
        r"zelensk|sanction|crimea|donbas|donetsk|luhansk|lugansk|election|mh-?17|skripal|"
        r"novichok|coronavirus|covid|maidan|\bcoup\b|junta|russophob|genocide|"
        r"chemical (?:weapon|attack)|white helmets|navalny|soros|colou?r revolution|bandera",
        re.IGNORECASE,
    ),
    "ru": re.compile(
        r"\bнато\b|натовск|биолаб|биологическ|нацис|неонацис|фашис|зеленск|санкци|крым|"
        r"донбас|донецк|луганс|\bднр\b|\bлнр\b|выбор|mh-?17|мн-?17|боинг|скрипал|новичок|"
        r"коронавирус|covid|ковид|майдан|переворот|хунт|русофоб|геноцид|химическ\w* (?:оруж|атак)|"
        r"белые каски|навальн|сорос|цветн\w* революц|бандер",
        re.IGNORECASE,
    ),
    "uk": re.compile(
        r"\bнато\b|натовськ|біолаб|біологічн|нацис|неонацис|фашис|зеленськ|санкці|крим|"
        r"донбас|донецьк|луганськ|\bднр\b|\bлнр\b|вибор|mh-?17|мн-?17|боїнг|скрипал|новачок|"
        r"коронавірус|covid|ковід|майдан|переворот|хунт|русофоб|геноцид|голодомор|"
        r"хімічн\w* (?:зброї|атак)|білі каски|навальн|сорос|кольоров\w* революц|бандер",
        re.IGNORECASE,
    ),
}


def _distinct(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    seen: set[str] = set()
    out = []
    for r in rows:
        key = r["text"].casefold()[:80]
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out


def _read(path: Path, source: str, lang: str, wanted: str | None) -> list[dict[str, str]]:
    out = []
    with gzip.open(path, "rt", encoding="utf-8", newline="") as fh:
        for r in csv.DictReader(fh):
            if wanted is not None and r["lang"] != wanted:
                continue
            if r["text"].startswith("RT "):
                continue
            text = nar.claim_text(r["text"])
            if len(text.split()) < 8 or guess_language(text) != lang:
                continue
            if not TOPICS[lang].search(text):
                continue
            out.append(
                {"post_id": r["post_id"], "date": r["created_at"][:10], "source": source,
                 "lang": lang, "text": text}
            )  # fmt: skip
    return _distinct(out)


def candidates(shared: Path) -> dict[str, list[dict[str, str]]]:
    """Per language, the pool posts matching the topic rule, in drawing order."""
    data = shared / "data/influence"
    tg = _read(data / "tg_ru_news_2024/posts.csv.gz", "tg_ru_news_2024", "ru", None)
    ira_ru = _read(data / "ira_dev/posts.csv.gz", "ira_dev", "ru", "Russian")
    en = _read(data / "ira_dev/posts.csv.gz", "ira_dev", "en", "English")
    uk = _read(data / "ira_dev/posts.csv.gz", "ira_dev", "uk", None)
    out = {}
    for lang, parts in (("ru", [tg, ira_ru]), ("en", [en]), ("uk", [uk])):
        shuffled = []
        for part in parts:
            mixed = list(part)
            random.Random(SEED).shuffle(mixed)
            shuffled.append(mixed)
        merged: list[dict[str, str]] = []
        for i in range(max(len(p) for p in shuffled)):
            merged.extend(p[i] for p in shuffled if i < len(p))
        out[lang] = merged
    return out


def load_cases(shared: Path) -> tuple[nar.KnownCase, ...]:
    return nar.load_cases(shared / "data/influence/euvsdisinfo/cases.csv")


def title_search(cases: tuple[nar.KnownCase, ...], *patterns: str) -> list[nar.KnownCase]:
    """The cases whose title (or keywords) matches every regular expression given."""
    res = [re.compile(p, re.IGNORECASE) for p in patterns]
    return [c for c in cases if all(r.search(c.title + " | " + " ".join(c.keywords)) for r in res)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", type=Path, default=Path("../shared"))
    ap.add_argument("--candidates", action="store_true")
    ap.add_argument("--lang", default="ru")
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--count", type=int, default=30)
    ap.add_argument("--score", action="store_true")
    ap.add_argument("--batch", type=int, help="--score: only the queries of this batch (0, 1)")
    ap.add_argument("--passage", action="store_true", help="also rank the passage: cases")
    args = ap.parse_args()
    if args.score:
        score(args.batch)
        return
    if args.candidates:
        c = candidates(args.shared)
        print({k: len(v) for k, v in c.items()})
        for i, p in enumerate(c[args.lang][args.start : args.start + args.count], args.start):
            print(f"[{i}] {p['post_id']} {p['date']} {p['text'][:400]}")
        return
    rank_all(args.shared, with_passage=args.passage)


# ---------------------------------------------------------------- queries, rankings, scores


def queries(shared: Path) -> dict[str, list[dict[str, str]]]:
    """The accepted candidates (``claim_candidates.csv``), the first :data:`QUERIES` per
    language in drawing order, and the ``uk_tr`` translations of the Russian ones."""
    from uk_claims import UK_OF_RU

    out: dict[str, list[dict[str, str]]] = {"ru": [], "uk": [], "en": []}
    with (HERE / "claim_candidates.csv").open(encoding="utf-8", newline="") as fh:
        rows = sorted(csv.DictReader(fh), key=lambda r: (r["lang"], int(r["order"])))
    texts = {lang: {p["post_id"]: p for p in v} for lang, v in candidates(shared).items()}
    for r in rows:
        if r["query"] == "1" and len(out[r["lang"]]) < QUERIES:
            out[r["lang"]].append(texts[r["lang"]][r["post_id"]])
    out["uk_tr"] = [
        {**p, "post_id": f"uk:{p['post_id']}", "lang": "uk_tr", "text": UK_OF_RU[p["post_id"]]}
        for p in out["ru"]
    ]
    return out


def split_of(qs: dict[str, list[dict[str, str]]]) -> dict[str, str]:
    """dev / test per query id (a ``uk:`` translation follows its Russian original)."""
    out: dict[str, str] = {}
    for lang in ("ru", "en", "uk"):
        ids = [p["post_id"] for p in qs[lang]]
        for start in range(0, len(ids), BATCH):  # each batch split alone (docstring, 6.)
            order = sorted(ids[start : start + BATCH])
            random.Random(SPLIT_SEED).shuffle(order)
            for i, pid in enumerate(order):
                out[pid] = out[f"uk:{pid}"] = "dev" if i < (len(order) + 1) // 2 else "test"
    return out


WEIGHTS = (0.03, 0.06, 0.12)
RANKINGS = ("raw", "head", *(f"hyb{w:g}" for w in WEIGHTS), "passage", "pas_hyb0.12")


def judged_top5(
    rows: Iterable[dict[str, str]],
    judged: dict[tuple[str, str], int],
    half: dict[str, str],
    name: str,
    lang: str,
    h: str,
) -> tuple[list[float], int]:
    """P@5 per query of ranking ``name`` in ``lang`` and half ``h``, for the queries whose
    top 5 is fully judged (an unjudged pair never counts), and how many queries it has."""
    by: dict[str, list[int]] = {}
    for r in rows:
        if r["ranking"] == name and r["lang"] == lang and half[r["post_id"]] == h:
            key = (r["post_id"].removeprefix("uk:"), r["case_url"])
            by.setdefault(r["post_id"], []).append(judged.get(key, -1))
    return [float(np.mean(v)) for v in by.values() if -1 not in v], len(by)


def unjudged(rows: Iterable[dict[str, str]], shared: Path, names: str, want: str) -> None:
    """The unjudged top-5 pairs among ``rows`` (a script's retrieved csv) of the rankings
    ``names`` (comma-separated) in the half ``want``, to judge: csv on stdout."""
    from analyst import judgments

    judged = judgments()
    half = split_of(queries(shared))
    seen: set[tuple[str, str]] = set()
    w = csv.writer(sys.stdout)
    for r in rows:
        key = (r["post_id"].removeprefix("uk:"), r["case_url"])
        wanted = r["ranking"] in names.split(",") and half[r["post_id"]] == want
        if wanted and key not in judged and key not in seen:
            seen.add(key)
            w.writerow([key[0], r["case_url"], r["case_title"], r["text"]])


def top_rows(
    scores: dict[str, np.ndarray],
    lang: str,
    items: list[dict[str, str]],
    cases: tuple[nar.KnownCase, ...],
    *,
    text_chars: int,
) -> list[dict[str, object]]:
    """Each ranking's top 10 cases for each post, as rows of a ``*_retrieved.csv`` (the
    post's text cut to ``text_chars``)."""
    rows: list[dict[str, object]] = []
    for name, sims in scores.items():
        for p, row in zip(items, sims, strict=True):
            for rank, j in enumerate(np.argsort(-row)[:10], start=1):
                c = cases[int(j)]
                rows.append(
                    {"ranking": name, "lang": lang, "post_id": p["post_id"], "rank": rank,
                     "score": round(float(row[j]), 4), "case_url": c.url,
                     "case_title": c.title, "text": p["text"][:text_chars]}
                )  # fmt: skip
    return rows


def rank_all(shared: Path, *, with_passage: bool = False) -> None:
    """Every ranking's top 10 for every query -> ``claim_retrieved.csv``; ``with_passage``
    adds the rankings over the ``passage:`` case vectors (~7 CPU-minutes once, cached)."""
    from analyst import case_index
    from retrieve import cached_encode
    from rules import passage_index

    from viche.monitor import embed

    model = embed.load_embedder()
    index = case_index(shared, model)
    passage = passage_index(shared, model) if with_passage else None
    qs = queries(shared)
    rows = []
    for lang in ("ru", "uk_tr", "uk", "en"):
        items = qs[lang]
        if not items:
            continue
        texts = [p["text"] for p in items]
        cos = cached_encode(model, texts) @ index.vectors.T
        heads = [(nar.claim_sentences(t) or [t])[0] for t in texts]
        head = cached_encode(model, heads) @ index.vectors.T
        vectors = cached_encode(model, texts)
        scores = {"raw": cos, "head": head}
        for w in WEIGHTS:  # the monitor's ranking (CaseIndex.scores) at several weights
            scores[f"hyb{w:g}"] = index.scores(vectors, texts, weight=w, cross_weight=0.0)
        if passage is not None:  # cases embedded with e5's "passage: " prefix (rules.py)
            scores["passage"] = vectors @ passage.vectors.T
            scores["pas_hyb0.12"] = passage.scores(vectors, texts, weight=0.12, cross_weight=0.0)
        rows += top_rows(scores, lang, items, index.cases, text_chars=300)
    with (HERE / "claim_retrieved.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(f"{len(rows)} rows -> claim_retrieved.csv")


def score(batch: int | None = None) -> None:
    """P@5 per ranking, language and half; refuses unjudged top-5 pairs. ``batch``: only
    the queries of that batch of :data:`BATCH` (0: the first 16 per language, 1: the next)."""
    from analyst import judgments

    judged = judgments()
    with (HERE / "claim_retrieved.csv").open(encoding="utf-8", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if int(r["rank"]) <= K]
    qs = queries(Path("../shared"))
    half = split_of(qs)
    if batch is not None:  # the other batches' queries are left out of every figure
        kept = {p["post_id"] for v in qs.values() for p in v[batch * BATCH : (batch + 1) * BATCH]}
        half = {k: (v if k in kept else "other") for k, v in half.items()}

    def key(r: dict[str, str]) -> tuple[str, str]:
        return r["post_id"].removeprefix("uk:"), r["case_url"]

    missing = {key(r) for r in rows if key(r) not in judged}
    if missing:
        print(f"{len(missing)} top-{K} pairs not judged yet")
    for name in RANKINGS:
        line = [f"{name:8}"]
        for lang in ("ru", "uk_tr", "uk", "en"):
            for h in ("dev", "test"):
                by: dict[str, list[int]] = {}
                for r in rows:
                    if r["ranking"] == name and r["lang"] == lang and half[r["post_id"]] == h:
                        by.setdefault(r["post_id"], []).append(judged.get(key(r), -1))
                vals = [np.mean(v) for v in by.values() if -1 not in v]
                line.append(
                    f"{lang}-{h} {np.mean(vals) if vals else float('nan'):.2f}"
                    f" ({len(vals)}/{queries})"
                )
        print("  ".join(line))
    # ceiling: every case judged relevant for a query (by any ranking) ranked first
    line = ["ceiling "]
    for lang in ("ru", "uk_tr", "uk", "en"):
        for h in ("dev", "test"):
            ids = [p["post_id"] for p in qs[lang] if half[p["post_id"]] == h]
            hits = [
                min(K, sum(v for (pid, _), v in judged.items() if pid == i.removeprefix("uk:"))) / K
                for i in ids
            ]
            line.append(f"{lang}-{h} {np.mean(hits) if hits else float('nan'):.2f}")
    print("  ".join(line))


if __name__ == "__main__":
    main()


#: the title search each query was accepted by (``claim_candidates.csv``), for the pool
SEARCHES: dict[str, tuple[str, ...]] = {
    "zubovnik:3406": ("shell", "civilian|resident|Donetsk|Donbas"),
    "RomanAgafonovv:1374": ("Crimea", "always|Russian|return|annex|referendum|legal"),
    "tg:-1001166834860:128765": ("Armenia", "US|colou?r|revolution|election|control"),
    "RogovValeron:335": ("US|America|Washington", "Donbas|Ukrain", "war|conflict|escalat"),
    "tg:-1001117628569:59136": ("civilian|resident|people", "Donbas|Donetsk|Ukrainian army"),
    "KolyaBurkov:108": ("sanction", "groundless|pretext|absurd|invent|illegal|without"),
    "zubovnik:399": ("(no|not)", "Russian (troops|soldiers|army|military)"),
    "VaganovaSlava:182": (
        "MH-?17",
        "Ukrain|Kyiv|Kiev|Dutch|Netherlands|JIT",
        "secret|hid|truth|bias",
    ),
    "tg:-1001166834860:129214": ("corona|covid", "laborator|biolab|bioweapon|biological weapon"),
    "zubovnik:2001": ("shell", "civilian|resident|Donetsk|Donbas|Luhansk|LNR"),
    "tg:-1001166834860:128825": ("land|soil|resources", "sell|sale|foreign|plunder"),
    "tg:-1001166834860:128228": ("NATO", "war|fight|proxy", "Russia", "Ukrain"),
    "TarasVavilov:0": ("sanction", "Europe|EU", "hurt|harm|damag|suffer|loss|more than|cost"),
    "RogovValeron:257": ("Ukrain", "election", "fraud|rigged|falsif|not free|unfair|violat"),
    "Rima_korotkova:303": ("NATO", "threat|pretext|myth|invent", "Russia"),
    "zubovnik:2006": ("Ukrain", "Donbas|Donetsk", "offensive|attack|shell|artillery"),
    "BelozerovNikit:22": ("Donbas|Donbass", "occup"),
    "zubovnik:3357": ("Holodomor|famine", "genocide"),
    "evannghartr:1124": ("Soros", "puppet|agent|operative|control|tool|servant"),
    "interFischer:2086": ("Soros", "destroy|ruin"),
    "interFischer:1737": ("Soros|NGO", "migra|refugee"),
    "hyddrox:12151": (
        "meddl|interfer|hack",
        "hysteria|absurd|groundless|no proof|no evidence|myth|hoax",
    ),
    "LazyKStafford:1768": ("Syria", "NATO|West|US", "destroy|dismember|partition|regime change"),
    "Mil0Blake:1597": ("Soros", "puppet|agent|operative|control|tool|servant"),
    "LirastertTrump:667": ("coup|deep state", "Trump|Russiagate|Mueller"),
    "debesstrs:2833": ("coup|deep state", "Trump|Russiagate|Mueller"),
    "interFischer:794": (
        "meddl|interfer|hack|Russiagate",
        "hysteria|absurd|no proof|no evidence|myth|conspiracy",
    ),
    "DanaGeezus:12120": ("Soros", "financ|fund|pay|paid|protest|riot"),
    "NewspeakDaily:10562": (
        "meddl|interfer|hack|Russiagate",
        "hysteria|absurd|insane|PR campaign|myth",
    ),
    "debesstrs:4959": ("coup|deep state", "Trump|Russiagate|Mueller"),
    "RyanMaxwell_1:2827": ("Soros", "election|control|troll|manipulat"),
    "DevineDevinBr:1181": (
        "meddl|interfer|hack|Russiagate",
        "hoax|no proof|no evidence|fabricat|myth|PR campaign",
    ),
    "darcyystr:1782": ("Soros", "behind|organi[sz]|stag|chaos|riot|unrest|revolution"),
    "WatchMeWalkin:5026": ("Soros", "media|news|operation|propaganda"),
    # xenc11: queries 17-32 per language
    "tg:-1001000724666:11872": ("corona|covid", "laborator|\\blab\\b|leak|escap"),
    "iphoneofapple:238": ("sanction", "not work|ineffective|don.t work|useless|fail"),
    "zubovnik:82": ("sanction", "US|America|West", "hurt|harm|suffer|loss|more than|backfire"),
    "AnnSam_Sam:565": ("shell", "civilian|resident|Donetsk|Donbas"),
    "tg:-1001101170442:271379": ("NATO", "Arctic|North|militari|escalat"),
    "tg:-1001101170442:270684": ("Armenia", "US|colou?r|revolution|election|control"),
    "zubovnik:4352": ("coup|putsch", "Ukrain|Maidan|Kyiv|Kiev|Poroshenko"),
    "tg:-1001394050290:195117": ("Georgia", "Maidan|colou?r revolution|revolution|coup"),
    "vikaklybnika_:337": (
        "Ukrain",
        "election",
        "fraud|rigged|falsif|not free|unfair|violat|democra",
    ),
    "NovostiCrimea:34": ("Crimea", "always|Russian"),
    "NovostiCrimea:1527": ("Crimea", "Russian (territory|region|land)|part of Russia|return"),
    "tg:-1001117628569:58530": ("church|UOC|Orthodox|Patriarchate", "seiz|persecut|attack|raid"),
    "zubovnik:417": ("Ukrain", "Donbas|Donetsk|Luhansk", "offensive|prepar"),
    "adamma_defond:22": ("shell", "civilian|resident|Donetsk|Donbas|Luhansk|LNR"),
    "RogovValeron:231": ("MH-?17", "Netherlands|Dutch|JIT", "hid|secret|truth|bias|evidence"),
    "_Nickulya:283": ("shell", "civilian|resident|Donetsk|Donbas|school|Horlivka|Gorlovka"),
    "PatriotBlake:4506": ("Ukrain", "interfer|meddl", "election|Clinton|Hillary|Democrat"),
    "debesstrs:4789": ("coup|deep state", "Trump|Russiagate|Mueller"),
    "NewspeakDaily:8694": ("US|America", "election", "rigged|fraud|falsif"),
    "debesstrs:5739": ("coup|deep state", "Trump|Russiagate|Mueller"),
    "arisgrays:201": ("Soros", "media|news|fund"),
    "GeoreviewEurope:22": ("Lithuania|Latvia|Estonia|Baltic", "nazi|fascis|SS"),
    "hyddrox:4158": ("Soros", "migra|refugee"),
    "BelozerovNikit:84": ("Ukrain", "nazi|fascis", "state|regime|country|government|power"),
    "PatriotBlake:354": ("Soros", "puppet|agent|operative|control|tool|servant"),
    "debesstrs:9353": ("Soros", "financ|fund|pay|paid|protest|riot"),
    "celiissgons:373": ("coup|deep state", "Trump|Russiagate|Mueller"),
    "chaasntr:231": ("US|America|Democrat", "election", "rigged|fraud|falsif|illegal"),
    "happkendrahappy:2357": ("US|America|Democrat", "election", "rigged|fraud|falsif|stole"),
    "hyddrox:10635": ("US|America|Democrat", "election", "rigged|fraud|falsif|illegal"),
    "PatriotBlake:6200": ("Soros", "migra|refugee"),
    "debesstrs:8790": ("Soros", "financ|fund|pay|paid|protest|riot"),
}
POOL_PER_SEARCH = 5


def keyword_pool(shared: Path) -> list[dict[str, str]]:
    """Per query, the cases its title search finds that no ranking put in a top 5 and nobody
    judged yet: the :data:`POOL_PER_SEARCH` the monitor's ranking puts first among them."""
    from analyst import case_index, judgments
    from retrieve import cached_encode

    from viche.monitor import embed

    judged = judgments()
    model = embed.load_embedder()
    index = case_index(shared, model)
    qs = queries(shared)
    out = []
    for lang in ("ru", "uk", "en"):
        for p in qs[lang]:
            found = {c.url for c in title_search(index.cases, *SEARCHES[p["post_id"]])}
            sims = index.scores(cached_encode(model, [p["text"]]), [p["text"]])[0]
            order = [int(j) for j in np.argsort(-sims) if index.cases[int(j)].url in found]
            todo = [j for j in order if (p["post_id"], index.cases[j].url) not in judged]
            for j in todo[:POOL_PER_SEARCH]:
                c = index.cases[j]
                out.append({"post_id": p["post_id"], "case_url": c.url, "case_title": c.title,
                            "text": p["text"][:300], "found": str(len(found))})  # fmt: skip
    return out
