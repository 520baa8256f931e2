"""Narratives: semantic clusters of claims across languages, matched to known cases.

Only the posts that the cheap stages already selected (the posts behind a campaign's
edges, see :func:`candidate_posts`) are embedded, with the model of
:mod:`viche.monitor.embed` (the optional extra ``embed``).

Clustering (:func:`cluster`) is the "community detection" of sentence embeddings: every
post's neighbours are the posts of its group (English, another Latin-script language,
Cyrillic, other: :func:`model_group`) whose cosine similarity reaches the group's threshold
(:data:`THRESHOLDS`); posts are taken in decreasing order of neighbour
count, and each one still unassigned opens a cluster with its unassigned neighbours when
that gives at least ``min_size`` posts; the cluster then takes in (once) the unassigned
posts whose similarity to its centroid reaches that threshold less :data:`CENTROID_MARGIN`
(loose restatements, close to the claim as a whole but to no single member: a centroid
averages away each member's wording, so similarities to it run higher for the same claim
and lower for others). Only for English clusters: the centroid of other posts is
mostly the model's "foreign text" direction, close to any such post.

Matching (:class:`CaseIndex`): each known case of the EUvsDisinfo database (a one-line
statement of a false claim, with keywords) is embedded as ``"<title>. <keywords>"``; a
narrative matches the case nearest to its centroid when their cosine similarity is at least
:data:`MATCH_THRESHOLD`.

Thresholds and why. Measured with all-MiniLM-L6-v2 on the sentences of
tests/monitor/test_narratives.py (three claims, each restated in English, Ukrainian and
Russian, and unrelated sentences; min / mean / max cosine):

* English vs English: same claim 0.45 / 0.70 / 0.89; different claims -0.12 / 0.09 / 0.32.
  :data:`CLUSTER_THRESHOLD` = 0.62 for a pair keeps a cluster to one claim with a wide
  margin over the different-claim band; loose restatements (0.45-0.6 to single members)
  join through the centroid at 0.52.
* Cyrillic vs Cyrillic: same claim 0.47 / 0.72 / 0.87; different claims 0.40 / 0.61 /
  0.81. The model was trained on English and sees mostly the script: only near-identical
  wording separates, hence :data:`FOREIGN_THRESHOLD` = 0.85. The same holds for other
  languages in Latin script (German, Dutch... on the IRA sample, 0.62 merged unrelated
  German, Dutch and Italian tweets into one "narrative"), so only English gets 0.62.
* English vs Cyrillic: same claim -0.11 / 0.11 / 0.25; different claims -0.14 / 0.07 /
  0.28. No threshold separates them, so this model never links posts across groups; a
  campaign that pushes one claim in English and in Ukrainian gets one narrative per group
  (the report shows both). A multilingual model would lift this limit.

Known cases are short lines written by analysts, not by the campaign, and there are
thousands of them, so the nearest case of an unrelated post can still reach ~0.6 on topic
words alone ("Ukraine" + "government"); restatements of a case scored 0.65-0.8, and on the
IRA sample posts that only shared a topic with a case (Russiagate, Antifa) scored 0.66-0.67.
:data:`MATCH_THRESHOLD` = 0.7 therefore asks for a restatement, not a shared topic, at the
cost of missing loose restatements. An analyst confirms a match from the posts and the case
shown side by side in the report.
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from viche.errors import IngestError, Location, MissingFileError, MonitorError
from viche.monitor.embed import DIMENSION, Embedder, Vectors, script_of
from viche.monitor.model import Campaign, DetectionResult, Narrative, Post

CLUSTER_THRESHOLD = 0.62
FOREIGN_THRESHOLD = 0.85
MATCH_THRESHOLD = 0.7
CENTROID_MARGIN = 0.1
#: cosine similarity needed to link two posts, by their groups (see :func:`model_group`);
#: pairs not listed (across groups) are never linked.
THRESHOLDS: dict[tuple[str, str], float] = {
    ("english", "english"): CLUSTER_THRESHOLD,
    ("latin", "latin"): FOREIGN_THRESHOLD,
    ("cyrillic", "cyrillic"): FOREIGN_THRESHOLD,
    ("other", "other"): FOREIGN_THRESHOLD,
}
LABEL_CHARS = 140
MIN_WORDS = 4  # shorter posts (once links and mentions are gone) carry no claim to compare
_BLOCK = 1024


@dataclass(frozen=True, slots=True)
class KnownCase:
    """One debunked case of the EUvsDisinfo database."""

    url: str
    title: str
    date: str = ""
    countries: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    outlets: tuple[str, ...] = ()

    def text(self) -> str:
        """What is embedded: the claim, then its keywords."""
        if not self.keywords:
            return self.title
        return f"{self.title}. {', '.join(self.keywords)}"


CASE_COLUMNS = ("date", "id", "title", "countries", "keywords", "languages", "outlets")


def default_cases_path() -> Path:
    """``$VICHE_EUVSDISINFO``, else ``$VICHE_SHARED/data/influence/euvsdisinfo/cases.csv``."""
    explicit = os.environ.get("VICHE_EUVSDISINFO")
    if explicit:
        return Path(explicit)
    shared = os.environ.get("VICHE_SHARED")
    base = Path(shared) if shared else Path.cwd().parent / "shared"
    return base / "data" / "influence" / "euvsdisinfo" / "cases.csv"


def _split(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split("+") if v.strip())


def check_since(since: str) -> None:
    """A ``since`` filter is empty or ``YYYY-MM-DD``."""
    if since and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", since):
        raise MonitorError(
            f"since must be YYYY-MM-DD, not {since!r}", where=Location(path=("cases since",))
        )


def load_cases(
    path: str | Path,
    *,
    keywords: Iterable[str] = (),
    since: str = "",
    limit: int | None = None,
) -> tuple[KnownCase, ...]:
    """Read the EUvsDisinfo case list (``cases.csv``: date, id, title, countries, ...).

    ``keywords`` keeps only the cases tagged with one of them (case-insensitive), ``since``
    (``YYYY-MM-DD``) the cases of that day or later, ``limit`` the first ones in file order
    (newest first).
    """
    check_since(since)
    p = Path(path)
    if not p.is_file():
        raise MissingFileError(f"no EUvsDisinfo case list at {p}", where=Location(file=str(p)))
    wanted = {k.strip().lower() for k in keywords if k.strip()}
    out: list[KnownCase] = []
    with p.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in CASE_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise IngestError(
                f"case list lacks the column {missing[0]!r}", where=Location(file=str(p))
            )
        for line, row in enumerate(reader, start=2):
            url, title = (row["id"] or "").strip(), (row["title"] or "").strip()
            if not url or not title:
                raise IngestError(
                    "a case without id or title", where=Location(file=str(p), line=line)
                )
            case = KnownCase(
                url=url,
                title=title,
                date=(row["date"] or "").strip(),
                countries=_split(row["countries"] or ""),
                keywords=_split(row["keywords"] or ""),
                languages=_split(row["languages"] or ""),
                outlets=_split(row["outlets"] or ""),
            )
            if since and case.date < since:
                continue
            if wanted and not wanted & {k.lower() for k in case.keywords}:
                continue
            out.append(case)
            if limit is not None and len(out) >= limit:
                break
    return tuple(out)


class CaseIndex:
    """Known cases and their embeddings, to match narratives against."""

    def __init__(self, cases: Sequence[KnownCase], vectors: Vectors) -> None:
        if len(cases) != vectors.shape[0]:
            raise MonitorError(
                f"{len(cases)} cases but {vectors.shape[0]} vectors",
                where=Location(path=("CaseIndex",)),
            )
        self.cases = tuple(cases)
        self.vectors = vectors

    @classmethod
    def build(
        cls,
        cases: Sequence[KnownCase],
        embedder: Embedder,
        *,
        cache_dir: Path | None = None,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> CaseIndex:
        """Embed the cases (or reuse the vectors cached in ``cache_dir`` for the same cases).

        Embedding all ~10,900 cases takes minutes on two CPU cores, hence the cache (keyed by
        the model and the cases' text) and ``on_progress(done, total)``.
        """
        digest = hashlib.sha256(embedder.name.encode())
        for c in cases:
            digest.update(b"\x00" + c.url.encode() + b"\x01" + c.text().encode())
        cache = None
        if cache_dir is not None:
            cache = cache_dir / f"cases-{digest.hexdigest()[:24]}.npy"
            if cache.is_file():
                vectors = np.load(cache)
                if vectors.shape[0] == len(cases):
                    return cls(cases, vectors.astype(np.float32))
        texts = [c.text() for c in cases]
        parts: list[Vectors] = []
        for start in range(0, len(texts), 256):
            parts.append(embedder.encode(texts[start : start + 256]))
            if on_progress is not None:
                on_progress(min(start + 256, len(texts)), len(texts))
        vectors = np.concatenate(parts) if parts else np.zeros((0, DIMENSION), np.float32)
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_suffix(".tmp.npy")
            np.save(tmp, vectors)
            tmp.replace(cache)
        return cls(cases, vectors)

    def nearest(self, vectors: Vectors) -> list[tuple[KnownCase, float]]:
        """For each row of ``vectors`` (unit length), the nearest case and its similarity."""
        if not self.cases:
            raise MonitorError(
                "no known cases to match against", where=Location(path=("CaseIndex",))
            )
        sims = vectors @ self.vectors.T
        best = np.argmax(sims, axis=1)
        return [(self.cases[int(j)], float(sims[i, j])) for i, j in enumerate(best)]


@dataclass(frozen=True, slots=True)
class Cluster:
    """Member rows of one cluster, its medoid row and its centroid (raw model space)."""

    members: tuple[int, ...]
    medoid: int
    centroid: Vectors


def cluster(
    vectors: Vectors,
    scripts: Sequence[str],
    *,
    thresholds: Mapping[tuple[str, str], float] | None = None,
    min_size: int = 2,
) -> list[Cluster]:
    """Group unit vectors by cosine similarity, with thresholds per pair of scripts."""
    n = vectors.shape[0]
    if len(scripts) != n:
        raise MonitorError(
            f"{n} vectors but {len(scripts)} scripts", where=Location(path=("cluster",))
        )
    if n == 0:
        return []
    table = dict(THRESHOLDS if thresholds is None else thresholds)
    names = sorted(set(scripts))
    code = {name: i for i, name in enumerate(names)}
    sc = np.array([code[x] for x in scripts], dtype=np.int64)
    limit = np.full((len(names), len(names)), np.inf, dtype=np.float32)
    for (x, y), t in table.items():
        if x in code and y in code:
            limit[code[x], code[y]] = limit[code[y], code[x]] = t
    neighbours: list[npt.NDArray[np.int64]] = []
    for start in range(0, n, _BLOCK):
        sims = vectors[start : start + _BLOCK] @ vectors.T
        need = limit[sc[start : start + _BLOCK]][:, sc]
        for row in sims >= need:
            neighbours.append(np.flatnonzero(row))
    order = sorted(range(n), key=lambda i: (-len(neighbours[i]), i))
    assigned = np.zeros(n, dtype=bool)
    clusters: list[Cluster] = []
    for seed in order:
        if assigned[seed]:
            continue
        members = [int(j) for j in neighbours[seed] if not assigned[j]]
        if seed not in members:
            members.append(seed)
        if len(members) < min_size:
            continue
        # grow once by the centroid: a restatement close to the claim as a whole but to no
        # single member (loose paraphrases) joins. Once only: repeated growth lets the
        # centroid drift from the claim to its topic (seen on the IRA sample).
        if scripts[seed] == "english":  # see CENTROID_MARGIN
            centroid = vectors[members].mean(axis=0)
            centroid /= float(np.linalg.norm(centroid)) or 1.0
            close = (vectors @ centroid >= limit[sc[seed]][sc] - CENTROID_MARGIN) & ~assigned
            taken = set(members)
            members.extend(int(j) for j in np.flatnonzero(close) if int(j) not in taken)
        members.sort()
        assigned[members] = True
        sub = vectors[members]
        medoid = members[int(np.argmax((sub @ sub.T).mean(axis=1)))]
        centroid = sub.mean(axis=0)
        norm = float(np.linalg.norm(centroid))
        clusters.append(
            Cluster(
                members=tuple(members),
                medoid=medoid,
                centroid=(centroid / (norm or 1.0)).astype(np.float32),
            )
        )
    return clusters


_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_MENTION = re.compile(r"(?<!\w)@\w+:?")
_RT = re.compile(r"^\s*RT\b:?", re.IGNORECASE)


_EN_LANGS = frozenset({"en", "eng", "english"})
_EN_COMMON = (
    "the a an and or of to in on for is are was were be been it this that with as at by "
    "from not but have has had will would can could they we you he she his her their our "
    "its who what which there about after over than just"
)
_EN_WORDS = frozenset(_EN_COMMON.split())
_WORD = re.compile(r"[a-z']+")


def model_group(text: str, lang: str = "") -> str:
    """How the model sees a text: "english", "latin" (another language in Latin script),
    "cyrillic" or "other". ``lang`` (a code or name, as ingested) decides for Latin text;
    without it, a text is English when at least 12% of its words are common English words."""
    script = script_of(text)
    if script != "latin":
        return script or "other"
    code = lang.strip().lower()
    if code:
        english = code in _EN_LANGS or code.startswith(("en-", "en_"))
        return "english" if english else "latin"
    words = _WORD.findall(text.lower())
    share = sum(w in _EN_WORDS for w in words) / len(words) if words else 0.0
    return "english" if share >= 0.12 else "latin"


def claim_text(text: str) -> str:
    """What is embedded: the words of a post without links, @mentions and a leading "RT",
    hashtags kept as words. Links (t.co short links above all) otherwise dominate short
    posts and make unrelated headlines look alike."""
    t = _RT.sub(" ", text)
    t = _URL.sub(" ", t)
    t = _MENTION.sub(" ", t)
    t = t.replace("#", " ")
    return " ".join(t.split())


def _shorten(text: str, limit: int = LABEL_CHARS) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def narrative_id(post_ids: Iterable[str]) -> str:
    """A stable id from the member posts (the same posts give the same id in a later run)."""
    digest = hashlib.sha256("\n".join(sorted(post_ids)).encode()).hexdigest()
    return f"n-{digest[:10]}"


def find_narratives(
    posts: Sequence[Post],
    embedder: Embedder,
    *,
    cases: CaseIndex | None = None,
    thresholds: Mapping[tuple[str, str], float] | None = None,
    match_threshold: float = MATCH_THRESHOLD,
    min_size: int = 2,
) -> tuple[Narrative, ...]:
    """Cluster ``posts`` by meaning; label each cluster and match it to a known case."""
    claims = {p.id: (p, claim_text(p.text)) for p in posts}
    kept = [(p, t) for p, t in claims.values() if len(t.split()) >= MIN_WORDS]
    if not kept:
        return ()
    unique = [p for p, _ in kept]
    texts = [t for _, t in kept]
    vectors = embedder.encode(texts)
    scripts = [model_group(t, p.lang) for p, t in kept]
    found = cluster(vectors, scripts, thresholds=thresholds, min_size=min_size)
    matches = cases.nearest(np.stack([c.centroid for c in found])) if cases and found else []
    out: list[Narrative] = []
    for i, c in enumerate(found):
        ids = tuple(unique[m].id for m in c.members)
        langs = sorted({unique[m].lang or scripts[m] for m in c.members} - {""})
        known, sim, title = ("", 0.0, "")
        if matches and matches[i][1] >= match_threshold:
            known, sim = matches[i][0].url, round(matches[i][1], 4)
            title = matches[i][0].title
        out.append(
            Narrative(
                id=narrative_id(ids),
                label=_shorten(unique[c.medoid].text),
                post_ids=ids,
                languages=tuple(langs),
                known_case=known,
                known_case_similarity=sim,
                known_case_title=title,
            )
        )
    out.sort(key=lambda n: (-len(n.post_ids), n.id))
    return tuple(out)


def candidate_posts(
    campaign: Campaign, posts: Mapping[str, Post] | None = None, *, per_account: int = 0
) -> tuple[str, ...]:
    """The posts the cheap stages selected for a campaign: those behind its edges, and with
    ``per_account`` > 0 up to that many posts of each of its accounts found in ``posts``
    (spread evenly over the account's time line), so that narratives cover the whole
    activity, not only the few pairs kept as evidence."""
    ids: dict[str, None] = dict.fromkeys(campaign.representative_posts)
    for edge in campaign.edges:
        for pair in edge.evidence:
            ids[pair.post_a] = None
            ids[pair.post_b] = None
    if per_account > 0 and posts is not None:
        member = set(campaign.accounts)
        by_author: dict[str, list[Post]] = {}
        for p in posts.values():
            if p.author in member and p.text.strip():
                by_author.setdefault(p.author, []).append(p)
        for author in campaign.accounts:
            mine = sorted(by_author.get(author, ()), key=lambda p: (p.created_at, p.id))
            if len(mine) > per_account:
                step = len(mine) / per_account
                mine = [mine[int(k * step)] for k in range(per_account)]
            ids.update(dict.fromkeys(p.id for p in mine))
    return tuple(ids)


def _even_sample(ids: Sequence[str], k: int) -> tuple[str, ...]:
    if len(ids) <= k:
        return tuple(ids)
    step = len(ids) / k
    return tuple(ids[int(i * step)] for i in range(k))


def attach_narratives(
    result: DetectionResult,
    posts: Mapping[str, Post],
    embedder: Embedder,
    *,
    cases: CaseIndex | None = None,
    thresholds: Mapping[tuple[str, str], float] | None = None,
    match_threshold: float = MATCH_THRESHOLD,
    per_account: int = 0,
    max_posts: int = 0,
) -> DetectionResult:
    """The same result with each campaign's narratives found among its candidate posts
    (:func:`candidate_posts`; those missing from ``posts`` are skipped).

    All campaigns' candidates are clustered together, so one narrative pushed by two
    campaigns has one id; each campaign lists the narratives that contain its posts, the
    largest share first. With ``max_posts`` > 0 the model embeds at most about that many
    posts (it reads ~30-100 posts/s on two CPU cores): each campaign keeps an even sample
    of its candidates, its share being ``max_posts`` / number of campaigns, 20 at least.
    """
    per_campaign = {
        c.id: candidate_posts(c, posts, per_account=per_account) for c in result.campaigns
    }
    if max_posts > 0 and result.campaigns:
        share = max(20, max_posts // len(result.campaigns))
        per_campaign = {cid: _even_sample(ids, share) for cid, ids in per_campaign.items()}
    pool = [posts[i] for ids in per_campaign.values() for i in ids if i in posts]
    narratives = find_narratives(
        pool, embedder, cases=cases, thresholds=thresholds, match_threshold=match_threshold
    )
    campaigns = []
    for c in result.campaigns:
        mine = set(per_campaign[c.id])
        shares = [(len(mine & set(n.post_ids)), n) for n in narratives]
        chosen = tuple(n for k, n in sorted(shares, key=lambda t: (-t[0], t[1].id)) if k > 0)
        campaigns.append(replace(c, narratives=chosen))
    stats = dict(result.stats)
    stats["narratives"] = float(len(narratives))
    stats["narrative_posts_embedded"] = float(len({p.id for p in pool}))
    return replace(result, campaigns=tuple(campaigns), stats=stats)
