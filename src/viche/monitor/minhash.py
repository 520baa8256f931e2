"""MinHash signatures and locality-sensitive hashing (LSH), vectorised with numpy.

A text's signature is, for each of ``num_perm`` hash functions ``h_i``, the minimum of
``h_i`` over the text's shingle hashes; two texts agree at one position with probability
equal to the Jaccard similarity of their shingle sets. The hash functions are the
multiply-shift family ``h_i(x) = (a_i * x + b_i) mod 2**64 >> 32`` with odd ``a_i``
(Dietzfelbinger et al.), drawn from a seeded generator so signatures are reproducible and
can be stored and compared across runs.

LSH cuts each signature into ``bands`` bands of ``rows`` values; texts that agree on a
whole band become candidates, which a pair of texts with similarity ``s`` does with
probability ``1 - (1 - s**rows)**bands``. Candidates are verified on the full signature
and joined into clusters (connected components).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from viche.monitor.text import ShingleBatch

U64 = npt.NDArray[np.uint64]
U32 = npt.NDArray[np.uint32]
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class MinHasher:
    """``num_perm`` multiply-shift hash functions drawn from ``seed``."""

    num_perm: int = 32
    seed: int = 1

    def params(self) -> tuple[U64, U64]:
        gen = np.random.default_rng(self.seed)
        a = gen.integers(0, 2**63, size=self.num_perm, dtype=np.uint64) * np.uint64(2) + np.uint64(
            1
        )
        b = gen.integers(0, 2**63, size=self.num_perm, dtype=np.uint64)
        return a, b

    def signatures(self, batch: ShingleBatch) -> U32:
        """One row of ``num_perm`` uint32 values per text of the batch."""
        n = batch.counts.size
        out = np.empty((n, self.num_perm), dtype=np.uint32)
        if n == 0:
            return out
        if np.any(batch.counts < 1):
            raise ValueError("every text needs at least one shingle")
        a, b = self.params()
        shift = np.uint64(32)
        with np.errstate(over="ignore"):
            for i in range(self.num_perm):
                v = batch.hashes * a[i] + b[i]
                out[:, i] = (np.minimum.reduceat(v, batch.starts) >> shift).astype(np.uint32)
        return out


def jaccard_estimate(sig_a: U32, sig_b: U32) -> npt.NDArray[np.float64]:
    """Estimated Jaccard similarity of paired rows (fraction of equal positions)."""
    equal: npt.NDArray[np.float64] = np.mean(sig_a == sig_b, axis=-1, dtype=np.float64)
    return equal


def band_keys(signatures: U32, bands: int) -> U64:
    """One 64-bit key per text and band: ``(n, bands)``; equal bands give equal keys."""
    n, num_perm = signatures.shape
    if bands < 1 or num_perm % bands:
        raise ValueError(f"{num_perm} signature values cannot be cut into {bands} bands")
    rows = num_perm // bands
    s = signatures.reshape(n, bands, rows).astype(np.uint64)
    key = np.zeros((n, bands), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for r in range(rows):
            key = (key ^ s[:, :, r]) * np.uint64(0x100000001B3) + np.uint64(r + 1)
        key ^= np.arange(bands, dtype=np.uint64)[None, :] * np.uint64(0x9E3779B97F4A7C15)
    return key


def connected_components(n: int, u: I64, v: I64) -> I64:
    """Component label (the smallest member index) of each of ``n`` nodes, given edges."""
    labels = np.arange(n, dtype=np.int64)
    if u.size == 0:
        return labels
    while True:
        lu = labels[u]
        lv = labels[v]
        diff = lu != lv
        if not diff.any():
            return labels
        lo = np.minimum(lu[diff], lv[diff])
        hi = np.maximum(lu[diff], lv[diff])
        np.minimum.at(labels, hi, lo)
        while True:
            nxt = labels[labels]
            if np.array_equal(nxt, labels):
                break
            labels = nxt


def lsh_clusters(signatures: U32, bands: int, threshold: float) -> I64:
    """Cluster label of each text: texts linked by LSH candidates with estimated Jaccard
    similarity at least ``threshold`` share a label (the smallest index in the cluster).

    Each band bucket links its members to the bucket's first member (a star, not all
    pairs), so a bucket of any size costs time linear in its size.
    """
    n = signatures.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    keys = band_keys(signatures, bands)
    us: list[I64] = []
    vs: list[I64] = []
    for band in range(bands):
        k = keys[:, band]
        order = np.argsort(k, kind="stable")
        ks = k[order]
        new_group = np.ones(n, dtype=bool)
        new_group[1:] = ks[1:] != ks[:-1]
        leader_pos = np.maximum.accumulate(np.where(new_group, np.arange(n), 0))
        leaders = order[leader_pos]
        members = order
        link = leaders != members
        if not link.any():
            continue
        a = members[link]
        b = leaders[link]
        ok = jaccard_estimate(signatures[a], signatures[b]) >= threshold
        us.append(a[ok].astype(np.int64))
        vs.append(b[ok].astype(np.int64))
    if not us:
        return np.arange(n, dtype=np.int64)
    return connected_components(n, np.concatenate(us), np.concatenate(vs))
