"""The associated tier: accounts whose few posts carry a campaign's own items."""

from __future__ import annotations

import math
import random
from datetime import timedelta

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from test_pipeline import START, WORDS, campaign, organic

from viche.monitor.api import accounts, result_from_dict, result_to_dict
from viche.monitor.association import AssociationConfig, associated_accounts, binomial_sf
from viche.monitor.model import AccountScore, Campaign, DetectionResult, Post
from viche.monitor.pipeline import DetectConfig, detect, merge_passes


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(min_value=1, max_value=40),
    c=st.integers(min_value=0, max_value=45),
    f=st.floats(min_value=1e-6, max_value=0.99),
)
def test_binomial_tail_is_the_exact_sum(n: int, c: int, f: float) -> None:
    exact = sum(math.comb(n, k) * f**k * (1 - f) ** (n - k) for k in range(c, n + 1))
    got = float(binomial_sf(np.array([c]), np.array([n]), np.array([f]))[0])
    assert math.isclose(got, min(exact, 1.0), rel_tol=1e-9, abs_tol=1e-300)


def uses(rows: list[tuple[int, int, int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    a, k, p = zip(*rows, strict=True)
    return np.array(a, np.int64), np.array(k, np.int64), np.array(p, np.int64)


def test_few_posts_dominated_by_a_groups_items_are_associated() -> None:
    # accounts 0-4: a group using its own items 100-104; 5-64: ordinary accounts, each with
    # six items of its own and a topic item 900 used by all of them; 65: a persona whose four
    # posts carry three of the group's items; 66: an ordinary account with one of them
    rows = [(a, 100 + i, 10 * a + i) for a in range(5) for i in range(5)]
    post = 1000
    for a in range(5, 65):
        for i in range(6):
            rows.append((a, 1000 * a + i, post))
            post += 1
        rows.append((a, 900, post - 1))
    rows += [(65, 100, 5000), (65, 101, 5001), (65, 102, 5002), (65, 7777, 5003)]
    rows += [(66, 103, 6000)] + [(66, 6600 + i, 6001 + i) for i in range(5)]
    account, key, p = uses(rows)
    posts = np.bincount(np.unique(np.c_[account, p], axis=0)[:, 0], minlength=67)
    out = associated_accounts(
        account,
        key,
        p,
        groups={a: 0 for a in range(5)},
        posts=posts,
        config=AssociationConfig(),
        fdr=0.01,
        min_share=0.01,
    )
    found = set(out.loc[out["associated"], "account"])
    assert found == {65}
    row = out[out["account"] == 65].iloc[0]
    assert row["c"] == 3 and row["n"] == 4 and row["hit_posts"] == 3 and row["p"] < 1e-4
    # 66 used one of the group's items: one item is one occasion
    assert int(out.loc[out["account"] == 66, "c"].iloc[0]) == 1
    # an item used by more accounts than a crowd is nobody's, however many members use it
    crowd = associated_accounts(
        account,
        key,
        p,
        groups={a: 0 for a in range(5)},
        posts=posts,
        config=AssociationConfig(max_users=3),
        fdr=0.01,
        min_share=0.01,
    )
    assert not crowd["associated"].any()
    off = associated_accounts(
        account,
        key,
        p,
        groups={a: 0 for a in range(5)},
        posts=posts,
        config=AssociationConfig(enabled=False),
        fdr=0.01,
        min_share=0.01,
    )
    assert off.empty


def personas(rnd: random.Random, n: int, occasions: int) -> list[Post]:
    """Accounts posting their own words on a few days, tagged with the campaign's games."""
    out = []
    for a in range(n):
        for i, o in enumerate(rnd.sample(range(occasions), 3)):
            words = " ".join(rnd.choice(WORDS) for _ in range(10))
            out.append(
                Post(
                    id=f"p{a}-{i}",
                    author=f"persona{a}",
                    created_at=START + timedelta(days=400 + a, seconds=rnd.randrange(86400)),
                    text=f"{words} {i}",
                    hashtags=(f"leakgame{o}",),
                )
            )
        out.append(
            Post(
                id=f"p{a}-w",
                author=f"persona{a}",
                created_at=START + timedelta(days=401 + a),
                text="hello twitter, my first words here " + " ".join(rnd.sample(WORDS, 5)),
            )
        )
    return out


def test_personas_using_a_campaigns_hashtag_games_are_associated_not_coordinated() -> None:
    rnd = random.Random(11)
    trolls = [
        Post(
            id=p.id,
            author=p.author,
            created_at=p.created_at,
            text=p.text,
            urls=p.urls,
            hashtags=(f"leakgame{p.id.split('-')[1]}",),
        )
        for p in campaign(rnd, 6, 10, synchronised=True)
    ]
    # one ordinary account also plays one of the games, once
    stray = Post(
        id="stray",
        author="organic0",
        created_at=START + timedelta(days=200),
        text="just joined the game, sounds fun " + " ".join(rnd.sample(WORDS, 4)),
        hashtags=("leakgame3",),
    )
    posts = trolls + personas(rnd, 3, 10) + organic(rnd, 30, 40) + [stray]
    result = detect(posts)
    by = {a.author_id: a for a in result.accounts}
    (camp,) = result.campaigns
    assert set(camp.accounts) == {f"troll{a}" for a in range(6)}
    assert set(camp.associated) == {f"persona{a}" for a in range(3)}
    assert any("associated accounts" in r for r in camp.reasons)
    # the evidence: each persona's posts that carry the campaign's games
    carried: dict[str, list[str]] = {}
    for who, pid in camp.associated_posts:
        carried.setdefault(who, []).append(pid)
    assert set(carried) == set(camp.associated)
    assert all(
        len(v) == 3 and all(x.startswith(f"p{who[-1]}-") for x in v) for who, v in carried.items()
    )
    for a in range(6):
        t = by[f"troll{a}"]
        assert t.tier == "coordinated" and t.flagged and t.score >= 0.75
    for a in range(3):
        s = by[f"persona{a}"]
        assert s.tier == "associated" and s.flagged and s.campaign == camp.id
        assert 0.5 <= s.score < 0.75
    assert not any(by[f"organic{a}"].flagged for a in range(30))
    assert all((a.score >= 0.5) == a.flagged for a in result.accounts)
    assert result.stats["accounts_associated"] == 3.0
    # the tier survives the saved result and is a column of accounts.csv
    back = result_from_dict(result_to_dict(result))
    assert back.campaigns[0].associated == camp.associated
    assert back.campaigns[0].associated_posts == camp.associated_posts
    assert {a.author_id: a.tier for a in back.accounts} == {a: s.tier for a, s in by.items()}
    table = accounts(result)
    assert set(table.loc[table["tier"] == "associated", "author_id"]) == set(camp.associated)
    # without the tier the personas are not flagged: nothing times them with the campaign
    plain = detect(posts, DetectConfig(association=AssociationConfig(enabled=False)))
    assert not any(a.flagged for a in plain.accounts if a.author_id.startswith("persona"))
    assert plain.campaigns[0].associated == ()


def test_merged_periods_keep_the_strongest_tier() -> None:
    def one(
        accounts: list[AccountScore], members: tuple[str, ...], assoc: tuple[str, ...]
    ) -> DetectionResult:
        camp = Campaign(id="C001", accounts=members, associated=assoc)
        return DetectionResult(campaigns=(camp,), accounts=tuple(accounts), posts_seen=10)

    first = one(
        [
            AccountScore("x", 0.8, True, "C001", "coordinated"),
            AccountScore("y", 0.8, True, "C001", "coordinated"),
            AccountScore("z", 0.6, True, "C001", "associated"),
            AccountScore("w", 0.6, True, "C001", "associated"),
        ],
        ("x", "y"),
        ("z", "w"),
    )
    # the next period: z is coordinated there, x associated with a campaign sharing y
    second = one(
        [
            AccountScore("x", 0.6, True, "C001", "associated"),
            AccountScore("y", 0.8, True, "C001", "coordinated"),
            AccountScore("z", 0.8, True, "C001", "coordinated"),
        ],
        ("y", "z"),
        ("x",),
    )
    merged = merge_passes([(first, frozenset()), (second, frozenset())], DetectConfig(), 20)
    tiers = {a.author_id: a.tier for a in merged.accounts}
    assert tiers == {"x": "coordinated", "y": "coordinated", "z": "coordinated", "w": "associated"}
    (camp,) = merged.campaigns
    assert set(camp.accounts) == {"x", "y", "z"} and camp.associated == ("w",)
    assert {a.author_id: a.campaign for a in merged.accounts} == dict.fromkeys("xyzw", "C001")
    assert any("1 associated accounts" in r for r in camp.reasons)
