"""Associated accounts: a second tier beside the coordinated groups.

Co-action needs two accounts doing the same thing at the same time, again and again. Many
accounts of an operation never do: persona-building accounts post a handful of lines over a
few days and go quiet, and their few posts carry the campaign's own items (its hashtag game,
its links, its text) at any time lag. Such an account cannot be *coordinated* by the test of
:mod:`viche.monitor.coordination`; it can be *associated* with a campaign that was found.

Evidence, at any time lag, from every key a post carries (its near-duplicate cluster, links,
repost target, hashtag sequence and here also each single hashtag):

* a key is **owned** by a group (a campaign: the communities and the accounts joined to
  them) when it is rare in the whole input (used by at most ``max_users`` accounts, the
  crowd limit of co-action) and used mostly by that group: at least ``min_members`` of its
  members, making up at least ``member_share`` of the accounts that use it. One topic
  hashtag that many people use is owned by nobody; a hashtag game a campaign launched is;
* for an account outside every group, with ``n`` distinct keys of which ``c`` are owned by
  group ``g``: chance is the rate ``f_g`` at which the keys of all accounts outside the groups
  fall on ``g``'s owned keys, and ``p = P(Binomial(n, f_g) >= c)`` times the number of groups
  (Bonferroni: each group is tried). An account that uses many keys will hit a few owned ones
  by chance; an account whose few keys are mostly a campaign's will not;
* an account is **associated** with its most significant group when ``p`` passes a
  Benjamini-Hochberg test at the coordination's false discovery rate over every account
  outside the groups that has a key, ``c >= 2`` (one item is one occasion, as for joining),
  and its posts that carry the group's keys are at least the coordination's
  ``min_coordinated_share`` of its posts (the effect-size rule of the groups and joins).

Associated accounts are reported apart from the coordinated ones (``AccountScore.tier``,
``Campaign.associated``): the evidence is weaker (shared vocabulary, not shared timing) and
an analyst reads it from the items listed. They are flagged (``flagged`` = coordinated or
associated) and score in a tier below the coordinated accounts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from viche.monitor.coordination import benjamini_hochberg

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class AssociationConfig:
    """Parameters of the associated tier (of the method, not of a data set)."""

    enabled: bool = True
    # a key used by more accounts is a crowd's (the co-action crowd limit, max_group)
    max_users: int = 50
    # ... and it belongs to a group when used by at least this many of its members
    min_members: int = 2
    # ... making up at least this share of its users ("used mostly by one campaign")
    member_share: float = 0.5
    min_keys: int = 2  # owned keys needed (one item is one occasion)
    evidence_posts: int = 3  # posts carrying the group's items kept as evidence per account


def binomial_sf(c: I64, n: I64, f: F64) -> F64:
    """``P(X >= c)`` for ``X ~ Binomial(n, f)``, summed in log space (vectorised over rows;
    accurate in the far tail, where the terms fall fast)."""
    c = np.asarray(c, dtype=np.int64)
    n = np.asarray(n, dtype=np.int64)
    f = np.clip(np.asarray(f, dtype=np.float64), 1e-300, 1.0)
    out = np.ones(c.shape, dtype=np.float64)
    for i in range(c.size):
        ci, ni, fi = int(c[i]), int(n[i]), float(f[i])
        if ci <= 0:
            continue
        if ci > ni:
            out[i] = 0.0
            continue
        if fi >= 1.0:
            continue
        log_f, log_q = math.log(fi), math.log1p(-fi)
        lg_n = math.lgamma(ni + 1)
        total = 0.0
        for k in range(ci, ni + 1):
            term = math.exp(
                lg_n - math.lgamma(k + 1) - math.lgamma(ni - k + 1) + k * log_f + (ni - k) * log_q
            )
            total += term
            if k > ci + 5 and term < total * 1e-17:
                break
        out[i] = min(total, 1.0)
    return out


def associated_accounts(
    account: I64,
    key: I64,
    post: I64,
    *,
    groups: dict[int, int],
    posts: I64,
    config: AssociationConfig,
    fdr: float,
    min_share: float,
) -> pd.DataFrame:
    """The association test (see the module docstring) for every account outside ``groups``.

    ``account, key, post``: one row per key a post carries (account codes, 64-bit keys, post
    indices); ``groups``: account code -> group; ``posts``: posts per account code.
    Returns one row per (account, group) tested, the account's best group first, with columns
    ``account, group, c (owned keys), n (keys), hit_posts, f, p, surprise, associated,
    evidence`` (``evidence``: the first ``config.evidence_posts`` posts, by index, that carry
    the group's items).
    """
    cols = {
        "account": np.zeros(0, dtype=np.int64),
        "group": np.zeros(0, dtype=np.int64),
        "c": np.zeros(0, dtype=np.int64),
        "n": np.zeros(0, dtype=np.int64),
        "hit_posts": np.zeros(0, dtype=np.int64),
        "f": np.zeros(0, dtype=np.float64),
        "p": np.zeros(0, dtype=np.float64),
        "surprise": np.zeros(0, dtype=np.float64),
        "associated": np.zeros(0, dtype=bool),
        "evidence": np.zeros(0, dtype=object),
    }
    nothing = pd.DataFrame(cols)
    if not config.enabled or not groups or account.size == 0:
        return nothing
    group_of = np.full(posts.size, -1, dtype=np.int64)
    for acc, g in groups.items():
        group_of[acc] = g
    uses = pd.DataFrame({"a": account, "k": key}).drop_duplicates()
    uses["g"] = group_of[uses["a"].to_numpy()]
    users = uses.groupby("k").size().rename("u")
    members = uses[uses["g"] >= 0].groupby(["k", "g"]).size().rename("m").reset_index()
    members = members.merge(users, left_on="k", right_index=True)
    owned = members[
        (members["u"] <= config.max_users)
        & (members["m"] >= config.min_members)
        & (members["m"] >= config.member_share * members["u"])
    ][["k", "g"]]
    outside = uses[uses["g"] < 0][["a", "k"]]
    if owned.empty or outside.empty:
        return nothing
    n_keys = outside.groupby("a").size()
    hits = outside.merge(owned, on="k")
    if hits.empty:
        return nothing
    c = hits.groupby(["a", "g"]).size().rename("c").reset_index()
    rate = hits.groupby("g").size() / len(outside)
    # the posts that carry the group's keys (effect size)
    used = pd.DataFrame({"a": account, "k": key, "p": post})
    carrying = used.merge(hits, on=["a", "k"])[["a", "g", "p"]].drop_duplicates()
    carrying = carrying.sort_values(["a", "g", "p"])
    hit_posts = carrying.groupby(["a", "g"]).size().rename("hit_posts")
    shown: dict[tuple[int, int], list[int]] = {}
    first = carrying.groupby(["a", "g"]).head(config.evidence_posts)
    for a, g, p_ in zip(first["a"].tolist(), first["g"].tolist(), first["p"].tolist(), strict=True):
        shown.setdefault((int(a), int(g)), []).append(int(p_))
    c = c.merge(hit_posts, left_on=["a", "g"], right_index=True)
    c["evidence"] = [
        tuple(shown[(int(a), int(g))])
        for a, g in zip(c["a"].tolist(), c["g"].tolist(), strict=True)
    ]
    n = np.asarray(n_keys.reindex(c["a"]).to_numpy(), dtype=np.int64)
    f = np.asarray(rate.reindex(c["g"]).to_numpy(), dtype=np.float64)
    n_groups = len(set(groups.values()))
    p = np.minimum(binomial_sf(c["c"].to_numpy(dtype=np.int64), n, f) * n_groups, 1.0)
    out = pd.DataFrame(
        {
            "account": c["a"].to_numpy(dtype=np.int64),
            "group": c["g"].to_numpy(dtype=np.int64),
            "c": c["c"].to_numpy(dtype=np.int64),
            "n": n,
            "hit_posts": c["hit_posts"].to_numpy(dtype=np.int64),
            "f": f,
            "p": p,
            "surprise": -np.log10(np.maximum(p, 1e-300)),
            "evidence": c["evidence"].to_numpy(),
        }
    )
    out = out.sort_values(["account", "p", "group"], kind="stable", ignore_index=True)
    best = ~out["account"].duplicated().to_numpy()
    # BH over every account outside the groups that has a key (untested ones have p = 1)
    tested = out.loc[best, "p"].to_numpy()
    padded = np.concatenate([tested, np.ones(max(n_keys.size - tested.size, 0))])
    passed = np.zeros(out.shape[0], dtype=bool)
    passed[np.flatnonzero(best)] = benjamini_hochberg(padded, fdr)[: tested.size]
    out["associated"] = (
        passed
        & (out["c"].to_numpy() >= config.min_keys)
        & (out["hit_posts"].to_numpy() >= min_share * posts[out["account"].to_numpy()])
    )
    return out
