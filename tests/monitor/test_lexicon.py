"""The lexical bridge across scripts and the case ranking that uses it (issue 11)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from viche.errors import MonitorError
from viche.monitor import lexicon
from viche.monitor import narratives as nar


def test_same_concepts_in_three_scripts() -> None:
    en = lexicon.concepts("Zelensky asks NATO for weapons to shell Donbas")
    ru = lexicon.concepts("Зеленский просит НАТО об оружии для обстрелов Донбасса")
    uk = lexicon.concepts("Зеленський просить НАТО про зброю для обстрілів Донбасу")
    assert {"zelensky", "nato", "shelling", "donbas"} <= en
    assert en & {"zelensky", "nato", "shelling", "donbas"} == ru & en == uk & en
    # failure twin: an everyday sentence names none of them
    assert lexicon.concepts("Завтра в Киеве дождь") == frozenset({"ukraine"})
    assert lexicon.concepts("the cat sat on the mat") == frozenset()


def test_similarity_weights_rare_concepts() -> None:
    sets = [lexicon.concepts(t) for t in ("Soros funds protests", "Russia and Ukraine", "Russia")]
    weights = lexicon.idf(sets)
    rows = lexicon.weighted(sets, weights)
    sim = lexicon.similarity(["Сорос финансирует протесты в России"], rows, weights)[0]
    assert sim[0] > sim[1] >= 0.0
    assert np.allclose(np.linalg.norm(rows[rows.any(axis=1)], axis=1), 1.0)
    assert lexicon.similarity(["nothing here"], rows, weights).max() == 0.0


@given(st.text(max_size=200), st.text(max_size=200))
def test_similarity_bounded_and_symmetric(a: str, b: str) -> None:
    sets = [lexicon.concepts(a), lexicon.concepts(b), frozenset({"nato", "soros"})]
    weights = lexicon.idf(sets)
    rows = lexicon.weighted(sets, weights)
    sims = lexicon.similarity([a, b], rows[:2], weights)
    assert np.all(sims >= -1e-6) and np.all(sims <= 1 + 1e-6)
    assert sims[0, 1] == pytest.approx(sims[1, 0], abs=1e-6)


def _index() -> nar.CaseIndex:
    cases = [
        nar.KnownCase("https://c/0", "The EU is collapsing"),
        nar.KnownCase("https://c/1", "The Ukrainian army is shelling residential areas in Donbas"),
        nar.KnownCase("https://c/2", "NATO is preparing for war against Russia"),
    ]
    vectors = np.array([[1, 0, 0], [0.8, 0.6, 0], [0, 0, 1]], dtype=np.float32)
    return nar.CaseIndex(cases, vectors)


def test_nearest_lexical_bridge_chooses_among_cases_at_threshold() -> None:
    index = _index()
    row = np.array([[0.98, 0.199, 0]], dtype=np.float32)
    row /= np.linalg.norm(row)
    post = ["ЗСУ обстрілюють житлові квартали Донецька"]  # shelling, civilians, donbas, ukraine
    ((plain, cos0),) = index.nearest(row)
    assert plain.url == "https://c/0"  # cosine alone: the topic-free case
    ((bridged, cos1),) = index.nearest(row, post, threshold=0.85)
    assert bridged.url == "https://c/1"  # both reach 0.85; the lexicon picks the restatement
    assert cos1 == pytest.approx(float(row[0] @ index.vectors[1]))  # the cosine, not the score
    assert cos1 < cos0
    # failure twin: the calibrated gate keeps a case under the threshold out
    ((gated, _),) = index.nearest(row, post, threshold=0.99)
    assert gated.url == "https://c/0"
    # no case at the threshold: the best cosine, which the caller's threshold then rejects
    ((none, cos2),) = index.nearest(row, post, threshold=1.5)
    assert none.url == "https://c/0" and cos2 < 1.5
    sets = [lexicon.concepts(c.text()) for c in index.cases]
    weights = lexicon.idf(sets)
    lex = lexicon.similarity(post, lexicon.weighted(sets, weights), weights)[0]
    assert lex[1] > 0.5 and lex[0] == 0.0
    scores = index.scores(row, post)
    assert np.allclose(scores[0], row[0] @ index.vectors.T + nar.LEXICAL_WEIGHT * lex, atol=1e-6)
    assert np.array_equal(index.scores(row, post, weight=0.0), index.scores(row))


def test_scores_checks_lengths() -> None:
    with pytest.raises(MonitorError):
        _index().scores(np.zeros((2, 3), dtype=np.float32), ["one text"])
