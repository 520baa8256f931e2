"""Automated headline feeds: recognised from their own posts, grouped only when co-timed."""

from __future__ import annotations

import random
from datetime import timedelta

import numpy as np
import pytest
from test_pipeline import START, WORDS, organic

from viche.monitor.coordination import CoordinationConfig, Events, pair_rows
from viche.monitor.feeds import FeedConfig, feed_accounts, is_conversation, url_domain
from viche.monitor.model import Post
from viche.monitor.pipeline import DetectConfig, detect
from viche.monitor.text import normalise_url

FEED = "citynewsfeed"
TROLLS = [f"persona{i}" for i in range(5)]


def headline(i: int) -> str:
    """The outlet's headline of story ``i`` (each story its own words)."""
    words = random.Random(1000 + i).sample(WORDS, 9)
    return f"{words[0].title()} {' '.join(words[1:])}: {3 + i} reports, says council"


def link(i: int) -> str:
    return f"https://citynews.example/2016/story-{i}"


def tags(i: int) -> tuple[str, ...]:
    """The hashtags the outlet's feed appends to story ``i`` (copied with the headline)."""
    return ("citynews", WORDS[i % len(WORDS)])


def feed_and_trolls(rnd: random.Random, trolls_lag: tuple[int, int], days: int = 24) -> list[Post]:
    """A feed posts the outlet's headline with its link and hashtags three times a day; five
    persona accounts post the same headlines with the same links and hashtags, together
    (within 5 minutes of each other), ``trolls_lag`` seconds (a range) after the feed, and
    chat in between."""
    out: list[Post] = []
    for i in range(3 * days):
        published = START + timedelta(days=i // 3, hours=7 + 5 * (i % 3), minutes=rnd.randrange(20))
        out.append(
            Post(
                id=f"feed-{i}",
                author=FEED,
                created_at=published,
                text=f"{headline(i)} {link(i)}",
                urls=(link(i),),
                hashtags=tags(i),
            )
        )
        if i % 2:  # the personas push every other story
            continue
        pushed = published + timedelta(seconds=rnd.randrange(*trolls_lag))
        for t in TROLLS:
            out.append(
                Post(
                    id=f"{t}-h{i}",
                    author=t,
                    created_at=pushed + timedelta(seconds=rnd.randrange(300)),
                    text=f"{headline(i)} {link(i)}",
                    urls=(link(i),),
                    hashtags=tags(i),
                )
            )
    for t in TROLLS:  # the personas also talk, as people do
        for j in range(30):
            words = " ".join(rnd.choice(WORDS) for _ in range(9))
            out.append(
                Post(
                    id=f"{t}-c{j}",
                    author=t,
                    created_at=START + timedelta(seconds=rnd.randrange(days * 86_400)),
                    text=f"@{rnd.choice(TROLLS)} {words} {j}",
                )
            )
    return out


def flagged_and_campaigns(
    posts: list[Post], config: DetectConfig
) -> tuple[set[str], list[set[str]]]:
    result = detect(posts, config)
    flagged = {a.author_id for a in result.accounts if a.flagged}
    return flagged, [set(c.accounts) for c in result.campaigns]


def test_a_feed_is_not_grouped_with_accounts_posting_its_headlines_hours_later() -> None:
    rnd = random.Random(5)
    posts = feed_and_trolls(rnd, (2 * 3600, 6 * 3600)) + organic(rnd, 15, 40)
    flagged, campaigns = flagged_and_campaigns(posts, DetectConfig())
    # the personas push the headlines together: a campaign; the feed only published them
    assert flagged == set(TROLLS)
    assert campaigns == [set(TROLLS)]
    # without the feed rule, the same headlines hours apart pull the feed into the campaign
    flagged_plain, campaigns_plain = flagged_and_campaigns(
        posts, DetectConfig(feeds=FeedConfig(enabled=False))
    )
    assert FEED in flagged_plain
    assert {FEED, *TROLLS} in campaigns_plain


def test_accounts_co_posting_a_feeds_headlines_within_minutes_are_still_grouped() -> None:
    rnd = random.Random(5)
    posts = feed_and_trolls(rnd, (30, 240)) + organic(rnd, 15, 40)
    flagged, campaigns = flagged_and_campaigns(posts, DetectConfig())
    assert flagged == {FEED, *TROLLS}
    assert campaigns == [{FEED, *TROLLS}]


def test_feed_accounts_are_recognised_from_their_own_posts() -> None:
    # account 0: a feed (links to its outlet, never talks); 1: links everywhere;
    # 2: talks (replies); 3: links to its outlet but too few posts; 4: half of its posts link
    account = np.repeat(np.arange(5, dtype=np.int64), [30, 30, 30, 5, 30])
    has_link = np.ones(account.size, dtype=bool)
    has_link[account == 4] = np.arange(30) % 2 == 0
    conversation = np.zeros(account.size, dtype=bool)
    conversation[account == 2] = np.arange(30) % 3 == 0
    domain = np.where(has_link, 7, 0).astype(np.int64)
    domain[account == 1] = np.arange(30) + 100
    feed, top = feed_accounts(
        account, has_link, conversation, domain, n_accounts=6, config=FeedConfig()
    )
    assert feed.tolist() == [True, False, False, False, False, False]
    assert top[0] == 7 and top[5] == 0
    off = FeedConfig(enabled=False)
    assert not feed_accounts(account, has_link, conversation, domain, n_accounts=6, config=off)[
        0
    ].any()


def test_conversation_and_domains() -> None:
    assert is_conversation("@mayor when does the bridge open?", "")
    assert is_conversation("'@mayor quoted reply'", "")
    assert is_conversation("RT @citynews: Museum reopens", "")
    assert is_conversation("Museum reopens", "citynews")
    assert not is_conversation("Museum reopens its galleries https://citynews.example/x", "")
    assert url_domain(normalise_url("https://www.CityNews.example/2016/story-1?utm_source=x")) == (
        "citynews.example"
    )
    assert url_domain(normalise_url("t.co/AbC")) == "t.co"


def test_tight_events_co_act_only_within_the_tight_window() -> None:
    config = CoordinationConfig(tight_window=600)  # a tighter window than the default hour

    def rows(gap: int, tight: bool) -> int:
        events = Events(
            account=np.array([0, 1], dtype=np.int64),
            key=np.array([9, 9], dtype=np.int64),
            behaviour=np.zeros(2, dtype=np.int64),
            time=np.array([1000, 1000 + gap], dtype=np.int64),
            post=np.array([0, 1], dtype=np.int64),
            n_accounts=2,
            tight=np.array([tight, False]),
        )
        return len(pair_rows(events, events.time, config))

    assert rows(1800, tight=False) == 1  # same hour: a co-action
    assert rows(1800, tight=True) == 0  # a feed's headline half an hour apart: not one
    assert rows(120, tight=True) == 1  # within minutes: still one
    # the mark follows the events it belongs to, and must have their length
    one = np.zeros(2, dtype=np.int64)
    marked = Events(one, one, one, one, one, 2, tight=np.array([True, False]))
    picked = marked.take(np.array([1], dtype=np.int64)).tight
    assert picked is not None and picked.tolist() == [False]
    with pytest.raises(ValueError, match="tight"):
        Events(one, one, one, one, one, 2, tight=np.array([True]))
