"""Detection period by period: the plan of periods, the merge, and a store larger than a pass."""

from __future__ import annotations

import itertools
import random
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_pipeline import campaign, organic

from viche.errors import MonitorError
from viche.monitor.model import Campaign, DetectionResult, Post
from viche.monitor.pipeline import (
    DetectConfig,
    detect,
    detect_pass,
    detect_periods,
    merge_passes,
    plan_periods,
)
from viche.monitor.store import Store

histograms = st.lists(
    st.tuples(st.integers(0, 400), st.integers(1, 6)), min_size=1, max_size=60
).map(lambda pairs: sorted(dict(pairs).items()))


def posts_in(hist: list[tuple[int, int]], start: int, end: int) -> int:
    return sum(c for t, c in hist if start <= t < end)


@settings(max_examples=300, deadline=None)
@given(histograms, st.integers(1, 20), st.integers(0, 50))
def test_periods_are_contiguous_overlap_by_the_window_and_hold_at_most_the_cap(
    hist: list[tuple[int, int]], cap: int, overlap: int
) -> None:
    periods = plan_periods(hist, cap, overlap)
    first, last = hist[0][0], hist[-1][0]
    assert periods[0][0] == first and periods[-1][1] == last + 1
    for (_, e0), (s1, e1) in itertools.pairwise(periods):
        assert e0 < e1  # the plan advances
        assert s1 == max(e0 - overlap, first)  # the next starts one window before the end
    for i, (s, e) in enumerate(periods):
        assert s < e
        held = posts_in(hist, s, e)
        if held > cap:
            # only the overlap with the previous period plus one second with posts
            prev_end = periods[i - 1][1] if i else first
            assert len([t for t, _ in hist if prev_end <= t < e]) == 1
    # no co-action is lost: any two seconds less than a window apart share a period
    for t1, _ in hist:
        for t2, _ in hist:
            if t1 <= t2 < t1 + max(overlap, 1):
                assert any(s <= t1 and t2 < e for s, e in periods), (t1, t2)


def test_without_overlap_a_co_action_across_the_boundary_is_lost() -> None:
    hist = [(0, 2), (10, 2), (11, 2), (20, 2)]
    with_window = plan_periods(hist, 4, 5)
    without = plan_periods(hist, 4, 0)
    assert any(s <= 10 and e > 11 for s, e in with_window)
    assert not any(s <= 10 and e > 11 for s, e in without)


def test_a_single_second_above_the_cap_is_a_period_of_its_own() -> None:
    hist = [(0, 1), (5, 1), (100, 50), (200, 1), (300, 1)]
    periods = plan_periods(hist, 3, 10)
    assert periods == [(0, 100), (90, 200), (190, 301)]
    assert [posts_in(hist, s, e) for s, e in periods] == [2, 50, 2]
    # ... and so are the seconds of a whole window that holds more than the cap
    dense = [(t, 2) for t in range(0, 10)]
    periods = plan_periods(dense, 3, 5)
    assert all(e1 > e0 for (_, e0), (_, e1) in itertools.pairwise(periods))
    assert periods[-1][1] == 10


def test_a_cap_below_one_is_refused() -> None:
    with pytest.raises(MonitorError):
        plan_periods([(0, 1)], 0, 10)
    with pytest.raises(MonitorError):
        detect([], DetectConfig(max_posts_per_pass=0))


def _stream() -> list[Post]:
    rnd = random.Random(11)
    return campaign(rnd, 6, 14, synchronised=True) + organic(rnd, 30, 40)


def _without_timings(result: DetectionResult) -> tuple[object, ...]:
    return result.campaigns, result.accounts, result.posts_seen


def test_a_stream_that_fits_in_one_pass_gives_the_same_result_with_the_cap() -> None:
    posts = _stream()
    with Store() as store:
        store.append(posts)
        plain = detect(store)
        capped = detect(store, DetectConfig(max_posts_per_pass=len(posts)))
        assert detect_periods(store, DetectConfig(max_posts_per_pass=len(posts))) == [
            (-(2**62), 2**62)
        ]
        # the merge of a single pass changes nothing but the campaign numbering
        one, joined = detect_pass(store, DetectConfig())
        merged = merge_passes([(one, joined)], DetectConfig(), one.posts_seen)
        split = detect(store, DetectConfig(max_posts_per_pass=len(posts) - 1))
    assert plain.campaigns and _without_timings(plain) == _without_timings(capped)
    assert "passes" not in plain.stats
    renumber = {c.id: m.id for c, m in zip(one.campaigns, merged.campaigns, strict=True)}
    assert [replace(c, id=renumber[c.id]) for c in one.campaigns] == list(merged.campaigns)
    assert [replace(a, campaign=renumber.get(a.campaign, "")) for a in one.accounts] == list(
        merged.accounts
    )
    # one post over the cap: analysed in several passes
    assert split.stats["passes"] >= 2


