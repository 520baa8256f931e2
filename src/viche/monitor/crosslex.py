"""A cross-language lexical channel: transliteration and a bilingual dictionary (issue 11).

The known cases are English (title and keywords); a Russian or Ukrainian post shares no word
with them. This channel gives a text English-side terms and scores them against each case
with BM25 (:class:`CrossLexicon`):

* ``t:`` terms, by transliteration: each Cyrillic word is written in Latin letters (:data:`
  RU_LATIN`, the common Russian passport usage; :data:`UK_LATIN`, Ukraine's national standard
  of 2010) and every word, Latin or transliterated, reduced to a :func:`skeleton` (spelling
  variants of one sound merged, vowels after the first letter dropped, doubles collapsed,
  the first :data:`SKELETON` consonants), so that "Сорос" / "Soros", "Скрипаля" / "Skripal",
  "Зеленський" / "Zelenskyy", "Януковича" / "Yanukovych" are one term. Names carry most of
  what they match; ordinary words collide by chance and weigh little (idf).
* ``e:`` terms, by dictionary: Debian's ``dict-freedict-eng-rus`` (FreeDict, GPL-2+, 1,693
  English headwords, dictd files, read at run time, not shipped) read backwards: a Russian
  word's first :data:`STEM` letters (Ukrainian letters folded onto Russian ones, so that
  Ukrainian words reach the same stems) give the English headwords translated by a word of
  that stem. English words give their own first :data:`STEM` letters.

Without the dictionary installed (:func:`load_dictionary` finds no file) the channel keeps
its ``t:`` terms and the English words' ``e:`` terms. Measured in
``bench/narrative_eval/xlex.py`` (section xlex11 of its README).
"""

from __future__ import annotations

import gzip
import logging
import math
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from viche.errors import IngestError, Location

log = logging.getLogger("viche.monitor")

#: where Debian's dict-freedict-eng-rus puts its files (``.index``, ``.dict.dz``)
FREEDICT = Path("/usr/share/dictd/freedict-eng-rus")
STEM = 5
SKELETON = 4
MIN_LETTERS = 4  # shorter words (prepositions, "и", "the") carry no claim

_COMMON = {
    "а": "a", "б": "b", "в": "v", "д": "d", "е": "e", "ж": "zh", "з": "z", "к": "k", "л": "l",
    "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f",
    "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ь": "", "ъ": "", "ю": "yu",
    "я": "ya", "'": "", "’": "",
}  # fmt: skip
#: Russian -> Latin (passport usage: и i, й y, ы y, э e, ё e, г g)
RU_LATIN = {**_COMMON, "г": "g", "и": "i", "й": "y", "ы": "y", "э": "e", "ё": "e"}
#: Ukrainian -> Latin (national standard of 2010: г h, ґ g, и y, і i, ї i, й i, є ie, ю iu)
UK_LATIN = {
    **_COMMON, "г": "h", "ґ": "g", "и": "y", "і": "i", "ї": "i", "й": "i", "є": "ie",
    "ю": "iu", "я": "ia",
}  # fmt: skip
_UK_TO_RU = str.maketrans({"і": "и", "ї": "и", "є": "е", "ґ": "г", "ё": "е", "'": "", "’": ""})
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")
_CYR = re.compile(r"[а-яёіїєґ]", re.IGNORECASE)
#: spelling variants of one sound, replaced in this order
_SOUNDS = (
    ("shch", "sh"), ("sch", "sh"), ("tch", "ch"), ("dzh", "j"), ("zh", "j"), ("kh", "h"),
    ("ck", "k"), ("ph", "f"), ("th", "t"), ("ch", "C"), ("sh", "S"), ("ts", "T"), ("tz", "T"),
    ("c", "k"), ("T", "c"), ("w", "v"), ("x", "ks"), ("q", "k"), ("g", "h"),
)  # fmt: skip
_VOWELS = re.compile(r"[aeiouyj]")
_DICTD_DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def latin(word: str, lang: str) -> str:
    """A Cyrillic word in Latin letters (``lang`` ``uk``: Ukrainian table, else Russian)."""
    table = UK_LATIN if lang.startswith("uk") else RU_LATIN
    return "".join(table.get(ch, ch) for ch in word.lower())


def skeleton(word: str) -> str:
    """The comparable form of a Latin word: sounds merged, vowels after the first letter
    dropped, doubled letters collapsed, the first :data:`SKELETON` consonants."""
    w = word.lower()
    for a, b in _SOUNDS:
        w = w.replace(a, b)
    head, rest = w[:1], _VOWELS.sub("", w[1:])
    out: list[str] = []
    for ch in head + rest:
        if not out or out[-1] != ch:
            out.append(ch)
    return "".join(out)[: SKELETON + (1 if head and _VOWELS.match(head) else 0)]


def words(text: str) -> list[str]:
    """The words of :data:`MIN_LETTERS` letters or more."""
    return [m.group(0) for m in _WORD.finditer(text) if len(m.group(0)) >= MIN_LETTERS]


def stem_ru(word: str) -> str:
    return word.lower().translate(_UK_TO_RU)[:STEM]


def stem_en(word: str) -> str:
    return word.lower()[:STEM]


def _dictd_number(digits: str) -> int:
    n = 0
    for ch in digits:
        n = n * 64 + _DICTD_DIGITS.index(ch)
    return n


