"""The cross-language lexical channel: transliteration, a dictd dictionary, BM25 (issue 11)."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from viche.errors import IngestError
from viche.monitor import crosslex
from viche.monitor import narratives as nar

_DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _b64(n: int) -> str:
    out = ""
    while True:
        out = _DIGITS[n % 64] + out
        n //= 64
        if not n:
            return out


def write_dictd(base: Path, entries: dict[str, str]) -> Path:
    """A small dictd English -> Russian dictionary in the format FreeDict ships."""
    body = b""
    index = []
    for head, translation in {"00-database-short": "test", **entries}.items():
        entry = f"{head} /x/\n{translation}\n".encode()
        index.append(f"{head}\t{_b64(len(body))}\t{_b64(len(entry))}")
        body += entry
    base.with_suffix(".index").write_text("\n".join(index) + "\n", encoding="utf-8")
    with gzip.open(base.with_suffix(".dict.dz"), "wb") as fh:
        fh.write(body)
    return base


@pytest.mark.parametrize(
    ("cyrillic", "lang", "english"),
    [
        ("Сорос", "ru", "Soros"),
        ("Скрипаля", "ru", "Skripal"),
        ("Зеленський", "uk", "Zelenskyy"),
        ("Зеленского", "ru", "Zelensky"),
        ("Януковича", "ru", "Yanukovych"),
        ("Навального", "ru", "Navalny"),
        ("Байден", "ru", "Biden"),
        ("Порошенко", "uk", "Poroshenko"),
        ("Клинтон", "ru", "Clinton"),
        ("Вашингтон", "ru", "Washington"),
        ("Донбасу", "uk", "Donbas"),
    ],
)
def test_names_meet_across_scripts(cyrillic: str, lang: str, english: str) -> None:
    assert crosslex.skeleton(crosslex.latin(cyrillic, lang)) == crosslex.skeleton(english)


def test_transliteration_tables_differ_by_language() -> None:
    assert crosslex.latin("Гройсман", "uk") == "hroisman"  # Ukrainian г is h, й is i
    assert crosslex.latin("Гройсман", "ru") == "groysman"
    # failure twin: different names keep different skeletons
    assert crosslex.skeleton("Soros") != crosslex.skeleton("Skripal")


def test_freedict_read_backwards_and_folds_ukrainian(tmp_path: Path) -> None:
    base = write_dictd(tmp_path / "d", {"army": "армия", "government": "1. правительство"})
    d = crosslex.read_freedict(base)
    assert d["армия"] == frozenset({"army"})
    assert d["прави"] == frozenset({"gover"})
    terms = crosslex.terms("Армія уряду", "uk", d)  # армія folds onto армия
    assert "e:army" in terms and "t:" + crosslex.skeleton("armiia") in terms
    assert not any(t.startswith("e:") for t in crosslex.terms("Армія уряду", "uk", {})[1:])


def test_load_dictionary_absent_and_broken(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("WARNING", logger="viche.monitor"):
        assert crosslex.load_dictionary(tmp_path / "none") == {}
    assert "dict-freedict-eng-rus" in caplog.text  # said, not silent
    (tmp_path / "bad.index").write_text("no tabs here\n", encoding="utf-8")
    with gzip.open(tmp_path / "bad.dict.dz", "wb") as fh:
        fh.write(b"x")
    with pytest.raises(IngestError):
        crosslex.load_dictionary(tmp_path / "bad")
    (tmp_path / "trunc.index").write_text("army\tA\tK\n", encoding="utf-8")
    (tmp_path / "trunc.dict.dz").write_bytes(b"not gzip")
    with pytest.raises(IngestError):
        crosslex.read_freedict(tmp_path / "trunc")


CASES = [
    "Soros controls the government of Ukraine",
    "The army of Ukraine shells Donbas",
    "Litvinenko was poisoned by the British",
]


def test_bm25_ranks_the_case_naming_the_entity() -> None:
    lex = crosslex.CrossLexicon(CASES, {})
    sims = lex.similarity(["Дело Литвиненко сфабриковано", "Сорос контролирует Киев"], ["ru"] * 2)
    assert sims.argmax(axis=1).tolist() == [2, 0]
    assert sims.max(axis=1).tolist() == [1.0, 1.0]
    # failure twin: a text sharing no term scores zero everywhere
    assert lex.similarity(["погода завтра"], ["ru"]).max() == 0.0


@given(st.text(max_size=120), st.sampled_from(["ru", "uk", "en", ""]))
def test_similarity_bounded(text: str, lang: str) -> None:
    sims = crosslex.CrossLexicon(CASES, {}).similarity([text], [lang])
    assert sims.shape == (1, len(CASES))
    assert np.all(sims >= 0.0) and np.all(sims <= 1.0 + 1e-6)


def test_case_index_adds_the_channel(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("VICHE_FREEDICT", str(write_dictd(tmp_path / "d", {"army": "армия"})))
    cases = [nar.KnownCase(f"https://c/{i}", t) for i, t in enumerate(CASES)]
    vectors = np.eye(3, dtype=np.float32)
    index = nar.CaseIndex(cases, vectors)
    row = np.full((1, 3), 3**-0.5, dtype=np.float32)  # equally close to every case
    post = ["Литвиненко был отравлен"]
    plain = index.scores(row, post, cross_weight=0.0)
    mixed = index.scores(row, post)
    assert plain[0, 2] == pytest.approx(plain[0, 0])  # the concept lexicon sees no difference
    assert mixed[0, 2] - plain[0, 2] == pytest.approx(nar.CROSS_LEXICAL_WEIGHT)
    ((case, cos),) = index.nearest(row, post, threshold=0.5)
    assert case.url == "https://c/2" and cos == pytest.approx(3**-0.5)
    assert index.cross_lexicon().dictionary == {"армия": frozenset({"army"})}
