"""Narratives: semantic clusters of claims across languages, matched to known cases.

Only the posts that the cheap stages already selected (the posts behind a campaign's
edges, see :func:`candidate_posts`) are embedded, with the model of
:mod:`viche.monitor.embed` (the optional extra ``embed``), and of those only one text per
group of copies and near-copies (:func:`representatives`: the same normalised text, or
MinHash-estimated Jaccard similarity >= :data:`SAME_TEXT_SIMILARITY`); the others take its
vector. :class:`viche.monitor.embed.CachedEmbedder` keeps the vectors for the life of the
process, so ``viche monitor watch`` embeds a post once, not at every detection.

Clustering (:func:`cluster`) is the "community detection" of sentence embeddings: every
post's neighbours are the posts whose cosine similarity reaches the threshold of their
pair of languages (:func:`language_group`, :data:`THRESHOLDS`: :data:`SAME_LANGUAGE` for
two posts in one language, :data:`CROSS_LANGUAGE` across languages; the model is
multilingual: a claim and its translation are neighbours); posts are taken in decreasing
order of neighbour count, and each one still unassigned opens a cluster with its
unassigned neighbours when that gives at least ``min_size`` posts; the cluster then takes
in (once) the unassigned posts whose similarity to its centroid reaches
:data:`CENTROID_THRESHOLD` (loose restatements, close to the claim as a whole but to no
single member). ``thresholds`` can set other values per pair of groups. A cluster is kept
only when it is coherent (:data:`COHERENCE`): at least half of the pairs of its distinct
texts reach their pair's threshold, as restatements of one claim do (the calibration's
claims: 86-100 % of pairs). The post with the most neighbours is often a hub, a short
generic text that many unrelated short texts are close to without being close to each
other: on the 1.4M-post held-out mix such hubs made "narratives" of 100-640 posts in up to
11 languages (thanks for a song, a hashtag game, a sunny morning) whose distinct texts
reach the threshold in 4-41 % of pairs. Such a cluster is not formed; its posts stay
free for the next seeds.

Matching (:class:`CaseIndex`): each known case of the EUvsDisinfo database (a one-line
statement of a false claim in English, with keywords) is embedded as
``"<title>. <keywords>"``; a narrative matches the case nearest to its centroid when their
cosine similarity is at least :data:`MATCH_THRESHOLD`. The case titles are English; the
posts may be Ukrainian or Russian: the model compares them across languages.

Thresholds and why: e5 scores every pair of texts high, so the thresholds are read off
measured distributions, not set by eye. ``python bench/narrative_eval/calibrate.py``
(figures in ``bench/narrative_eval/calibration.json``) embeds 30 claims of the EUvsDisinfo
kind told in en / uk / ru, different claims on the same topics (hard negatives), and random
pairs of real posts (Russian Telegram, English and Ukrainian tweets):

* Same claim across languages (cosine; min / median): en-uk 0.835 / 0.896, en-ru 0.885 /
  0.922, uk-ru 0.892 / 0.938. Different claims across languages: p99 0.83-0.85, max 0.88;
  unrelated real posts across languages: p99.9 0.83-0.86. :data:`CROSS_LANGUAGE` = 0.8525,
  the smallest value that at most 1 % of different-claim pairs (0.84 %) and 0.1 % of real
  pairs (0.02 %) reach; it keeps 97 % of en-uk and all en-ru and uk-ru translations.
* Within one language everything scores higher: different claims p99 0.87-0.89 (max 0.92),
  random real Russian Telegram posts p99 0.87, p99.9 0.89 (Moscow channels retelling the same
  story), so :data:`SAME_LANGUAGE` = 0.8875 by the same rule (0.92 % / 0.08 %); restatements
  of a claim in one language (tests' corpus, 24 pairs) reach it in 100 % (en, ru) and 67 %
  (uk: 3 pairs) of pairs; the centroid step takes in the rest. (It was 0.915 when the
  Telegram posts were embedded with their markup and "subscribe" links, which made one
  channel's unrelated posts alike: real ru-ru p99.9 0.92; recomputed after
  :func:`claim_text` dropped them.)
* A claim's centroid (en+uk+ru) scores 0.95-0.99 with its own texts and up to 0.88 (p99)
  with other claims' texts: :data:`CENTROID_THRESHOLD` = 0.88 (at most 1 % of others).
* Known cases: a case must beat two things. The best case score of apolitical Russian
  Telegram posts over all 10,892 cases has p99 0.857 (0.848 over the 565 cases of
  2015-01..2016-01 that the first calibration used); different claims told in English score
  up to 0.888 (p99) against each other, and a narrative of another claim scored 0.867
  against a Navalny case (tests). :data:`MATCH_THRESHOLD` = 0.888, the higher. Among all
  cases plus the 30 English claims as titles, each uk / ru claim finds its own title first
  for 26 / 30 (uk) and 28 / 30 (ru) by cosine (30 / 30 among the 565); at this threshold
  it matches it for 70 % of the Ukrainian and 97 % of the Russian versions (the price of
  not matching other claims). English political posts (IRA tweets) reach 0.9005 at p99 of
  their best score over all cases: on campaign posts that restate no case, a case above
  the threshold is common (the 1.4M held-out mix: 26 of 778 narratives, few of them the
  same claim), so the report shows it as the nearest case, a hint beside the posts for an
  analyst to confirm, never in the narrative's place.
* On real posts a case match is a topic hint, not a verdict (``bench/narrative_eval``,
  ``retrieve.py --score``, 181 judged pairs): IRA tweets of Nov 2015-Jan 2016 against the ~170
  cases of the same weeks, 15 queries per language among the posts that reach the threshold
  of their language (thresholds from apolitical texts: ru 0.856, en 0.870, uk 0.851):
  precision@1 ru 0.20, uk (our translations of the Russian queries) 0.07, en 0.07; precision@5
  0.04 / 0.04 / 0.01. Where a post does restate a case (Coca-Cola "recognising" Crimea, the
  Su-24 downed over Syria, "the US helps ISIS") the model ranks that case first or second, in
  Russian and in its Ukrainian translation alike (same first case for 10 of 15 posts), but
  headline-like posts on the same event score as high as restatements (judged irrelevant pairs
  reach 0.885 ru and 0.913 en, relevant ones 0.860-0.880): no threshold separates claim from
  topic, so :data:`MATCH_THRESHOLD` stays at the conservative 0.888 and the report shows the
  case beside the posts for an analyst to confirm.
* Against ALL 10,892 cases, as the monitor matches (``bench/narrative_eval/analyst.py``,
  327 judged pairs): Russian Telegram news posts of 2024, their Ukrainian translations and
  English IRA tweets, 20 queries each among the posts that reach their language's null
  threshold (ru 0.869, en 0.884, uk 0.851): precision@5 ru 0.06, uk 0.04, en 0.09 (precision@1
  0.20 / 0.05 / 0.20); neither dropping Telegram markup (:func:`claim_text`) nor scoring a
  post by its best sentence (:func:`claim_sentences`) moves it. At 0.888 no Russian or
  Ukrainian query is shown a case; the English cases shown are right 15 % of the time.
  Hub and anisotropy corrections (mean-centring, CSLS, per-case z-scores, scores smoothed
  over a case's nearest cases, ``passage:`` case vectors; ``bench/narrative_eval/rules.py``,
  1,140 judged pairs, dev / test halves) do not beat this cosine on the held-out half, so
  matching keeps it: most posts restate no claim, and no score tells them apart.
* On posts that DO carry a claim of the case list (``bench/narrative_eval/claim_set.py``:
  16 ru, 16 en real posts and 2 real uk posts selected by a written rule before any ranking,
  and labelled uk translations of the ru ones; judged pools), the cosine ranks 0.18-0.38 of
  the top 5 right on the test half. Which case a narrative is matched to is therefore chosen
  with a lexical bridge across scripts (:mod:`viche.monitor.lexicon`, hand-written en / ru /
  uk concepts): :meth:`CaseIndex.nearest` ranks by cosine + :data:`LEXICAL_WEIGHT` x the
  concepts' idf-weighted cosine among the cases whose cosine reaches the threshold, and
  returns the cosine, so the threshold keeps its calibrated meaning. Test P@5: ru 0.18 ->
  0.50, uk translations 0.30 -> 0.55, en 0.38 -> 0.50 (weight chosen on the dev half), still
  short of 0.8: cases on the same actors and topic rank as high as restatements. The price,
  in ``calibrate.py``'s contest (each claim against every case of 2015-01..2016-01 plus the
  30 English claims as titles): the own English title comes first for 27 / 30 Ukrainian and
  29 / 30 Russian versions with the bridge, 30 / 30 with the cosine alone.
* A second, cross-language lexical channel (:mod:`viche.monitor.crosslex`: Cyrillic words
  transliterated and, through Debian's FreeDict English-Russian word list, translated; BM25
  against the case, scaled to the query's best case) is added with
  :data:`CROSS_LEXICAL_WEIGHT` (``bench/narrative_eval/xlex.py``, the claim set doubled to
  16 + 16 queries per language): test P@5 ru 0.36 -> 0.40, uk translations 0.36 -> 0.44,
  en 0.57 -> 0.54, every change within the bootstrap interval.
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from viche.errors import IngestError, Location, MissingFileError, MonitorError
from viche.monitor import crosslex, lexicon
from viche.monitor.embed import DIMENSION, Embedder, Vectors
from viche.monitor.minhash import MinHasher, lsh_clusters
from viche.monitor.model import Campaign, DetectionResult, Narrative, Post
from viche.monitor.text import guess_language, normalise, shingle_hashes

SAME_LANGUAGE = 0.8875
CROSS_LANGUAGE = 0.8525
#: the higher of the two: a pair that reaches it links in any two languages
CLUSTER_THRESHOLD = max(SAME_LANGUAGE, CROSS_LANGUAGE)
CENTROID_THRESHOLD = 0.88
#: the least share of a narrative's pairs of distinct texts that reach their threshold
COHERENCE = 0.5
_COHERENCE_ROWS = 200
MATCH_THRESHOLD = 0.888
#: weight of the lexical bridge (:mod:`viche.monitor.lexicon`) added to the cosine when the
#: cases are ranked (chosen on the dev half of ``bench/narrative_eval/claim_set.py``)
LEXICAL_WEIGHT = 0.12
#: weight of the cross-language lexical channel (:mod:`viche.monitor.crosslex`: BM25 of a
#: text's transliterated and dictionary terms against the case, 0..1) added as well (chosen
#: on the same dev half, ``bench/narrative_eval/xlex.py``)
CROSS_LEXICAL_WEIGHT = 0.08
GROUPS = ("en", "uk", "ru", "other")
#: cosine similarity needed to link two posts, by their groups (see :func:`language_group`);
#: pairs not listed are never linked.
THRESHOLDS: dict[tuple[str, str], float] = {
    (a, b): SAME_LANGUAGE if a == b else CROSS_LANGUAGE for a in GROUPS for b in GROUPS
}
LABEL_CHARS = 140
MIN_WORDS = 4  # shorter posts (once links and mentions are gone) carry no claim to compare
_BLOCK = 1024
#: estimated Jaccard similarity (character 5-grams of the normalised text) above which two
#: posts are embedded once (one stands for both; see :func:`representatives`)
SAME_TEXT_SIMILARITY = 0.85


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


#: the vector cache keeps other case lists' vectors up to this many cases (~1.5 kB each)
CACHE_MAX_CASES = 100_000

CASE_COLUMNS = ("date", "id", "title", "countries", "keywords", "languages", "outlets")


def default_cases_path() -> Path:
    """``$VICHE_EUVSDISINFO``, else ``$VICHE_SHARED/data/influence/euvsdisinfo/cases.csv``."""
    explicit = os.environ.get("VICHE_EUVSDISINFO")
    if explicit:
        return Path(explicit)
    shared = os.environ.get("VICHE_SHARED")
    base = Path(shared) if shared else Path.cwd().parent / "shared"
    return base / "data" / "influence" / "euvsdisinfo" / "cases.csv"


def case_cache_dir(store: Path) -> Path:
    """Where the vectors of the known cases are kept: ``$VICHE_CACHE`` when set, else the
    machine's cache folder (``$XDG_CACHE_HOME/viche``, else ``~/.cache/viche``): one cache
    for every store of the machine, since embedding all cases takes minutes. ``store`` is
    the fallback when there is no home folder."""
    explicit = os.environ.get("VICHE_CACHE")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "viche"
    try:
        return Path.home() / ".cache" / "viche"
    except RuntimeError:
        return store / "cache"


def _split(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split("+") if v.strip())


def check_since(since: str) -> None:
    """A ``since`` filter is empty or ``YYYY-MM-DD``."""
    if since and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", since):
        raise MonitorError(
            f"since must be YYYY-MM-DD, not {since!r}", where=Location(path=("cases since",))
        )


def _read_cases(
    reader: csv.DictReader[str], p: Path, wanted: set[str], since: str, limit: int | None
) -> list[KnownCase]:
    out: list[KnownCase] = []
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
    return out


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
    with p.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        try:
            out = _read_cases(reader, p, wanted, since, limit)
        except UnicodeDecodeError as exc:
            raise IngestError("the case list is not UTF-8", where=Location(file=str(p))) from exc
        except csv.Error as exc:  # a field over csv's limit, a bare carriage return
            raise IngestError(
                f"unreadable CSV: {exc}", where=Location(file=str(p), line=reader.line_num)
            ) from exc
    return tuple(out)


def case_key(case: KnownCase) -> bytes:
    """A case's key in the vector cache: its link and the text that is embedded."""
    return hashlib.sha256(case.url.encode() + b"\x00" + case.text().encode()).digest()[:16]


