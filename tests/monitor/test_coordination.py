"""Co-action detection, the time-shuffled null, significance and communities."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from viche.monitor.coordination import (
    CoordinationConfig,
    Events,
    benjamini_hochberg,
    communities,
    coordinated_share,
    detect_coordination,
    find_groups,
    join_groups,
    lockstep_bursts,
    pair_counts,
    pair_rows,
    poisson_sf,
    shuffle_times,
    substantial_groups,
)

DAY = 86_400
YEAR = 365 * DAY


def build(rows: list[tuple[int, int, int, int]], n_accounts: int) -> Events:
    """rows of (account, key, behaviour, time)."""
    arr = np.array(rows, dtype=np.int64).reshape(-1, 4)
    return Events(
        account=arr[:, 0],
        key=arr[:, 1],
        behaviour=arr[:, 2],
        time=arr[:, 3],
        post=np.arange(arr.shape[0], dtype=np.int64),
        n_accounts=n_accounts,
    )


def background(
    gen: np.random.Generator, first: int, count: int, posts: int
) -> list[tuple[int, int, int, int]]:
    """Organic accounts: own keys, some popular shared keys, at random times over a year."""
    rows = []
    for acc in range(first, first + count):
        for _ in range(posts):
            popular = gen.random() < 0.3
            key = int(gen.integers(1, 6)) if popular else int(gen.integers(10_000, 10**9))
            rows.append((acc, key, 3 if popular else 0, int(gen.integers(0, YEAR))))
    return rows


def campaign(
    gen: np.random.Generator, accounts: range, occasions: int, synchronised: bool
) -> list[tuple[int, int, int, int]]:
    """Each occasion: every member posts the same new item, within minutes (or not)."""
    rows = []
    for o in range(occasions):
        t = int(gen.integers(0, YEAR))
        for acc in accounts:
            when = t + int(gen.integers(0, 600)) if synchronised else int(gen.integers(0, YEAR))
            rows.append((acc, 1_000 + o, 0, when))
    return rows


def significant_accounts(events: Events, config: CoordinationConfig) -> set[int]:
    pairs = detect_coordination(events, config).pairs
    sig = pairs[pairs["significant"]]
    return set(sig["a"].tolist()) | set(sig["b"].tolist())


def test_synchronised_group_is_found_among_organic_accounts() -> None:
    gen = np.random.default_rng(1)
    rows = campaign(gen, range(6), occasions=12, synchronised=True) + background(gen, 6, 40, 60)
    events = build(rows, 46)
    assert significant_accounts(events, CoordinationConfig(null_rounds=5)) == set(range(6))


def test_same_items_without_synchrony_are_not_flagged() -> None:
    gen = np.random.default_rng(1)
    rows = campaign(gen, range(6), occasions=12, synchronised=False) + background(gen, 6, 40, 60)
    events = build(rows, 46)
    assert significant_accounts(events, CoordinationConfig(null_rounds=5)) == set()


def test_busy_accounts_sharing_popular_keys_are_not_flagged() -> None:
    gen = np.random.default_rng(2)
    # two very busy accounts that use the same three hashtags all year round
    rows = [
        (acc, int(gen.integers(1, 4)), 3, int(gen.integers(0, YEAR)))
        for acc in (0, 1)
        for _ in range(1500)
    ]
    events = build(rows, 2)
    result = detect_coordination(events, CoordinationConfig(null_rounds=5))
    (row,) = result.pairs.to_dict("records")
    assert row["n"] >= 3  # they do co-act, often...
    assert row["expected"] > row["n"] / 3  # ... but about as often as chance predicts
    assert not row["significant"]


def test_one_burst_of_a_crowd_is_one_occasion() -> None:
    gen = np.random.default_rng(3)
    # one evening: neighbours along a chain of six accounts share three items each (a crowd
    # reacting to one event: each account overlaps with a few others), never again
    burst = [
        (acc, 500 + 3 * link + item, 0, 200 * DAY + item * 600 + int(gen.integers(0, 120)))
        for link in range(5)
        for item in range(3)
        for acc in (link, link + 1)
    ]
    events = build(burst + background(gen, 6, 20, 50), 26)
    config = CoordinationConfig(null_rounds=5)
    result = detect_coordination(events, config)
    # synchronous, surely (a background pair may pass by chance at the day scale)...
    assert set(range(6)) <= significant_accounts(events, config)
    # ... but one evening is not a campaign
    assert not set(find_groups(result, config)) & set(range(6))
    one_day = find_groups(result, CoordinationConfig(null_rounds=5, min_days=1))
    assert set(range(6)) <= set(one_day)


def test_one_burst_in_lockstep_is_a_group() -> None:
    gen = np.random.default_rng(3)
    # six accounts post the same ten items within one evening, all of them each time
    burst = [
        (acc, 500 + item, 0, 200 * DAY + item * 600 + int(gen.integers(0, 120)))
        for item in range(10)
        for acc in range(6)
    ]
    events = build(burst + background(gen, 6, 20, 50), 26)
    config = CoordinationConfig(null_rounds=5)
    result = detect_coordination(events, config)
    assert set(find_groups(result, config)) == set(range(6))
    assert lockstep_bursts(result.pairs, {a: 0 for a in range(6)}, config) == {0}
    # the same clique is not enough when fewer accounts than burst_min_size
    assert lockstep_bursts(result.pairs, {0: 0, 1: 0}, config) == set()


def test_a_campaign_over_several_days_is_a_group() -> None:
    gen = np.random.default_rng(3)
    rows = campaign(gen, range(6), occasions=12, synchronised=True) + background(gen, 6, 20, 50)
    events = build(rows, 26)
    config = CoordinationConfig(null_rounds=5)
    groups = find_groups(detect_coordination(events, config), config)
    assert set(groups) == set(range(6)) and set(groups.values()) == {0}


def test_a_repost_with_link_and_hashtag_counts_once() -> None:
    # accounts 0 and 1 share one post that carries text, link and hashtag keys
    events = build(
        [
            (0, 7, 0, 100),
            (0, 8, 1, 100),
            (0, 9, 3, 100),
            (1, 7, 0, 160),
            (1, 8, 1, 160),
            (1, 9, 3, 160),
        ],
        2,
    )
    events = Events(
        events.account,
        events.key,
        events.behaviour,
        events.time,
        np.array([0, 0, 0, 1, 1, 1], dtype=np.int64),
        2,
    )
    counts = pair_counts(pair_rows(events, events.time, CoordinationConfig()))
    assert counts.loc[(0, 1), "n"] == 1
    # the same with three separate posts each does count three times
    three = build(
        [
            (0, 7, 0, 100),
            (0, 8, 1, 200),
            (0, 9, 3, 300),
            (1, 7, 0, 160),
            (1, 8, 1, 260),
            (1, 9, 3, 360),
        ],
        2,
    )
    assert pair_counts(pair_rows(three, three.time, CoordinationConfig())).loc[(0, 1), "n"] == 3


def test_window_bounds_co_action() -> None:
    config = CoordinationConfig(window=3600)
    near = build([(0, 1, 0, 10_000), (1, 1, 0, 10_000 + 1700)], 2)
    far = build([(0, 1, 0, 10_000), (1, 1, 0, 10_000 + 3 * 3600)], 2)
    assert len(pair_rows(near, near.time, config)) == 1
    assert len(pair_rows(far, far.time, config)) == 0


def test_crowds_are_not_pairs() -> None:
    config = CoordinationConfig(max_group=5)
    crowd = build([(a, 1, 0, 1000 + a) for a in range(6)], 6)
    group = build([(a, 1, 0, 1000 + a) for a in range(5)], 5)
    assert len(pair_rows(crowd, crowd.time, config)) == 0
    assert len(pair_rows(group, group.time, config)) == 10


def test_shuffle_keeps_each_timeline_but_moves_it() -> None:
    gen = np.random.default_rng(5)
    events = build([(a, 1, 0, int(t)) for a in range(3) for t in gen.integers(0, YEAR, 20)], 3)
    shuffled = shuffle_times(events, np.random.default_rng(9))
    lo, hi = events.time.min(), events.time.max()
    assert shuffled.min() >= lo and shuffled.max() <= hi
    span = hi - lo + 1
    for a in range(3):
        mine = events.account == a
        offsets = (shuffled[mine] - events.time[mine]) % span
        assert len(set(offsets.tolist())) == 1  # one shift per account
    assert not np.array_equal(shuffled, events.time)


def test_events_must_have_equal_lengths() -> None:
    with pytest.raises(ValueError, match="length"):
        Events(
            np.zeros(2, np.int64),
            np.zeros(3, np.int64),
            np.zeros(2, np.int64),
            np.zeros(2, np.int64),
            np.zeros(2, np.int64),
            1,
        )


# -- statistics ---------------------------------------------------------------------------------
def poisson_sf_reference(n: int, lam: float) -> float:
    return 1.0 - sum(math.exp(-lam) * lam**k / math.factorial(k) for k in range(n))


@pytest.mark.parametrize(
    ("n", "lam"), [(0, 1.0), (1, 0.5), (3, 0.05), (5, 2.0), (10, 12.0), (40, 30.0)]
)
def test_poisson_tail_matches_reference(n: int, lam: float) -> None:
    got = float(poisson_sf(np.array([n]), np.array([lam]))[0])
    assert got == pytest.approx(poisson_sf_reference(n, lam), rel=1e-6, abs=1e-12)


def test_poisson_far_tail_is_not_rounded_to_zero() -> None:
    got = float(poisson_sf(np.array([30]), np.array([0.05]))[0])
    assert 0.0 < got < 1e-60


@given(st.integers(0, 60), st.floats(0.001, 50.0))
@settings(max_examples=200, deadline=None)
def test_poisson_tail_is_monotone(n: int, lam: float) -> None:
    here, more_n, more_lam = poisson_sf(np.array([n, n + 1, n]), np.array([lam, lam, lam * 1.5]))
    assert 0.0 <= more_n <= here + 1e-12 <= 1.0 + 1e-12
    assert more_lam + 1e-12 >= here


def test_benjamini_hochberg_known_case() -> None:
    p = np.array([0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205, 0.212, 0.216])
    assert benjamini_hochberg(p, 0.05).tolist() == [True, True] + [False] * 8
    assert not benjamini_hochberg(np.array([0.5, 0.9]), 0.05).any()


# -- groups -------------------------------------------------------------------------------------
def test_communities_split_two_groups() -> None:
    rows = [(a, b, 10.0) for a in range(4) for b in range(a + 1, 4)]
    rows += [(a, b, 10.0) for a in range(10, 14) for b in range(a + 1, 14)]
    rows += [(3, 10, 0.5)]
    pairs = pd.DataFrame(rows, columns=["a", "b", "surprise"]).assign(significant=True)
    groups = communities(pairs)
    assert {groups[a] for a in range(4)} != {groups[a] for a in range(10, 14)}
    assert len({groups[a] for a in range(4)}) == 1
    assert communities(pairs.assign(significant=False)) == {}


def test_an_account_that_co_acts_with_a_group_joins_it() -> None:
    gen = np.random.default_rng(4)
    members = range(5)
    rows = campaign(gen, members, occasions=10, synchronised=True)
    # account 5 joins in on six of the ten occasions, each time with a different member
    for o in range(6):
        t = next(r[3] for r in rows if r[1] == 1000 + o)
        rows.append((5, 1000 + o, 0, t + 30))
    # account 6 joins once only
    t = next(r[3] for r in rows if r[1] == 1009)
    rows.append((6, 1009, 0, t + 30))
    rows += background(gen, 7, 20, 40)
    events = build(rows, 27)
    config = CoordinationConfig(null_rounds=5, min_repeats=3)
    result = detect_coordination(events, config)
    groups = communities(result.pairs)
    joins = join_groups(events, {a: 0 for a in members}, config)
    joined = set(joins.loc[joins["joined"], "account"].tolist())
    assert 5 in joined or 5 in groups
    assert 6 not in joined and 6 not in groups


def test_join_without_groups_is_an_empty_typed_table() -> None:
    events = build([(0, 1, 0, 100), (1, 1, 0, 130)], 2)
    joins = join_groups(events, {}, CoordinationConfig())
    assert joins.empty and joins["joined"].dtype == bool
    assert joins[joins["joined"]].columns.tolist() == joins.columns.tolist()


def scheduled(
    gen: np.random.Generator, accounts: range, occasions: int, behaviour: int, spread: int
) -> list[tuple[int, int, int, int]]:
    """Each occasion: every member posts the same new item, hours apart (within ``spread``)."""
    rows = []
    for o in range(occasions):
        t = int(gen.integers(0, YEAR - DAY))
        for i, acc in enumerate(accounts):
            rows.append((acc, 2_000 + o, behaviour, t + i * spread // len(accounts)))
    return rows


MULTI = CoordinationConfig(null_rounds=5)  # the defaults: 1 hour, and 1 day for texts and hashtags


def test_content_scheduled_hours_apart_is_found_at_the_day_scale() -> None:
    gen = np.random.default_rng(11)
    # five accounts post the same texts 3 hours apart from each other, on twelve days
    rows = scheduled(gen, range(5), 12, 0, 15 * 3600) + background(gen, 5, 40, 60)
    events = build(rows, 45)
    one_hour = CoordinationConfig(null_rounds=5, extra_windows=())
    assert significant_accounts(events, one_hour) == set()
    assert significant_accounts(events, MULTI) == set(range(5))
    assert MULTI.windows == (3600, DAY)


def test_day_scale_needs_repetition_beyond_chance() -> None:
    gen = np.random.default_rng(11)
    # the same items, but each member posts them on a random day: no schedule to find
    rows = [
        (a, k, b, int(gen.integers(0, YEAR))) for a, k, b, _ in scheduled(gen, range(5), 12, 0, 0)
    ]
    events = build(rows + background(gen, 5, 40, 60), 45)
    assert significant_accounts(events, MULTI) == set()


def test_day_scale_leaves_out_behaviours_not_listed() -> None:
    gen = np.random.default_rng(11)
    # the same schedule with reposts (behaviour 2): a cascade over a day is not counted
    rows = scheduled(gen, range(5), 12, 2, 15 * 3600) + background(gen, 5, 40, 60)
    events = build(rows, 45)
    assert significant_accounts(events, MULTI) == set()
    everything = CoordinationConfig(null_rounds=5, extra_window_behaviours=(0, 1, 2, 3))
    assert significant_accounts(events, everything) == set(range(5))


def test_several_scales_cost_a_bonferroni_factor() -> None:
    gen = np.random.default_rng(1)
    rows = campaign(gen, range(6), occasions=12, synchronised=True) + background(gen, 6, 40, 60)
    events = build(rows, 46)
    one_hour = CoordinationConfig(null_rounds=5, extra_windows=())
    one = detect_coordination(events, one_hour).pairs.set_index(["a", "b"])
    two = detect_coordination(events, MULTI).pairs.set_index(["a", "b"])
    both = one.merge(two, left_index=True, right_index=True, suffixes=("", "_2"))
    # a pair's p-value over two scales is at most twice its best single-scale p-value
    assert (both["p_2"] <= np.minimum(2 * both["p"], 1.0) + 1e-12).all()
    assert len(both) > 0
    assert significant_accounts(events, MULTI) == set(range(6))


def test_coordinated_share_counts_each_post_once() -> None:
    rows = pd.DataFrame({"a": [0, 0, 1], "b": [1, 2, 2], "pa": [10, 10, 20], "pb": [20, 30, 31]})
    share = coordinated_share(rows, np.array([4, 2, 100], dtype=np.int64))
    # account 0: post 10 (twice) of 4; account 1: posts 20 of 2; account 2: posts 30, 31 of 100
    assert share.tolist() == [0.25, 0.5, 0.02]


def test_groups_need_a_substantial_coordinated_share() -> None:
    config = CoordinationConfig(min_coordinated_share=0.01)
    groups = {0: 0, 1: 0, 2: 0, 3: 1, 4: 1}
    # group 0: campaign accounts, most of their posts coordinated; group 1: two long
    # ordinary timelines that share a handful of links in thousands of posts
    share = np.array([0.4, 0.02, 0.9, 0.002, 0.004])
    assert substantial_groups(groups, share, config) == {0: 0, 1: 0, 2: 0}
    assert substantial_groups(groups, share, CoordinationConfig(min_coordinated_share=0.0)) == (
        groups
    )
    # the median decides: one busy member does not sink a group
    assert substantial_groups({0: 5, 1: 5, 2: 5}, np.array([0.001, 0.3, 0.5]), config) == {
        0: 0,
        1: 0,
        2: 0,
    }
    # ... nor lift one
    assert substantial_groups({0: 5, 1: 5, 2: 5}, np.array([0.9, 0.001, 0.002]), config) == {}


def test_two_co_actions_on_two_days_are_enough_to_join_an_established_group() -> None:
    gen = np.random.default_rng(4)
    members = range(5)
    rows = campaign(gen, members, occasions=10, synchronised=True)
    # account 5 joins in on two occasions (two different days), with different members
    for o, m in ((0, 0), (5, 3)):
        t = next(r[3] for r in rows if r[1] == 1000 + o and r[0] == m)
        rows.append((5, 1000 + o, 0, t + 30))
    rows += background(gen, 6, 20, 40)
    events = build(rows, 26)
    groups = {a: 0 for a in members}
    joins = join_groups(events, groups, CoordinationConfig(null_rounds=5))
    assert joins.loc[joins["joined"], "account"].tolist() == [5]
    # with three co-actions required (as for a pair), two are not enough
    strict = join_groups(events, groups, CoordinationConfig(null_rounds=5, join_min_repeats=3))
    assert not strict["joined"].any()


def test_joining_needs_a_substantial_share_of_the_accounts_posts() -> None:
    gen = np.random.default_rng(4)
    members = range(5)
    rows = campaign(gen, members, occasions=10, synchronised=True)
    for o, m in ((0, 0), (5, 3), (7, 1)):
        t = next(r[3] for r in rows if r[1] == 1000 + o and r[0] == m)
        rows.append((5, 1000 + o, 0, t + 30))
    rows += background(gen, 6, 20, 40)
    events = build(rows, 26)
    groups = {a: 0 for a in members}
    config = CoordinationConfig(null_rounds=5, min_coordinated_share=0.01)
    few = np.full(26, 40, dtype=np.int64)  # 3 co-actions in 40 posts: a campaign's share
    many = few.copy()
    many[5] = 4000  # 3 co-actions in 4,000 posts: an ordinary long timeline
    joined_few = join_groups(events, groups, config, few)
    joined_many = join_groups(events, groups, config, many)
    assert joined_few.loc[joined_few["joined"], "account"].tolist() == [5]
    assert not joined_many["joined"].any()
    # the test itself is the same: only the effect-size condition differs
    assert joined_few["p"].tolist() == joined_many["p"].tolist()


def test_an_account_seen_on_one_day_joins_on_co_actions_of_that_day() -> None:
    gen = np.random.default_rng(6)
    members = range(5)
    rows = campaign(gen, members, occasions=10, synchronised=True)
    # account 5 lives one day: a throwaway persona posting the campaign's items of that day
    day0 = next(r[3] for r in rows if r[1] == 1000 and r[0] == 0)
    for o in range(10, 13):  # three more items pushed by the group on that same day
        rows += [(m, 1000 + o, 0, day0 + 3600 * (o - 9) + 60 * m) for m in members]
        rows.append((5, 1000 + o, 0, day0 + 3600 * (o - 9) + 400))
    rows += background(gen, 6, 20, 40)
    events = build(rows, 26)
    groups = {a: 0 for a in members}
    config = CoordinationConfig(null_rounds=5)
    posts = np.bincount(events.account, minlength=26).astype(np.int64)
    days = np.full(26, 30, dtype=np.int64)
    seen_one_day = join_groups(events, groups, config, posts, np.ones(26, dtype=np.int64))
    seen_long = join_groups(events, groups, config, posts, days)
    assert seen_one_day.loc[seen_one_day["joined"], "account"].tolist() == [5]
    # an account seen on many days needs co-actions on at least two of them
    assert not seen_long["joined"].any()
    assert seen_one_day["p"].tolist() == seen_long["p"].tolist()
