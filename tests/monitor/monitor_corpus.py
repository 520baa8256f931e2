"""Sentences for the model tests: three claims restated in English, Ukrainian and Russian,
and unrelated sentences in the same languages. Written for these tests. Also
:class:`FakeEmbedder`, a stand-in for the model in unit tests."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence

import numpy as np
import pytest

from viche.monitor import embed

CLAIMS: dict[str, list[tuple[str, str]]] = {
    "cancel": [
        ("en", "Ukraine's president plans to cancel the elections"),
        ("en", "Zelensky wants to call off the presidential election and stay in power"),
        ("en", "The Ukrainian leader is preparing to scrap the vote"),
        ("en", "Kyiv's president intends to cancel the upcoming elections"),
        ("uk", "Президент України планує скасувати вибори"),
        ("uk", "Зеленський хоче скасувати президентські вибори і залишитися при владі"),
        ("ru", "Президент Украины планирует отменить выборы"),
        ("ru", "Зеленский хочет отменить президентские выборы и остаться у власти"),
    ],
    "biolabs": [
        ("en", "Biolabs in Ukraine are developing weapons for the Pentagon"),
        ("en", "Secret American laboratories in Ukraine make biological weapons"),
        ("en", "The Pentagon runs bioweapon labs across Ukraine"),
        ("en", "US military biolabs in Ukraine are producing dangerous pathogens as weapons"),
        ("uk", "Біолабораторії в Україні розробляють зброю для Пентагону"),
        ("uk", "Секретні американські лабораторії в Україні створюють біологічну зброю"),
        ("ru", "Биолаборатории на Украине разрабатывают оружие для Пентагона"),
        ("ru", "Секретные американские лаборатории на Украине создают биологическое оружие"),
    ],
    "ballots": [
        ("en", "Thousands of ballots were counted twice in the capital"),
        ("en", "Votes in the capital were counted two times, officials admit"),
        ("en", "Election officials in the capital double-counted thousands of ballots"),
        ("en", "In the capital many ballots were counted twice to change the result"),
        ("uk", "У столиці тисячі бюлетенів порахували двічі"),
        ("uk", "Голоси в столиці рахували двічі, щоб змінити результат"),
        ("ru", "В столице тысячи бюллетеней посчитали дважды"),
        ("ru", "Голоса в столице считали дважды, чтобы изменить результат"),
    ],
}

UNRELATED: list[tuple[str, str]] = [
    ("en", "The weather in Lisbon will be sunny tomorrow"),
    ("en", "A new recipe for mushroom soup with cream"),
    ("en", "The football team won the championship final"),
    ("uk", "Завтра в Лісабоні буде сонячна погода"),
    ("uk", "Новий рецепт грибного супу з вершками"),
    ("ru", "Футбольная команда выиграла финал чемпионата"),
    ("ru", "Мой кот спит на тёплом подоконнике весь день"),
]

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


class FakeEmbedder:
    """Vectors shaped like e5's, from a table ``text -> claim`` instead of a model.

    Every vector shares one common direction (e5 scores unrelated texts ~0.75); texts of the
    same claim share a claim direction on top of it (~0.95 between them); the rest of each
    vector is noise seeded by the text, so a text always gets the same vector. Texts not
    in the table are unrelated to everything.
    """

    name = "fake-e5"

    def __init__(self, claims: Mapping[str, str], *, dim: int = 384) -> None:
        self.claims = dict(claims)
        self.dim = dim
        self.calls = 0

    def _direction(self, key: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")
        v = np.random.default_rng(seed).standard_normal(self.dim)
        return v / np.linalg.norm(v)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        common = self._direction("common")
        rows = []
        for t in texts:
            claim = self.claims.get(t)
            v = 0.87 * common + 0.2 * self._direction("text:" + t)
            own = "claim:" + claim if claim else "own:" + t
            v = v + 0.45 * self._direction(own)
            rows.append(v / np.linalg.norm(v))
        return np.asarray(rows, dtype=np.float32).reshape(len(texts), self.dim)


def fake_embedder() -> FakeEmbedder:
    """The fake, knowing the claims of :data:`CLAIMS`."""
    return FakeEmbedder({text: claim for claim, items in CLAIMS.items() for _, text in items})


def real_embedder() -> embed.E5Embedder:
    """The real model; absent extra: a failure in CI (the test command installs it), else a skip."""
    if not embed.is_available():
        msg = "the 'embed' extra is not installed: " + embed.INSTALL_HINT
        if IN_CI:
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)
    return embed.load_embedder()
