"""Normalisation, shingles, MinHash and LSH."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from viche.monitor.minhash import (
    MinHasher,
    band_keys,
    connected_components,
    jaccard_estimate,
    lsh_clusters,
)
from viche.monitor.text import normalise, normalise_hashtag, normalise_url, shingle_hashes


def shingle_set(text: str, k: int = 5) -> set[str]:
    return {text[i : i + k] for i in range(len(text) - k + 1)}


def signatures(texts: list[str], num_perm: int = 128) -> np.ndarray:
    return MinHasher(num_perm, seed=3).signatures(shingle_hashes(texts, 5))


# -- normalisation ------------------------------------------------------------------------------
def test_normalise_removes_what_copy_paste_changes() -> None:
    a = normalise("RT @troll_1: BREAKING: Leaked memo https://t.co/AbC123 proves it! @someone")
    b = normalise("breaking leaked MEMO http://bit.ly/xyz proves it @other …")
    assert a == b == "breaking leaked memo u proves it"


def test_normalise_keeps_different_words_apart() -> None:
    assert normalise("The memo proves it") != normalise("The memo disproves it")


def test_normalise_works_across_scripts() -> None:
    assert normalise("ПРАВДА о выборах!!!") == "правда о выборах"
    assert normalise("Правда про вибори") != normalise("Правда о выборах")


@given(st.text(max_size=200))
@settings(max_examples=200, deadline=None)
def test_normalise_is_idempotent(text: str) -> None:
    once = normalise(text)
    assert normalise(once) == once


def test_normalise_url_merges_variants() -> None:
    variants = [
        "https://www.Example.com/news/story/?utm_source=tw#top",
        "http://example.com/news/story",
        "example.com/news/story/",
    ]
    assert {normalise_url(u) for u in variants} == {"example.com/news/story"}
    assert normalise_url("https://example.com/news/story?id=2") == "example.com/news/story?id=2"


def test_normalise_url_keeps_different_resources_apart() -> None:
    assert normalise_url("https://example.com/a") != normalise_url("https://example.com/b")
    assert normalise_url("https://example.com/?id=1") != normalise_url("https://example.com/?id=2")


def test_normalise_hashtag() -> None:
    assert normalise_hashtag("#ВыборыУкраины") == normalise_hashtag("выборыукраины")
    assert normalise_hashtag("#Vote") != normalise_hashtag("#Veto")


# -- shingles -----------------------------------------------------------------------------------
def test_shingles_match_python_reference() -> None:
    texts = ["abcdefg", "xxabcdeyy", "ab", "привіт світе"]
    batch = shingle_hashes(texts, 5)
    assert batch.counts.tolist() == [3, 5, 1, 8]
    per_text = [
        set(batch.hashes[s : s + c].tolist())
        for s, c in zip(batch.starts, batch.counts, strict=True)
    ]
    # equal 5-grams hash equally across texts ("abcde"), different ones differently
    assert len(per_text[0] & per_text[1]) == 1
    assert len(per_text[0]) == 3
    assert len(per_text[3]) == len(shingle_set("привіт світе"))


def test_shingles_of_different_texts_differ() -> None:
    batch = shingle_hashes(["election day", "holiday trip"], 5)
    a = set(batch.hashes[: batch.counts[0]].tolist())
    b = set(batch.hashes[batch.counts[0] :].tolist())
    assert not a & b


def test_shingles_reject_bad_k() -> None:
    with pytest.raises(ValueError, match="k must be"):
        shingle_hashes(["abc"], 0)


# -- MinHash ------------------------------------------------------------------------------------
def test_minhash_estimates_jaccard() -> None:
    base = "the quick brown fox jumps over the lazy dog near the river bank today"
    texts = [base, base.replace("lazy", "sleepy"), base[:40] + " and then something else entirely"]
    sig = signatures(texts, 256)
    for j in (1, 2):
        true = len(shingle_set(base) & shingle_set(texts[j])) / len(
            shingle_set(base) | shingle_set(texts[j])
        )
        est = float(jaccard_estimate(sig[0], sig[j]))
        assert abs(est - true) < 0.12, (j, est, true)


def test_minhash_identical_and_disjoint() -> None:
    sig = signatures(["same text here", "same text here", "совсем другое"])
    assert float(jaccard_estimate(sig[0], sig[1])) == 1.0
    assert float(jaccard_estimate(sig[0], sig[2])) < 0.05


def test_minhash_is_reproducible_by_seed() -> None:
    batch = shingle_hashes(["some text to hash"], 5)
    assert np.array_equal(MinHasher(16, 5).signatures(batch), MinHasher(16, 5).signatures(batch))
    assert not np.array_equal(
        MinHasher(16, 5).signatures(batch), MinHasher(16, 6).signatures(batch)
    )


def test_band_keys_need_a_divisible_signature() -> None:
    sig = signatures(["abcdefgh"], 32)
    assert band_keys(sig, 8).shape == (1, 8)
    with pytest.raises(ValueError, match="bands"):
        band_keys(sig, 5)


# -- clustering ---------------------------------------------------------------------------------
def test_lsh_clusters_near_duplicates_across_scripts() -> None:
    texts = [
        normalise("Витік: ЦВК готує фальсифікацію виборів у трьох областях https://t.co/a1"),
        normalise("ВИТІК: ЦВК готує фальсифікацію виборів у трьох областях!! https://t.co/b2"),
        normalise("RT @x: Витік: ЦВК готує фальсифікацію виборів у трьох областях"),
        normalise("Утечка: ЦИК готовит фальсификацию выборов в трёх областях https://t.co/c3"),
        normalise("Утечка: ЦИК готовит фальсификацию выборов в трех областях"),
        normalise("Leak: election commission prepares fraud in three regions https://t.co/d4"),
        normalise("The weather in Lviv is lovely this weekend, see you at the market"),
    ]
    labels = lsh_clusters(signatures(texts, 32), bands=8, threshold=0.7)
    assert labels[0] == labels[1] == labels[2]
    assert labels[3] == labels[4]
    assert len({labels[0], labels[3], labels[5], labels[6]}) == 4


def test_lsh_clusters_keep_unrelated_texts_apart() -> None:
    texts = [f"message number {i} about topic {i * 7919 % 1000}" for i in range(50)]
    labels = lsh_clusters(signatures(texts, 32), bands=8, threshold=0.9)
    assert len(set(labels.tolist())) == 50


@given(
    st.integers(min_value=1, max_value=40).flatmap(
        lambda n: st.tuples(
            st.just(n),
            st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=60),
        )
    )
)
@settings(max_examples=100, deadline=None)
def test_connected_components_match_networkx(case: tuple[int, list[tuple[int, int]]]) -> None:
    n, edges = case
    u = np.array([e[0] for e in edges], dtype=np.int64)
    v = np.array([e[1] for e in edges], dtype=np.int64)
    labels = connected_components(n, u, v)
    graph: nx.Graph[int] = nx.Graph()
    graph.add_nodes_from(range(n))
    graph.add_edges_from(edges)
    for comp in nx.connected_components(graph):
        assert {int(labels[i]) for i in comp} == {min(comp)}
