"""Automated headline feeds: accounts that post an outlet's headlines with a link to it.

An RSS relay (an IFTTT recipe, a newsroom's auto-poster, a "daily news" bot) posts the
headline of every new article of one outlet, with the article's link, and never talks to
anyone. Other accounts that share the same articles post the same headline with the same
link, often hours later. To the co-action test that looks like repeated "same text, same
link" and, over the day-long window, like a campaign, though all the feed did was publish
what the outlet published.

A feed is recognised from its own posts, without labels (:func:`feed_accounts`), when over
the analysed period it has at least ``min_posts`` posts and

* nearly all of them carry a link (``min_link_share``),
* most of those link to one domain, its outlet (``min_domain_share``; a shortened link such
  as ``t.co/…`` counts under the shortener's domain, since the article's domain cannot be
  known offline), and
* it does not converse: replies (a text opening with ``@``) and reposts (``RT @…`` or a
  repost field) are at most ``max_conversation`` of its posts.

For a feed, the events that only say "published the same headline" -- its near-duplicate
texts, its hashtag sequences and its links to its own top domain -- count as co-action only
when the other account acted less than ``CoordinationConfig.tight_window`` seconds away (one
hour: tight co-timing, the short scale of the co-action test; the day scale never sees them).
Accounts that post an outlet's headlines within minutes of a feed, over and over, are still
grouped with it; the same headlines hours later are what any account quoting the outlet
posts. The feed's other events
(links elsewhere, reposts) count as for any account.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

I64 = npt.NDArray[np.int64]
Bool = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class FeedConfig:
    """When an account is a headline feed (parameters of the method, see the module)."""

    enabled: bool = True
    min_posts: int = 20
    min_link_share: float = 0.9
    min_domain_share: float = 0.6
    max_conversation: float = 0.05


def url_domain(normalised_url: str) -> str:
    """The host of a URL normalised by :func:`viche.monitor.text.normalise_url`."""
    return normalised_url.split("/", 1)[0].split("?", 1)[0]


def is_conversation(text: str, repost_of: str) -> bool:
    """A reply (a text opening with ``@``) or a repost (not what a feed posts)."""
    head = text.lstrip(" '\"\u201c.")
    return bool(repost_of) or head.startswith(("@", "RT @", "rt @"))


def feed_accounts(
    account: I64,
    has_link: Bool,
    conversation: Bool,
    domain: I64,
    *,
    n_accounts: int,
    config: FeedConfig,
) -> tuple[Bool, I64]:
    """Per account code: whether it is a headline feed, and its top link domain (0: none).

    One entry per post: ``account`` code, ``has_link``, ``conversation`` (see
    :func:`is_conversation`), ``domain`` (a hash of the domain of its first link, 0 when it has
    none).
    """
    top = np.zeros(n_accounts, dtype=np.int64)
    feed = np.zeros(n_accounts, dtype=bool)
    if not config.enabled or account.size == 0:
        return feed, top
    posts = np.bincount(account, minlength=n_accounts)
    links = np.bincount(account, weights=has_link, minlength=n_accounts)
    talk = np.bincount(account, weights=conversation, minlength=n_accounts)
    linked = domain != 0
    per_domain = (
        pd.DataFrame({"a": account[linked], "d": domain[linked]})
        .value_counts()
        .reset_index(name="n")
        .sort_values(["a", "n"], ascending=[True, False], kind="stable")
        .drop_duplicates("a")
    )
    acc = per_domain["a"].to_numpy(dtype=np.int64)
    top[acc] = per_domain["d"].to_numpy(dtype=np.int64)
    top_n = np.zeros(n_accounts, dtype=np.float64)
    top_n[acc] = per_domain["n"].to_numpy(dtype=np.float64)
    safe = np.maximum(posts, 1)
    feed = (
        (posts >= config.min_posts)
        & (links >= config.min_link_share * safe)
        & (top_n >= config.min_domain_share * np.maximum(links, 1))
        & (talk <= config.max_conversation * safe)
    )
    return feed, top