def read_freedict(base: Path) -> dict[str, frozenset[str]]:
    """A dictd English -> Russian dictionary (``base.index``, ``base.dict.dz``) read
    backwards: Russian stem -> the stems of the English headwords it translates."""
    where = Location(file=str(base.with_suffix(".index")))
    try:
        with gzip.open(base.with_suffix(".dict.dz")) as fh:
            body = fh.read()
        index = base.with_suffix(".index").read_text(encoding="utf-8")
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise IngestError(f"unreadable dictd dictionary {base}: {exc}", where=where) from exc
    out: dict[str, set[str]] = {}
    for line in index.splitlines():
        parts = line.split("\t")
        if len(parts) != 3 or not all(c in _DICTD_DIGITS for c in parts[1] + parts[2]):
            raise IngestError(f"not a dictd index line: {line[:60]!r}", where=where)
        head, off, size = parts
        if head.startswith("00") or len(head) < MIN_LETTERS:
            continue  # the database's own entries (00-database-...), short headwords
        start = _dictd_number(off)
        entry = body[start : start + _dictd_number(size)].decode("utf-8", "replace")
        translations = entry.split("\n", 1)[1] if "\n" in entry else ""
        english = {stem_en(w) for w in words(head)}
        for w in words(translations):
            if _CYR.search(w):
                out.setdefault(stem_ru(w), set()).update(english)
    return {k: frozenset(v) for k, v in out.items()}


def load_dictionary(base: Path | None = None) -> dict[str, frozenset[str]]:
    """:func:`read_freedict` of ``base``, else ``$VICHE_FREEDICT``, else :data:`FREEDICT`;
    an empty dictionary, with a warning, when its files are not there (the package is not
    installed)."""
    path = base or Path(os.environ.get("VICHE_FREEDICT") or FREEDICT)
    if not path.with_suffix(".index").is_file():
        log.warning(
            "no FreeDict eng-rus dictionary at %s: cross-language matching uses transliteration"
            " and English words only (install the Debian package dict-freedict-eng-rus, or set"
            " VICHE_FREEDICT)",
            path,
        )
        return {}
    return read_freedict(path)


def terms(text: str, lang: str, dictionary: Mapping[str, frozenset[str]]) -> list[str]:
    """A post's terms: the ``t:`` skeleton of every word (Cyrillic ones transliterated by
    ``lang``'s table) and ``e:`` English stems (the dictionary's, for a Cyrillic word)."""
    out: list[str] = []
    for w in words(text):
        if _CYR.search(w):
            out.append("t:" + skeleton(latin(w, lang)))
            out.extend("e:" + e for e in sorted(dictionary.get(stem_ru(w), ())))
        else:
            out.extend(("t:" + skeleton(w), "e:" + stem_en(w)))
    return out


def case_terms(text: str) -> list[str]:
    """An English case's terms: both kinds, of every word."""
    return [t for w in words(text) for t in ("t:" + skeleton(w), "e:" + stem_en(w))]


class CrossLexicon:
    """Okapi BM25 (k1 1.2, b 0.75) of texts' :func:`terms` against the cases'.

    ``terms_of_case`` gives a case's terms (:func:`case_terms`; the bench tries others,
    ``bench/narrative_eval/acro.py``, and scores its own query terms with
    :meth:`term_scores`)."""

    def __init__(
        self,
        cases: Iterable[str],
        dictionary: Mapping[str, frozenset[str]],
        *,
        terms_of_case: Callable[[str], list[str]] = case_terms,
    ) -> None:
        self.dictionary = dictionary
        tfs = [Counter(terms_of_case(c)) for c in cases]
        self.size = len(tfs)
        lens = np.array([sum(c.values()) for c in tfs], dtype=np.float64)
        norm = 1.2 * (1 - 0.75 + 0.75 * lens / (lens.mean() if len(lens) else 1.0))
        hits: dict[str, tuple[list[int], list[int]]] = {}
        for i, c in enumerate(tfs):
            for t, f in c.items():
                rows, freqs = hits.setdefault(t, ([], []))
                rows.append(i)
                freqs.append(f)
        self._postings: dict[str, tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]] = {}
        for t, (rows, freqs) in hits.items():
            idf = math.log(1 + (self.size - len(rows) + 0.5) / (len(rows) + 0.5))
            at = np.array(rows, dtype=np.int64)
            tf = np.array(freqs, dtype=np.float64)
            self._postings[t] = (at, idf * tf * 2.2 / (tf + norm[at]))

    def scores(self, text: str, lang: str) -> npt.NDArray[np.float64]:
        """BM25 of the text's :func:`terms` against every case."""
        return self.term_scores(terms(text, lang, self.dictionary))

    def term_scores(self, query: Iterable[str]) -> npt.NDArray[np.float64]:
        """BM25 of a bag of terms against every case."""
        out = np.zeros(self.size, dtype=np.float64)
        for t in set(query):
            hit = self._postings.get(t)
            if hit is not None:
                out[hit[0]] += hit[1]
        return out

    def similarity(self, texts: Sequence[str], langs: Sequence[str]) -> npt.NDArray[np.float32]:
        """Per text, :meth:`scores` divided by its best case's (0..1; zeros when no term
        of the text is in any case)."""
        out = np.zeros((len(texts), self.size), dtype=np.float32)
        for i, (text, lang) in enumerate(zip(texts, langs, strict=True)):
            s = self.scores(text, lang)
            top = s.max() if len(s) else 0.0
            if top > 0:
                out[i] = s / top
        return out
