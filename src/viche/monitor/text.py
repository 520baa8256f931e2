"""Text normalisation and character shingles, vectorised over batches of texts.

Near-duplicate detection must work across scripts (Latin, Cyrillic, ...) and survive the
small edits that copy-paste campaigns make: a different short link, another @mention, a
changed case, a "RT @handle:" prefix, a trailing ellipsis. :func:`normalise` removes
those; :func:`shingle_hashes` turns a batch of normalised texts into 64-bit hashes of
their character ``k``-grams without creating one Python object per shingle.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

_RT_PREFIX = re.compile(r"^\s*(?:rt|мт|mt)\s+@\w+\s*:?\s*", re.IGNORECASE)
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_LINK = re.compile(r"(?:https?://|www\.|t\.me/)\S+", re.IGNORECASE)
_TRUNCATED_URL = re.compile(r"\bhttps?:?/?/?\S*…?$", re.IGNORECASE)
_MENTION = re.compile(r"@\w+")
_NON_WORD = re.compile(r"[^\w#]+")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
_TRACKING = ("utm_", "fbclid", "gclid", "ref_src", "s=")

# Odd 64-bit multipliers of the polynomial rolling hash, one per position of the k-gram.
_BASE = np.uint64(0x100000001B3)
_MIX = np.uint64(0x9E3779B97F4A7C15)


def normalise(text: str) -> str:
    """The canonical form used to compare texts.

    NFKC, case-folded; a leading ``RT @handle:`` removed; links replaced by ``u``; mentions
    removed; punctuation and runs of spaces collapsed to one space; a trailing ellipsis
    (truncated repost) removed.
    """
    t = unicodedata.normalize("NFKC", text)
    t = _RT_PREFIX.sub("", t)
    t = _URL.sub(" u ", t)
    t = _TRUNCATED_URL.sub(" ", t)
    t = t.casefold()
    t = _MENTION.sub(" ", t)
    t = t.replace("…", " ")
    return _NON_WORD.sub(" ", t).strip()


_UK_ONLY = frozenset("іїєґ")
_RU_ONLY = frozenset("ыэъё")


def guess_language(text: str) -> str:
    """``uk``, ``ru``, ``en`` or "" from the letters alone (no model; a hint, not a verdict).

    Cyrillic text is Ukrainian when it has a letter only Ukrainian uses (і ї є ґ) and none
    only Russian uses (ы э ъ ё), else Russian; Latin text is taken as English. Mixed or
    letterless text gives the majority script's answer, or "". Links are not words: a
    Russian headline followed by its (Latin) URL is Russian.
    """
    cyr = lat = 0
    letters: set[str] = set()
    for ch in _LINK.sub(" ", text).casefold():
        if "\u0400" <= ch <= "\u04ff":
            cyr += 1
            letters.add(ch)
        elif "a" <= ch <= "z":
            lat += 1
    if cyr == lat == 0:
        return ""
    if cyr >= lat:
        return "uk" if letters & _UK_ONLY and not letters & _RU_ONLY else "ru"
    return "en"


def normalise_url(url: str) -> str:
    """A URL reduced to what identifies the resource it points to.

    Lower-case host without ``www.``, no scheme (``http`` and ``https`` merged), no
    fragment, no tracking parameters, no trailing slash. Truncated links (ending in ``…``)
    keep their visible prefix. String operations only: this runs once per link.
    """
    u = url.strip().rstrip("…").rstrip(".,;:!?)\"'")
    if not u:
        return ""
    m = _SCHEME.match(u)
    if m:
        u = u[m.end() :]
    u = u.split("#", 1)[0]
    rest = ""
    for i, ch in enumerate(u):
        if ch in "/?":
            u, rest = u[:i], u[i:]
            break
    host = u.casefold().removeprefix("www.")
    path, _, query = rest.partition("?")
    if query:
        kept = [q for q in query.split("&") if q and not q.casefold().startswith(_TRACKING)]
        query = "&".join(kept)
    path = path.rstrip("/")
    return f"{host}{path}?{query}" if query else f"{host}{path}"


def normalise_hashtag(tag: str) -> str:
    """A hashtag without ``#``, NFKC and case-folded."""
    return unicodedata.normalize("NFKC", tag.strip().lstrip("#")).casefold()


@dataclass(frozen=True, slots=True)
class ShingleBatch:
    """The shingle hashes of a batch of texts, concatenated.

    ``hashes[starts[i]:starts[i] + counts[i]]`` are the shingles of text ``i``; texts
    shorter than ``k`` characters have one shingle (the whole text).
    """

    hashes: npt.NDArray[np.uint64]
    starts: npt.NDArray[np.int64]
    counts: npt.NDArray[np.int64]


def shingle_hashes(texts: Sequence[str], k: int = 5) -> ShingleBatch:
    """Hash every character ``k``-gram of every text in one vectorised pass.

    Each text is read as an array of Unicode code points (UTF-32); the hash of the
    ``k``-gram starting at ``j`` is a polynomial in its code points modulo 2**64 followed
    by a 64-bit finaliser, so that equal ``k``-grams hash equally whatever text they come
    from and nothing per shingle lives as a Python object.
    """
    if k < 1:
        raise ValueError("k must be at least 1")
    n = len(texts)
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return ShingleBatch(np.zeros(0, dtype=np.uint64), empty, empty)
    # Pad each text to at least k characters with a separator so it has one shingle.
    padded = [t if len(t) >= k else t + "\x00" * (k - len(t)) for t in texts]
    lengths = np.fromiter((len(t) for t in padded), dtype=np.int64, count=n)
    sep = "\x01"
    joined = sep.join(padded)
    codes = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    text_starts = np.zeros(n, dtype=np.int64)
    if n > 1:
        text_starts[1:] = np.cumsum(lengths[:-1] + 1)
    m = codes.size - k + 1
    h = np.zeros(m, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(k):
            h = h * _BASE + codes[j : j + m]
        # splitmix64-style finaliser: spreads the bits so min-hashing behaves
        h ^= h >> np.uint64(31)
        h *= _MIX
        h ^= h >> np.uint64(29)
    counts = lengths - k + 1
    # keep only windows inside one text: positions text_start .. text_start + count - 1
    keep_idx = np.repeat(text_starts, counts) + (
        np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    )
    starts = np.zeros(n, dtype=np.int64)
    if n > 1:
        starts[1:] = np.cumsum(counts[:-1])
    return ShingleBatch(h[keep_idx], starts, counts)