class CaseVectorCache:
    """The known cases' vectors of one model, in ``folder/case-vectors-<model>.npz``
    (``keys``: 16 bytes a case, :func:`case_key`, as a uint8 matrix: numpy's ``S16`` would
    drop a key's trailing NUL bytes; ``vectors``: float32 rows).

    A file that cannot be read (truncated, from another version, not ours) counts as
    empty: the cases are embedded again and the file replaced. It is written to a
    temporary file first and renamed, so a reader never sees half a file; it keeps the
    vectors of other case lists (a ``--since`` subset, an older list) up to
    :data:`CACHE_MAX_CASES`, then only those of the list being built.
    """

    def __init__(self, folder: Path, model: str) -> None:
        self.folder = folder
        tag = hashlib.sha256(model.encode()).hexdigest()[:16]
        self.path = folder / f"case-vectors-{tag}.npz"

    def load(self) -> dict[bytes, Vectors]:
        try:
            with self.path.open("rb") as f, np.load(f, allow_pickle=False) as data:
                keys, vectors = data["keys"], data["vectors"]
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            return {}
        if (
            keys.dtype != np.uint8
            or keys.ndim != 2
            or keys.shape[1] != 16
            or vectors.dtype != np.float32
            or vectors.shape != (keys.shape[0], DIMENSION)
        ):
            return {}
        return {k.tobytes(): vectors[i] for i, k in enumerate(keys)}

    def save(self, vectors: Mapping[bytes, Vectors], *, keep: set[bytes]) -> None:
        items = list(vectors.items())
        if len(items) > CACHE_MAX_CASES:
            items = [(k, v) for k, v in items if k in keep]
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with tmp.open("wb") as f:
            np.savez(
                f,
                keys=np.frombuffer(b"".join(k for k, _ in items), np.uint8).reshape(-1, 16),
                vectors=np.stack([v for _, v in items]).astype(np.float32),
            )
        tmp.replace(self.path)


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
        self._lex: tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]] | None = None
        self._cross: crosslex.CrossLexicon | None = None

    @classmethod
    def build(
        cls,
        cases: Sequence[KnownCase],
        embedder: Embedder,
        *,
        cache_dir: Path | None = None,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> CaseIndex:
        """Embed the cases, reusing the vectors cached in ``cache_dir``.

        Embedding all ~10,900 cases takes minutes on two CPU cores (~47 ms of CPU a case),
        hence the cache: one file per model (:class:`CaseVectorCache`) keyed by each case's
        link and text, so that a newer case list embeds only its new or changed cases.
        ``on_progress(done, total)`` counts the cases being embedded.
        """
        store = CaseVectorCache(cache_dir, embedder.name) if cache_dir is not None else None
        keys = [case_key(c) for c in cases]
        known = store.load() if store is not None else {}
        todo = [i for i, k in enumerate(keys) if k not in known]
        fresh: dict[bytes, Vectors] = {}
        for start in range(0, len(todo), 256):
            part = todo[start : start + 256]
            vectors = embedder.encode([cases[i].text() for i in part])
            fresh.update((keys[i], vectors[j]) for j, i in enumerate(part))
            if on_progress is not None:
                on_progress(min(start + 256, len(todo)), len(todo))
        rows = [fresh[k] if k in fresh else known[k] for k in keys]
        out = np.stack(rows).astype(np.float32) if rows else np.zeros((0, DIMENSION), np.float32)
        if store is not None and fresh:
            store.save(known | fresh, keep=set(keys))
        return cls(cases, out)

    def _lexicon(self) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        """The cases' weighted concept rows and the concepts' idf (computed once)."""
        if self._lex is None:
            sets = [lexicon.concepts(c.text()) for c in self.cases]
            weights = lexicon.idf(sets)
            self._lex = (lexicon.weighted(sets, weights), weights)
        return self._lex

    def cross_lexicon(self) -> crosslex.CrossLexicon:
        """The cases' cross-language lexical channel (built once, with the dictionary that
        :func:`viche.monitor.crosslex.load_dictionary` finds)."""
        if self._cross is None:
            self._cross = crosslex.CrossLexicon(
                (c.text() for c in self.cases), crosslex.load_dictionary()
            )
        return self._cross

    def scores(
        self,
        vectors: Vectors,
        texts: Sequence[str] | None = None,
        *,
        weight: float = LEXICAL_WEIGHT,
        cross_weight: float = CROSS_LEXICAL_WEIGHT,
    ) -> Vectors:
        """The ranking score of every case for each row of ``vectors``: the cosine, plus
        ``weight`` times the lexical similarity (:mod:`viche.monitor.lexicon`) and
        ``cross_weight`` times the cross-language channel (:mod:`viche.monitor.crosslex`) of
        the row's text (``texts``, one per row) to the case, when texts are given."""
        sims: Vectors = vectors @ self.vectors.T
        return sims if texts is None else self._with_lexicon(sims, texts, weight, cross_weight)

    def _with_lexicon(
        self, cos: Vectors, texts: Sequence[str], weight: float, cross_weight: float
    ) -> Vectors:
        """``cos`` (rows x cases) plus the texts' weighted lexical similarities."""
        if len(texts) != cos.shape[0]:
            raise MonitorError(
                f"{cos.shape[0]} vectors but {len(texts)} texts",
                where=Location(path=("CaseIndex", "scores")),
            )
        rows, weights = self._lexicon()
        ranked: Vectors = cos + weight * lexicon.similarity(texts, rows, weights)
        if cross_weight:
            langs = [guess_language(t) for t in texts]
            ranked = ranked + cross_weight * self.cross_lexicon().similarity(texts, langs)
        return ranked

    def nearest(
        self,
        vectors: Vectors,
        texts: Sequence[str] | None = None,
        *,
        threshold: float | None = None,
    ) -> list[tuple[KnownCase, float]]:
        """For each row of ``vectors`` (unit length), the best case and its cosine.

        Without ``texts``: the case of highest cosine. With ``texts`` (one per row), the
        case of highest :meth:`scores` among those whose cosine reaches ``threshold`` (all
        cases when it is None; the case of highest cosine when none reaches it): the
        calibrated cosine decides WHETHER a row matches a case, the lexical bridge helps
        choose WHICH (``bench/narrative_eval/claim_set.py``). The similarity returned is
        always the cosine, so the calibrated thresholds keep their meaning."""
        if not self.cases:
            raise MonitorError(
                "no known cases to match against", where=Location(path=("CaseIndex",))
            )
        cos = vectors @ self.vectors.T
        best = np.argmax(cos, axis=1)
        if texts is not None:
            ranked = self._with_lexicon(cos, texts, LEXICAL_WEIGHT, CROSS_LEXICAL_WEIGHT)
            if threshold is not None:
                ranked = np.where(cos >= threshold, ranked, -np.inf)
            chosen = np.argmax(ranked, axis=1)
            best = np.where(np.isfinite(ranked.max(axis=1)), chosen, best)
        return [(self.cases[int(j)], float(cos[i, j])) for i, j in enumerate(best)]


def representatives(
    texts: Sequence[str], *, similarity: float = SAME_TEXT_SIMILARITY
) -> npt.NDArray[np.int64]:
    """For each text, the index of the text embedded in its place.

    Texts equal once normalised (:func:`viche.monitor.text.normalise`: case, links,
    mentions, punctuation) share the first of them; the distinct ones are then joined by
    MinHash LSH (the near-duplicate machinery of detection) when their estimated Jaccard
    similarity reaches ``similarity``, and each group is represented by its first text.
    Copies and lightly edited reposts, the bulk of a campaign's posts, are embedded once.
    """
    n = len(texts)
    out = np.arange(n, dtype=np.int64)
    first: dict[str, int] = {}
    distinct: list[int] = []
    for i, t in enumerate(texts):
        key = normalise(t)
        j = first.setdefault(key, i)
        out[i] = j
        if j == i:
            distinct.append(i)
    if len(distinct) > 1:
        keys = [normalise(texts[i]) or "." for i in distinct]
        sigs = MinHasher(32, 1).signatures(shingle_hashes(keys, 5))
        labels = lsh_clusters(sigs, 8, similarity)
        rep = np.asarray(distinct, dtype=np.int64)[labels]
        out = rep[np.searchsorted(np.asarray(distinct, dtype=np.int64), out)]
    return out


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
        centroid = vectors[members].mean(axis=0)
        centroid /= float(np.linalg.norm(centroid)) or 1.0
        linkable = np.isfinite(limit[sc[seed]][sc])  # pairs of groups the table links
        close = (vectors @ centroid >= CENTROID_THRESHOLD) & linkable & ~assigned
        taken = set(members)
        members.extend(int(j) for j in np.flatnonzero(close) if int(j) not in taken)
        members.sort()
        if not _coherent(vectors[members], limit[sc[members]][:, sc[members]]):
            continue
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


def _coherent(vectors: Vectors, limits: npt.NDArray[np.float32]) -> bool:
    """Whether at least :data:`COHERENCE` of the pairs of distinct rows of ``vectors``
    reach their threshold in ``limits`` (copies of one text count once; one text alone is
    coherent). Above :data:`_COHERENCE_ROWS` distinct rows, an evenly spaced sample of
    them is measured (the share of ~20,000 pairs, not of millions)."""
    _, first = np.unique(vectors, axis=0, return_index=True)
    if first.size < 2:
        return True
    first = np.sort(first)
    if first.size > _COHERENCE_ROWS:
        first = first[np.linspace(0, first.size - 1, _COHERENCE_ROWS).astype(np.int64)]
    rows = vectors[first]
    upper = np.triu_indices(first.size, 1)
    close = (rows @ rows.T)[upper] >= limits[first][:, first][upper]
    return float(close.mean()) >= COHERENCE


_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_MENTION = re.compile(r"(?<!\w)@\w+:?")
_RT = re.compile(r"^\s*RT\b:?", re.IGNORECASE)
#: Telegram's Markdown as exported: **bold**, __italic__, ~~struck~~, `code`
_MARKUP = re.compile(r"\*\*|__|~~|`")
#: a link's text whose address was dropped: "[text](" or "[text](address)"
_LINK_TEXT = re.compile(r"\[([^\[\]]*)\]\([^)\s]*\)?")
#: a channel's call to subscribe (its own boilerplate, in every post)
_SUBSCRIBE = re.compile(r"подпис|підпис|subscribe", re.IGNORECASE)


_LANG_NAMES = {
    "en": "en", "eng": "en", "english": "en",
    "uk": "uk", "ukr": "uk", "ukrainian": "uk",
    "ru": "ru", "rus": "ru", "russian": "ru",
}  # fmt: skip


def language_group(text: str, lang: str = "") -> str:
    """The language a threshold is chosen by: "en", "uk", "ru" or "other".

    ``lang`` (a code or a name, as ingested: ``en-GB``, ``Russian``) decides when given; a
    language other than these three is "other". Without it, the letters decide
    (:func:`viche.monitor.text.guess_language`).
    """
    code = lang.strip().lower().replace("_", "-").split("-")[0]
    if code:
        return _LANG_NAMES.get(code, "other")
    return guess_language(text) or "other"


def _link_text(m: re.Match[str]) -> str:
    inner = m.group(1)
    return " " if _SUBSCRIBE.search(inner) else f" {inner} "


def claim_text(text: str) -> str:
    """What is embedded: the words of a post without links, @mentions and a leading "RT",
    hashtags kept as words. Links (t.co short links above all) otherwise dominate short
    posts and make unrelated headlines look alike. Telegram's markup goes too: Markdown
    marks, pictographs (❗️ ⚡️ 👉: symbols, not words) and a link's brackets (its text kept,
    unless it is the channel's call to subscribe)."""
    t = _RT.sub(" ", text)
    t = _URL.sub(" ", t)
    t = _LINK_TEXT.sub(_link_text, t)
    t = _MENTION.sub(" ", t)
    t = _MARKUP.sub(" ", t)
    t = "".join(
        " " if unicodedata.category(ch) in {"So", "Cs", "Co"} or 0xFE00 <= ord(ch) <= 0xFE0F else ch
        for ch in t.replace("#", " ")
    )
    return " ".join(t.split())


_SENTENCE_END = re.compile(r"(?<=[.!?…»”\"])\s+(?=[«\"A-ZА-ЯЁІЇЄҐ])|\n+")
SENTENCE_WORDS = 3
MAX_SENTENCES = 8


def claim_sentences(text: str, *, limit: int = MAX_SENTENCES) -> list[str]:
    """The sentences of a post that could carry a claim: split at line breaks and sentence
    ends, each cleaned as :func:`claim_text`, those of at least :data:`SENTENCE_WORDS` words, the
    first ``limit`` of them (a news post opens with its claim; the tail is boilerplate:
    "subscribe", links to the channel)."""
    out: list[str] = []
    for part in _SENTENCE_END.split(text):
        sentence = claim_text(part)
        if len(sentence.split()) >= SENTENCE_WORDS:
            out.append(sentence)
            if len(out) >= limit:
                break
    return out


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
    """Cluster ``posts`` by meaning; label each cluster and match it to a known case.

    Near-identical posts (:func:`representatives`) are embedded once and share a vector."""
    found, _ = _find(posts, embedder, cases, thresholds, match_threshold, min_size)
    return found


def _find(  # noqa: PLR0917 (private: find_narratives and attach_narratives)
    posts: Sequence[Post],
    embedder: Embedder,
    cases: CaseIndex | None,
    thresholds: Mapping[tuple[str, str], float] | None,
    match_threshold: float,
    min_size: int,
) -> tuple[tuple[Narrative, ...], int]:
    """The narratives and how many distinct texts were embedded."""
    claims = {p.id: (p, claim_text(p.text)) for p in posts}
    kept = [(p, t) for p, t in claims.values() if len(t.split()) >= MIN_WORDS]
    if not kept:
        return (), 0
    unique = [p for p, _ in kept]
    texts = [t for _, t in kept]
    rep = representatives(texts)
    distinct = np.unique(rep)
    vectors = embedder.encode([texts[int(i)] for i in distinct])[np.searchsorted(distinct, rep)]
    scripts = [language_group(t, p.lang) for p, t in kept]
    found = cluster(vectors, scripts, thresholds=thresholds, min_size=min_size)
    matches = (
        cases.nearest(
            np.stack([c.centroid for c in found]),
            [texts[c.medoid] for c in found],
            threshold=match_threshold,
        )
        if cases and found
        else []
    )
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
    return tuple(out), int(distinct.size)


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
    narratives, embedded = _find(pool, embedder, cases, thresholds, match_threshold, 2)
    campaigns = []
    for c in result.campaigns:
        mine = set(per_campaign[c.id])
        shares = [(len(mine & set(n.post_ids)), n) for n in narratives]
        chosen = tuple(n for k, n in sorted(shares, key=lambda t: (-t[0], t[1].id)) if k > 0)
        campaigns.append(replace(c, narratives=chosen))
    stats = dict(result.stats)
    stats["narratives"] = float(len(narratives))
    stats["narrative_posts_embedded"] = float(len({p.id for p in pool}))
    stats["narrative_texts_embedded"] = float(embedded)
    return replace(result, campaigns=tuple(campaigns), stats=stats)
