"""Narratives: clustering by meaning and matching to known EUvsDisinfo cases."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from monitor_corpus import CLAIMS, UNRELATED, fake_embedder, real_embedder
from monitor_synthetic import campaign_from, result_of

from viche.errors import IngestError, MissingFileError, MonitorError
from viche.monitor import embed
from viche.monitor import narratives as nar
from viche.monitor.embed import E5Embedder
from viche.monitor.model import Post

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _posts() -> list[Post]:
    out = []
    items = [(k, lang, t) for k, v in CLAIMS.items() for lang, t in v]
    items += [(f"u{i}", lang, t) for i, (lang, t) in enumerate(UNRELATED)]
    for i, (claim, lang, text) in enumerate(items):
        out.append(Post(f"{claim}-{i}", f"acc{i % 5}", T0 + timedelta(minutes=i), text, lang=lang))
    return out


@pytest.fixture(scope="module")
def model() -> E5Embedder:
    return real_embedder()


@pytest.fixture(scope="module")
def cases_csv(shared_dir: Path) -> Path:
    return shared_dir / "data" / "influence" / "euvsdisinfo" / "cases.csv"


# -- the algorithm, on vectors made by hand ------------------------------------------------------
def _unit(rows: list[list[float]]) -> np.ndarray:
    v = np.asarray(rows, dtype=np.float32)
    unit: np.ndarray = v / np.linalg.norm(v, axis=1, keepdims=True)
    return unit


def test_cluster_groups_near_vectors_and_leaves_loners() -> None:
    v = _unit([[1, 0.1, 0], [1, 0, 0.1], [1, 0.05, 0.05], [0, 1, 0], [0, 1, 0.1], [0, 0, 1]])
    found = nar.cluster(v, ["en"] * 6)
    assert sorted(c.members for c in found) == [(0, 1, 2), (3, 4)]
    big = next(c for c in found if len(c.members) == 3)
    assert big.medoid == 2  # the most central one
    assert np.isclose(np.linalg.norm(big.centroid), 1.0)


def test_cluster_links_across_languages_unless_told_otherwise() -> None:
    v = _unit([[1, 0, 0], [1, 0, 0], [1, 0, 0], [1, 0, 0]])
    found = nar.cluster(v, ["en", "en", "uk", "ru"])
    assert [c.members for c in found] == [(0, 1, 2, 3)]  # one multilingual space
    # failure twin: a table without cross-group pairs keeps the groups apart
    apart = {("en", "en"): 0.9, ("uk", "uk"): 0.9}
    found = nar.cluster(v, ["en", "en", "uk", "uk"], thresholds=apart)
    assert sorted(c.members for c in found) == [(0, 1), (2, 3)]
    w = _unit([[1, 0.75, 0], [1, -0.0, 0]])  # 0.8 apart: below the calibrated thresholds
    assert not nar.cluster(w, ["en", "en"])
    assert not nar.cluster(w, ["en", "ru"])
    # between the two thresholds: links across languages, not within one
    x = np.float32(np.sqrt(1 - 0.88**2))
    u = np.array([[1, 0, 0], [0.88, x, 0]], dtype=np.float32)
    assert nar.cluster(u, ["en", "ru"]) and not nar.cluster(u, ["ru", "ru"])
    with pytest.raises(MonitorError):
        nar.cluster(v, ["en"])


def test_fake_model_one_narrative_per_claim_in_every_language() -> None:
    """With the stand-in model: each claim's en / uk / ru posts form one narrative, the
    unrelated posts none (the real model is tested the same way below)."""
    posts = _posts()
    found = nar.find_narratives(posts, fake_embedder())
    claim_of = {p.id: p.id.split("-")[0] for p in posts}
    assert sorted(claim_of[n.post_ids[0]] for n in found) == sorted(CLAIMS)
    for n in found:
        assert {claim_of[i] for i in n.post_ids} == {claim_of[n.post_ids[0]]}
        assert set(n.languages) == {"en", "uk", "ru"}
        assert len(n.post_ids) == len(CLAIMS[claim_of[n.post_ids[0]]])


def test_fake_model_unrelated_posts_make_no_narrative() -> None:
    posts = [p for p in _posts() if p.id.startswith("u")]
    assert nar.find_narratives(posts, fake_embedder()) == ()


def test_language_group() -> None:
    assert nar.language_group("The president met the ministers", "en-GB") == "en"
    assert nar.language_group("whatever", "Russian") == "ru"
    assert nar.language_group("Mit den Jahren wurde Merkel klüger", "German") == "other"
    assert nar.language_group("Президент планує скасувати вибори") == "uk"
    assert nar.language_group("Президент планирует отменить выборы") == "ru"
    assert nar.language_group("The president plans to cancel") == "en"
    assert nar.language_group("!!!") == "other"


def _hub_and_spokes(cos: float, spokes: int = 6) -> np.ndarray:
    """A hub (first row) at cosine ``cos`` from each spoke; two spokes at ``cos**2``."""
    rows = [[1.0] + [0.0] * spokes]
    for k in range(spokes):
        rows.append([cos] + [math.sqrt(1 - cos * cos) if j == k else 0.0 for j in range(spokes)])
    return _unit(rows)


def test_a_hub_does_not_make_a_narrative_of_texts_unlike_each_other() -> None:
    # each spoke is the hub's neighbour (0.92 >= SAME_LANGUAGE) but two spokes are not
    # (0.846): the hub's neighbourhood is not one claim
    assert 0.92**2 < nar.SAME_LANGUAGE <= 0.92
    assert nar.cluster(_hub_and_spokes(0.92), ["en"] * 7) == []
    # failure twin: spokes close to each other too (0.97**2 = 0.94) make one narrative
    (one,) = nar.cluster(_hub_and_spokes(0.97), ["en"] * 7)
    assert one.members == tuple(range(7))
    # copies count once: a text and its copies are one claim
    copies = np.repeat(_hub_and_spokes(0.92)[:2], 5, axis=0)
    (two,) = nar.cluster(copies, ["en"] * 10)
    assert len(two.members) == 10


def test_cluster_empty_and_min_size() -> None:
    assert nar.cluster(np.zeros((0, 3), dtype=np.float32), []) == []
    v = _unit([[1, 0, 0], [1, 0.01, 0]])
    assert len(nar.cluster(v, ["en", "en"], min_size=2)) == 1
    assert nar.cluster(v, ["en", "en"], min_size=3) == []


def test_narrative_id_is_stable() -> None:
    assert nar.narrative_id(["b", "a"]) == nar.narrative_id(["a", "b"])
    assert nar.narrative_id(["a"]) != nar.narrative_id(["a", "b"])


# -- the real model on a few dozen sentences ------------------------------------------------
def test_narratives_keep_to_one_claim(model: E5Embedder) -> None:
    posts = _posts()
    found = nar.find_narratives(posts, model)
    claim_of = {p.id: p.id.split("-")[0] for p in posts}
    assert found
    for n in found:
        claims = {claim_of[i] for i in n.post_ids}
        if all(c.startswith("u") for c in claims):
            continue  # a translation pair of the unrelated sentences (see the next test)
        assert len(claims) == 1, n  # purity: one claim per narrative
        assert not any(c.startswith("u") for c in claims)  # unrelated left out
    for claim in CLAIMS:
        ids = {p.id for p in posts if claim_of[p.id] == claim}
        best = max(found, key=lambda n: len(ids & set(n.post_ids)))
        assert len(ids & set(best.post_ids)) >= 6, claim  # most restatements found together
        assert set(best.languages) == {"en", "uk", "ru"}, claim  # across the three languages
    assert all(n.languages for n in found) and all(len(n.label) <= nar.LABEL_CHARS for n in found)


def test_unrelated_posts_make_no_narrative(model: E5Embedder) -> None:
    """UNRELATED holds three translation pairs (Lisbon weather en/uk, mushroom soup en/uk,
    the football final en/ru): the multilingual model may pair those, nothing else."""
    posts = [p for p in _posts() if p.id.startswith("u")]
    text = {p.id: p.text for p in posts}
    pairs = [{"Lisbon", "Лісабоні"}, {"mushroom", "грибного"}, {"football", "Футбольная"}]
    for n in nar.find_narratives(posts, model):
        words = {w for i in n.post_ids for w in text[i].split()}
        assert len(n.post_ids) == 2 and any(pair <= words for pair in pairs), n
    assert nar.find_narratives([], model) == ()


def test_match_to_known_cases(model: E5Embedder, cases_csv: Path, tmp_path: Path) -> None:
    cases = nar.load_cases(
        cases_csv, keywords=["biological weapons", "Manipulated elections/referendum"]
    )
    assert all(
        {"Biological weapons", "Manipulated elections/referendum"} & set(c.keywords) for c in cases
    )
    assert 100 < len(cases) < 400
    index = nar.CaseIndex.build(cases, model, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("case-vectors-*.npz"))) == 1
    again = nar.CaseIndex.build(cases, model, cache_dir=tmp_path)  # from the cache
    assert np.array_equal(again.vectors, index.vectors)
    found = nar.find_narratives(_posts(), model, cases=index)
    by_claim = {n.post_ids[0].split("-")[0]: n for n in found}
    bio = by_claim["biolabs"]
    assert any(w in bio.known_case for w in ("biolab", "laborator", "biological"))
    assert bio.known_case_similarity >= nar.MATCH_THRESHOLD
    assert bio.known_case_title in {c.title for c in cases if c.url == bio.known_case}
    # failure twin: with only unrelated cases, nothing matches
    navalny = nar.load_cases(cases_csv, keywords=["Alexei Navalny"], limit=60)
    far = nar.find_narratives(_posts(), model, cases=nar.CaseIndex.build(navalny, model))
    assert all(n.known_case == n.known_case_title == "" for n in far)
    assert all(n.known_case_similarity == 0.0 for n in far)


def test_attach_narratives_to_campaigns(model: E5Embedder) -> None:
    posts = _posts()
    bio = [p for p in posts if p.id.startswith("biolabs") and p.lang == "en"]
    ballots = [p for p in posts if p.id.startswith("ballots") and p.lang == "en"]
    result = result_of([campaign_from("c-1", bio), campaign_from("c-2", ballots)])
    out = nar.attach_narratives(result, {p.id: p for p in posts}, model)
    c1, c2 = out.campaigns
    assert c1.narratives and c2.narratives
    assert set(c1.narratives[0].post_ids) <= {p.id for p in bio}
    assert set(c2.narratives[0].post_ids) <= {p.id for p in ballots}
    assert out.stats["narratives"] == 2.0
    capped = nar.attach_narratives(result, {p.id: p for p in posts}, model, max_posts=2)
    assert capped.stats["narrative_posts_embedded"] == 8.0  # 20 per campaign at least: all 4+4
    assert nar.candidate_posts(c1) == nar.candidate_posts(result.campaigns[0])


def test_load_cases(cases_csv: Path, tmp_path: Path) -> None:
    all_cases = nar.load_cases(cases_csv)
    assert len(all_cases) > 10_000
    first = all_cases[0]
    assert first.url.startswith("https://euvsdisinfo.eu/report/") and first.title
    assert "+" not in "".join(first.keywords)
    assert first.text().startswith(first.title)
    recent = nar.load_cases(cases_csv, since="2021-01-01")
    assert recent and all(c.date >= "2021-01-01" for c in recent)
    assert len(nar.load_cases(cases_csv, limit=5)) == 5


def test_load_cases_failures(tmp_path: Path) -> None:
    with pytest.raises(MissingFileError):
        nar.load_cases(tmp_path / "absent.csv")
    with pytest.raises(MonitorError):
        nar.load_cases(tmp_path / "absent.csv", since="2020")
    bad = tmp_path / "bad.csv"
    bad.write_text("date,id,title\n2020-01-01,x,y\n")
    with pytest.raises(IngestError):
        nar.load_cases(bad)
    empty_title = tmp_path / "t.csv"
    empty_title.write_text(
        "date,id,title,countries,keywords,languages,outlets\n2020-01-01,https://x,,,,,\n"
    )
    with pytest.raises(IngestError) as info:
        nar.load_cases(empty_title)
    assert str(info.value.where).endswith("line 2")


def test_case_index_checks() -> None:
    case = nar.KnownCase("https://x", "t")
    with pytest.raises(MonitorError):
        nar.CaseIndex([case], np.zeros((2, 3), dtype=np.float32))
    with pytest.raises(MonitorError):
        nar.CaseIndex([], np.zeros((0, 3), dtype=np.float32)).nearest(
            np.zeros((1, 3), dtype=np.float32)
        )


def test_candidates_spread_over_each_account() -> None:
    posts = [Post(f"x{i}", "bot1", T0 + timedelta(hours=i), f"text {i}") for i in range(10)] + [
        Post("y", "someone", T0, "not a member"),
        Post("z", "bot2", T0, "   "),
    ]
    camp = campaign_from("c", [posts[0], Post("w", "bot2", T0, "hello there")])
    by_id = {p.id: p for p in posts}
    assert set(nar.candidate_posts(camp)) == {"x0", "w"}  # evidence only
    spread = nar.candidate_posts(camp, by_id, per_account=4)
    assert [i for i in spread if i.startswith("x")][1:] == ["x2", "x5", "x7"]
    assert "y" not in spread and "z" not in spread  # not a member; no text
    assert len(nar.candidate_posts(camp, by_id, per_account=100)) == 11


def test_even_sample() -> None:
    ids = [str(i) for i in range(10)]
    assert nar._even_sample(ids, 5) == ("0", "2", "4", "6", "8")
    assert nar._even_sample(ids, 20) == tuple(ids)


def test_claim_text_drops_links_and_mentions() -> None:
    text = "RT @someone: BREAKING #Biolabs in Ukraine https://t.co/AbC123 www.x.example/a?b=1"
    assert nar.claim_text(text) == "BREAKING Biolabs in Ukraine"
    assert nar.claim_text("mail me at a@b.org") == "mail me at a@b.org"


def test_claim_text_drops_telegram_markup() -> None:
    post = (
        "⚡️**ВВС Израиля нанесли удары по шести зданиям в Бейруте**, — СМИ."
        " [👉 Топор Live. Подписаться](https://t.me/topor)"
    )
    assert nar.claim_text(post) == "ВВС Израиля нанесли удары по шести зданиям в Бейруте , — СМИ."
    digest = "📑Сценарии конца войны [по версии]( России, __Украины__ и ~~США~~ `code`"
    assert nar.claim_text(digest) == "Сценарии конца войны по версии России, Украины и США code"
    assert nar.claim_text("[Підписатися на канал](") == ""
    # words, numbers and currency signs stay
    assert nar.claim_text("snake_case costs €5, 2+2=4") == "snake_case costs €5, 2+2=4"


def test_links_do_not_make_headlines_alike(model: E5Embedder) -> None:
    headlines = [
        "Clinton may testify to the Benghazi committee in October",
        "Cute kid who wants to look like the president breaks the internet",
        "Texas takes a step forward in its abortion law",
        "Chelsea Handler diagnoses the president with a disease",
    ]
    posts = [
        Post(f"h{i}", f"acc{i}", T0, f"#news {h} https://t.co/Xy{i}Zq{i} https://t.co/Pq{i}")
        for i, h in enumerate(headlines)
    ]
    assert nar.find_narratives(posts, model) == ()
    # failure twin: the same headline with different links is one narrative
    same = [Post(f"s{i}", f"acc{i}", T0, f"{headlines[0]} https://t.co/Q{i}") for i in range(3)]
    (n,) = nar.find_narratives(same, model)
    assert set(n.post_ids) == {"s0", "s1", "s2"}


# -- embedding only what matters -----------------------------------------------------------------
class _Counting:
    """Counts the texts the fake model is asked to embed."""

    def __init__(self) -> None:
        self.inner = fake_embedder()
        self.name = self.inner.name
        self.texts: list[str] = []

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.texts.extend(texts)
        return self.inner.encode(texts)


def test_representatives_join_copies_and_near_copies_only() -> None:
    claim = (
        "Kyiv hides the real losses of its army: sources in the ministry say the official"
        " figures are ten times lower than the truth, and the families are not told"
    )
    texts = [
        claim,
        f"RT @someone: {claim}!!",
        f"{claim.upper()} https://t.co/x",
        claim.replace("the truth", "truth"),
        "The weather in Lviv will be sunny and warm for the whole of next week, forecasters say",
    ]
    rep = nar.representatives(texts)
    assert rep.tolist()[:3] == [0, 0, 0]  # the same text once normalised
    assert rep[3] == 0  # one word dropped: a near copy
    assert rep[4] == 4
    assert nar.representatives([]).size == 0
    assert nar.representatives(texts, similarity=1.0).tolist() == [0, 0, 0, 3, 4]


def test_find_narratives_embeds_each_text_once() -> None:
    base = _posts()
    copies = [
        Post(f"copy-{i}-{p.id}", f"bot{i}", p.created_at, p.text, lang=p.lang)
        for i in range(3)
        for p in base
    ]
    counted = _Counting()
    expected = nar.find_narratives(base, fake_embedder())
    found = nar.find_narratives(base + copies, counted)
    assert len(counted.texts) == len(set(counted.texts)) == len(base)
    # each claim's narrative takes in the copies of its posts; each unrelated text and its
    # three copies make a narrative of 4
    by_label = {n.label: len(n.post_ids) for n in found}
    for n in expected:
        assert by_label.pop(n.label) == 4 * len(n.post_ids)
    assert sorted(by_label.values()) == [4] * len(UNRELATED)


def test_attach_narratives_reports_distinct_texts() -> None:
    posts = [replace(p, author="a") for p in _posts() if p.id.startswith("biolabs")]
    copies = [replace(p, id=f"copy-{p.id}", author="b") for p in posts]
    result = result_of([campaign_from("c-1", posts + copies)])
    out = nar.attach_narratives(result, {p.id: p for p in posts + copies}, fake_embedder())
    assert out.stats["narrative_posts_embedded"] == 2 * len(posts)
    assert out.stats["narrative_texts_embedded"] == len(posts)
    assert len(out.campaigns[0].narratives[0].post_ids) == 2 * len(posts)


def test_cached_embedder_embeds_a_text_once() -> None:
    counted = _Counting()
    cached = embed.CachedEmbedder(counted, max_items=3)
    first = cached.encode(["a b c", "d e f", "a b c"])
    assert counted.texts == ["a b c", "d e f"]
    assert np.array_equal(first[0], first[2])
    again = cached.encode(["d e f", "g h i"])
    assert counted.texts == ["a b c", "d e f", "g h i"]
    assert np.array_equal(again[0], first[1])
    assert (cached.hits, cached.misses, len(cached)) == (2, 3, 3)
    cached.encode(["j k l"])  # over max_items: the oldest ("a b c") is dropped
    assert len(cached) == 3
    cached.encode(["a b c"])
    assert counted.texts[-1] == "a b c" and cached.misses == 5
    assert cached.encode([]).shape == (0, embed.DIMENSION)
    assert cached.name == counted.name


def test_claim_sentences() -> None:
    text = (
        "Зеленский признал поражение. Об этом пишет «Страна».\n\n"
        "Подписывайтесь на @topor https://t.me/topor"
    )
    # the tail without words of its own (a mention and a link) is dropped
    assert nar.claim_sentences(text) == ["Зеленский признал поражение.", "Об этом пишет «Страна»."]
    said = "Он сказал: «Это конец!» Дальше было хуже, намного хуже. Kyiv says it won."
    assert nar.claim_sentences(said) == [
        "Он сказал: «Это конец!»",
        "Дальше было хуже, намного хуже.",
        "Kyiv says it won.",
    ]
    assert nar.claim_sentences(said, limit=1) == ["Он сказал: «Это конец!»"]
    assert nar.claim_sentences("") == []


def test_case_cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VICHE_CACHE", str(tmp_path / "shared"))
    assert nar.case_cache_dir(tmp_path / "store") == tmp_path / "shared"
    monkeypatch.delenv("VICHE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert nar.case_cache_dir(tmp_path / "store") == tmp_path / "xdg" / "viche"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/not/allowed")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert nar.case_cache_dir(tmp_path / "store") == tmp_path / "home" / ".cache" / "viche"


class _CaseModel:
    """A model that counts the texts it embeds (each text its own random direction)."""

    name = "counting-test-model"

    def __init__(self) -> None:
        self.texts: list[str] = []

    def encode(self, texts: Sequence[str]) -> embed.Vectors:
        self.texts += texts
        if not texts:
            return np.zeros((0, embed.DIMENSION), np.float32)
        seeds = [int.from_bytes(hashlib.sha256(t.encode()).digest()[:8], "big") for t in texts]
        return _unit([list(np.random.default_rng(s).normal(size=embed.DIMENSION)) for s in seeds])


def _case(n: int, title: str = "") -> nar.KnownCase:
    return nar.KnownCase(url=f"https://euvsdisinfo.test/{n}", title=title or f"claim number {n}")


def test_case_vectors_are_cached_per_case(tmp_path: Path) -> None:
    model = _CaseModel()
    first = nar.CaseIndex.build([_case(i) for i in range(5)], model, cache_dir=tmp_path)
    assert len(model.texts) == 5
    # a newer list: two new cases, one changed title, one dropped: only three are embedded
    newer = [_case(i) for i in range(1, 4)] + [_case(4, "claim four, corrected")]
    newer += [_case(i) for i in (5, 6)]
    done: list[tuple[int, int]] = []
    index = nar.CaseIndex.build(
        newer, model, cache_dir=tmp_path, on_progress=lambda d, t: done.append((d, t))
    )
    assert model.texts[5:] == ["claim four, corrected", "claim number 5", "claim number 6"]
    assert done == [(3, 3)]
    assert np.array_equal(index.vectors[:3], first.vectors[1:4])
    # the old list again: nothing to embed (the cache keeps the other list's vectors)
    again = nar.CaseIndex.build([_case(i) for i in range(5)], model, cache_dir=tmp_path)
    assert len(model.texts) == 8
    assert np.array_equal(again.vectors, first.vectors)
    assert again.vectors.dtype == np.float32


def test_a_case_key_ending_in_zero_bytes_is_found_again(tmp_path: Path) -> None:
    # about 1 key in 256 ends in a NUL byte (numpy's S16 strings dropped it: 44 of 10,892
    # cases were embedded again at every run)
    cases = [c for c in map(_case, range(2000)) if nar.case_key(c).endswith(b"\x00")][:3]
    assert len(cases) == 3
    model = _CaseModel()
    nar.CaseIndex.build(cases, model, cache_dir=tmp_path)
    nar.CaseIndex.build(cases, model, cache_dir=tmp_path)
    assert len(model.texts) == 3


@pytest.mark.parametrize(
    "content", [b"", b"not a zip file", b"PK\x03\x04 truncated", "npz of another shape"]
)
def test_an_unreadable_case_cache_is_rebuilt(tmp_path: Path, content: bytes | str) -> None:
    model = _CaseModel()
    cache = nar.CaseVectorCache(tmp_path, model.name)
    if isinstance(content, str):
        np.savez(cache.path, keys=np.zeros((1, 16), np.uint8), vectors=np.zeros((1, 3)))
    else:
        cache.path.write_bytes(content)
    cases = [_case(i) for i in range(3)]
    index = nar.CaseIndex.build(cases, model, cache_dir=tmp_path)
    assert len(model.texts) == 3 and index.vectors.shape == (3, embed.DIMENSION)
    assert set(cache.load()) == {nar.case_key(c) for c in cases}  # replaced by a good one
    assert [p.name for p in tmp_path.iterdir()] == [cache.path.name]  # no temporary left


def test_case_cache_keeps_other_lists_up_to_its_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(nar, "CACHE_MAX_CASES", 4)
    model = _CaseModel()
    nar.CaseIndex.build([_case(i) for i in range(3)], model, cache_dir=tmp_path)
    cache = nar.CaseVectorCache(tmp_path, model.name)
    nar.CaseIndex.build([_case(i) for i in range(3, 5)], model, cache_dir=tmp_path)
    assert len(cache.load()) == 2  # 5 would pass the cap: only the list being built is kept
    nar.CaseIndex.build([_case(3)], model, cache_dir=tmp_path)
    assert len(model.texts) == 5
