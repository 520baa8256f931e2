"""The acronym table and the stricter, cognate-only word matching tried for the
cross-lexical channel (issue 11, acro11). They did not win on the claim set, so they live in
``bench/narrative_eval/acro.py`` (an option of the bench, not of the monitor): ``bench/`` is
not a package, so the module is loaded from its file."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from viche.monitor import crosslex, lexicon

BENCH = Path(__file__).resolve().parents[2] / "bench" / "narrative_eval"


def _load() -> ModuleType:
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location("narrative_eval_acro", BENCH / "acro.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


acro = _load()


@pytest.mark.parametrize(
    ("cyrillic", "english", "key"),
    [
        ("Санкции США", "US sanctions", "us"),
        ("санкции Вашингтона и США", "the United States", "us"),
        ("экономика РФ", "Russian Federation", "russia"),
        ("решение ЕС", "the EU decided", "eu"),
        ("рішення ЄС", "European Union", "eu"),
        ("Евросоюза", "the EU", "eu"),
        ("ВСУ обстреляли", "the Ukrainian army shells", "uaf"),
        ("ЗСУ", "Armed Forces of Ukraine", "uaf"),
        ("в ООН", "the UN", "un"),
        ("кредит МВФ", "IMF loan", "imf"),
        ("агенты ЦРУ", "CIA agents", "cia"),
        ("ФБР", "FBI", "fbi"),
        ("ВОЗ", "the WHO says", "who"),
        ("ВООЗ", "World Health Organization", "who"),
        ("миссия ОБСЕ", "OSCE mission", "osce"),
        ("місія ОБСЄ", "OSCE", "osce"),
        ("СБУ", "SBU", "sbu"),
        ("заявление МИДа", "the Foreign Ministry", "mfa"),
        ("МЗС України", "Ministry of Foreign Affairs", "mfa"),
        ("ПАСЕ", "PACE", "pace"),
        ("ПАРЄ", "PACE", "pace"),
        ("ДНР", "DPR", "dpr"),
        ("ЛНР", "LNR", "lpr"),
        ("ОЗХО", "OPCW", "opcw"),
        ("СССР", "the Soviet Union", "ussr"),
        ("боевики ИГИЛ", "ISIS", "isis"),
        ("Госдеп", "State Department", "state_department"),
    ],
)
def test_acronyms_meet_across_scripts(cyrillic: str, english: str, key: str) -> None:
    assert key in acro.acronyms(cyrillic)
    assert key in acro.acronyms(english)


def test_acronyms_need_capitals_where_they_are_words() -> None:
    # the pronouns "us" and "who", the Russian noun "воз" (a cart), a capitalised word
    # that only begins with an acronym: none is one
    assert acro.acronyms("who told us about the воз") == []
    assert acro.acronyms("ВОЗМОЖНО, ТАК") == []
    assert acro.acronyms("Возможно") == []
    assert "who" in acro.acronyms("Эксперты ВОЗ") and "us" in acro.acronyms("USA")


def test_every_acronym_compiles_and_has_both_sides() -> None:
    for key, (cyr, en) in acro.ACRONYMS.items():
        assert re.search(r"[А-ЯЁІЇЄҐа-яёіїєґ]", cyr), key
        assert not re.search(r"[А-ЯЁІЇЄҐа-яёіїєґ]", en), key
        re.compile(cyr)
        re.compile(en)


@pytest.mark.parametrize(
    ("word", "lang", "english", "same"),
    [
        ("Скрипаля", "ru", "Skripal", True),
        ("лаборатории", "ru", "laboratory", True),
        ("платформы", "ru", "platforms", True),
        ("Зеленський", "uk", "Zelenskyy", True),
        ("Януковича", "ru", "Yanukovych", True),
        ("Донецкой", "ru", "Donetsk", True),
        ("обстрелов", "ru", "obstruct", False),  # chance collisions of the bare skeleton
        ("стране", "ru", "strong", False),
        ("библиотек", "ru", "Baltic", False),
        ("контроль", "ru", "country", False),
    ],
)
def test_cognate_beyond_the_skeleton(word: str, lang: str, english: str, same: bool) -> None:
    mine = crosslex.latin(word, lang)
    assert crosslex.skeleton(mine) == crosslex.skeleton(english)  # the bare skeleton meets
    assert acro.cognate(acro.spelling(mine), acro.spelling(english)) is same


def test_cognate_needs_a_long_common_beginning() -> None:
    assert acro.cognate("nato", "nato")
    assert not acro.cognate("nat", "nat")  # shorter than COGNATE_PREFIX
    assert not acro.cognate("", "")


CASES = [
    "Ukraine obstructs the peace process",
    "The Ukrainian army shells Donbas",
    "The CIA runs the government in Kyiv",
    "Skripal was poisoned by the British",
]


def test_cognates_drop_chance_collisions() -> None:
    post = ["Обстрел Донбасса продолжается"]
    loose = acro.Variant(CASES, {}, cognates=False, acronym_keys=()).similarity(post, ["ru"])
    strict = acro.Variant(CASES, {}, cognates=True, acronym_keys=()).similarity(post, ["ru"])
    assert loose[0, 0] > 0  # "обстрел" meets "obstructs" by its skeleton
    assert strict[0, 0] == 0.0 and strict[0].argmax() == 1  # only "Донбасса" / "Donbas"
    # failure twin: a real cognate still meets
    skripal = acro.Variant(CASES, {}, cognates=True, acronym_keys=()).similarity(
        ["Отравление Скрипаля"], ["ru"]
    )
    assert skripal[0].argmax() == 3 and skripal[0, 3] == 1.0


def test_acronym_terms_rank_the_case() -> None:
    post = ["ЦРУ управляет Киевом"]
    without = acro.Variant(CASES, {}, cognates=False, acronym_keys=()).similarity(post, ["ru"])
    with_acr = acro.Variant(CASES, {}, cognates=False, acronym_keys=acro.ACRONYMS).similarity(
        post, ["ru"]
    )
    assert with_acr[0].argmax() == 2 and with_acr[0, 2] == 1.0
    assert without[0, 2] < 1.0  # "ЦРУ" has three letters: no term without the table
    terms = acro.query_terms("ВСУ и ЦРУ", "ru", {}, None, acro.ACRONYMS)
    assert terms == ["a:uaf", "a:cia"]
    assert acro.query_terms("ВСУ и ЦРУ", "ru", {}, None, ()) == []


@given(st.text(max_size=120), st.sampled_from(["ru", "uk", "en", ""]), st.booleans())
def test_similarity_bounded_in_every_mode(text: str, lang: str, cognates: bool) -> None:
    lex = acro.Variant(CASES, {}, cognates=cognates, acronym_keys=acro.ACRONYMS)
    sims = lex.similarity([text], [lang])
    assert sims.shape == (1, len(CASES))
    assert np.all(sims >= 0.0) and np.all(sims <= 1.0 + 1e-6)


@pytest.mark.parametrize(
    ("key", "example"),
    [("us", "США"), ("russia", "РФ"), ("eu", "ЕС"), ("uaf", "ВСУ"), ("dpr", "ДНР"),
     ("lpr", "ЛНР"), ("isis", "ИГИЛ")],
)  # fmt: skip
def test_in_lexicon_are_bridged_by_the_concept_lexicon(key: str, example: str) -> None:
    assert key in acro.IN_LEXICON and key in acro.acronyms(example)
    assert lexicon.concepts(example.lower())  # the concept lexicon carries it already
    assert key not in acro.BEYOND_LEXICON


def test_the_channel_without_options_is_the_monitors() -> None:
    """No cognates, no acronyms: the variant scores as the monitor's channel does."""
    posts = ["Обстрел Донбасса продолжается", "Отравление Скрипаля", "CIA in Kyiv"]
    mine = acro.Variant(CASES, {}, cognates=False, acronym_keys=()).similarity(posts, ["ru"] * 3)
    theirs = crosslex.CrossLexicon(CASES, {}).similarity(posts, ["ru"] * 3)
    np.testing.assert_allclose(mine, theirs)


def test_crosslex_takes_other_case_terms() -> None:
    lex = crosslex.CrossLexicon(CASES, {}, terms_of_case=lambda text: ["x:" + text.split()[1]])
    assert lex.term_scores(["x:CIA"]).nonzero()[0].tolist() == [2]
    assert lex.term_scores(["t:" + crosslex.skeleton("Skripal")]).max() == 0.0