def test_a_campaign_spanning_two_periods_is_one_campaign() -> None:
    posts = _stream()
    cap = len(posts) // 2 + 50
    cfg = DetectConfig(max_posts_per_pass=cap)
    trolls = {f"troll{a}" for a in range(6)}
    with Store() as store:
        store.append(posts)
        periods = detect_periods(store, cfg)
        held = [store.count_between(s, e) for s, e in periods]
        result = detect(store, cfg)
        # each period on its own finds the campaign
        per_period = [
            detect_pass(
                store,
                replace(
                    cfg,
                    start=datetime.fromtimestamp(s, tz=UTC),
                    end=datetime.fromtimestamp(e, tz=UTC),
                ),
            )[0]
            for s, e in periods
        ]
    assert len(periods) >= 2 and max(held) <= cap
    assert result.stats["passes"] == len(periods)
    assert result.stats["max_posts_in_pass"] <= cap
    assert result.posts_seen == len(posts) < sum(held)  # the overlap is read twice
    assert sum(bool(r.campaigns) for r in per_period) >= 2
    (camp,) = result.campaigns
    assert isinstance(camp, Campaign) and set(camp.accounts) == trolls
    assert camp.id == "C001" and f"of {len(periods)} periods" in camp.reasons[0]
    flagged = {a.author_id: a.campaign for a in result.accounts if a.flagged}
    assert flagged == dict.fromkeys(trolls, "C001")
    assert {a.author_id for a in result.accounts} == {p.author for p in posts}
    # first and last seen span the boundary between the first two periods
    boundary = datetime.fromtimestamp(periods[0][1], tz=UTC)
    assert camp.first_seen is not None and camp.last_seen is not None
    assert camp.first_seen < boundary < camp.last_seen
    # each account pair once, each piece of evidence once, bounded per edge
    pairs = [tuple(sorted((e.account_a, e.account_b))) for e in camp.edges]
    assert len(pairs) == len(set(pairs))
    for e in camp.edges:
        keys = [(pp.behaviour, *sorted((pp.post_a, pp.post_b))) for pp in e.evidence]
        assert len(keys) == len(set(keys)) and len(keys) <= cfg.evidence_per_edge
    # scores: the largest over the periods
    for acc in result.accounts:
        best = max(
            (a.score for r in per_period for a in r.accounts if a.author_id == acc.author_id),
        )
        assert acc.score == best


def test_unsynchronised_texts_are_no_campaign_in_any_period() -> None:
    rnd = random.Random(11)
    posts = campaign(rnd, 6, 14, synchronised=False) + organic(rnd, 30, 40)
    result = detect(posts, DetectConfig(max_posts_per_pass=len(posts) // 3))
    assert result.stats["passes"] >= 3
    assert result.campaigns == () and not any(a.flagged for a in result.accounts)


def test_a_store_with_one_second_above_the_cap_is_still_analysed_whole() -> None:
    rnd = random.Random(5)
    posts = organic(rnd, 10, 10)
    burst = [
        Post(id=f"b{i}", author=f"burst{i}", created_at=datetime(2016, 6, 1, tzinfo=UTC), text="x")
        for i in range(40)
    ]
    cfg = DetectConfig(max_posts_per_pass=25)
    with Store() as store:
        store.append(posts + burst)
        periods = detect_periods(store, cfg)
        held = [store.count_between(s, e) for s, e in periods]
        result = detect(store, cfg)
    second = int(burst[0].created_at.timestamp())
    over = [(s, e) for (s, e), n in zip(periods, held, strict=True) if n > cfg.max_posts_per_pass]
    # the burst's second alone is above the cap: the only period over it is the one holding
    # that second (with at most the posts of the overlap before it)
    assert len(over) == 1 and over[0][0] <= second < over[0][1]
    assert max(held) <= len(burst) + cfg.max_posts_per_pass
    assert result.posts_seen == len(posts) + len(burst)
    assert result.stats["passes"] == len(periods) >= 3
    assert result.stats["max_posts_in_pass"] == max(held)
    assert {a.author_id for a in result.accounts} == {p.author for p in posts + burst}
