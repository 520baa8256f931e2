"""Account scores, flags and campaign assignment from the coordination pairs.

* ``score`` (0..1, higher = more likely part of a campaign): a monotone squash of the
  account's evidence ``raw = sum of the surprise of its significant pairs + the largest
  surprise of any of its pairs + the largest surprise of its tests against a group``, so
  accounts without a significant pair are still ranked by their strongest near-miss
  (useful for precision-recall curves). The score is tiered so that it agrees with the
  flag and the tier: a coordinated account scores ``0.75 + 0.25 * raw / (raw + 10)``
  (>= 0.75), an associated one ``0.5 + 0.25 * raw / (raw + 10)`` (in [0.5, 0.75), its
  ``raw`` including the surprise of its association test), any other
  ``0.5 * raw / (raw + 10)`` (< 0.5). Membership of a group is the stronger evidence (it
  has passed the group-level tests), association the weaker (shared vocabulary at any time
  lag, :mod:`viche.monitor.association`); within each tier accounts rank by ``raw``.
* ``flagged``: the account belongs to a group (a community of significant pairs, or joined
  to one by :func:`viche.monitor.coordination.join_groups`) of at least
  ``min_campaign_size`` accounts (tier ``coordinated``), or is associated with one (tier
  ``associated``).
* ``campaign``: the id of that community (``C001`` is the largest), empty otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from viche.monitor.model import AccountScore

SCORE_SCALE = 10.0  # surprise (in -log10 p units) at which the score reaches 0.5


@dataclass(frozen=True, slots=True)
class ScoringConfig:
    min_campaign_size: int = 2


def campaign_id(group: int) -> str:
    return f"C{group + 1:03d}"


def account_evidence(
    pairs: pd.DataFrame, n_accounts: int, joins: pd.DataFrame | None = None
) -> np.ndarray[tuple[int], np.dtype[np.float64]]:
    """``raw`` evidence per account code (see the module docstring)."""
    raw = np.zeros(n_accounts, dtype=np.float64)
    if joins is not None and not joins.empty:
        np.maximum.at(
            raw,
            joins["account"].to_numpy(dtype=np.int64),
            joins["surprise"].to_numpy(dtype=np.float64),
        )
    if pairs.empty:
        return raw
    a = pairs["a"].to_numpy(dtype=np.int64)
    b = pairs["b"].to_numpy(dtype=np.int64)
    s = pairs["surprise"].to_numpy(dtype=np.float64)
    sig = pairs["significant"].to_numpy(dtype=bool)
    np.add.at(raw, a[sig], s[sig])
    np.add.at(raw, b[sig], s[sig])
    best = np.zeros(n_accounts, dtype=np.float64)
    np.maximum.at(best, a, s)
    np.maximum.at(best, b, s)
    return raw + best


def score_accounts(
    accounts: Sequence[str],
    pairs: pd.DataFrame,
    groups: dict[int, int],
    config: ScoringConfig = ScoringConfig(),
    joins: pd.DataFrame | None = None,
    *,
    associated: dict[int, tuple[int, float]] | None = None,
) -> tuple[AccountScore, ...]:
    """One :class:`AccountScore` per account (in the order of ``accounts``).

    ``groups`` maps account codes to group numbers (communities and joined accounts);
    ``joins`` are the account-to-group tests (for the score of near-misses);
    ``associated`` maps the codes of associated accounts (outside ``groups``) to (group,
    surprise of the association test).
    """
    n = len(accounts)
    raw = account_evidence(pairs, n, joins)
    associated = associated or {}
    sizes: dict[int, int] = {}
    for gid in groups.values():
        sizes[gid] = sizes.get(gid, 0) + 1
    out: list[AccountScore] = []
    for i, name in enumerate(accounts):
        g = groups.get(i)
        tier = "coordinated" if g is not None and sizes[g] >= config.min_campaign_size else ""
        r = float(raw[i])
        if not tier and i in associated:
            g, surprise = associated[i]
            if sizes.get(g, 0) >= config.min_campaign_size:
                tier = "associated"
                r += surprise
        squashed = r / (r + SCORE_SCALE)
        # tiers [0.75, 1), [0.5, 0.75), [0, 0.5): rounding must not cross a tier's edge
        if tier == "coordinated":
            score = 0.75 + 0.25 * squashed
        elif tier == "associated":
            score = min(0.5 + 0.25 * squashed, 0.749999)
        else:
            score = min(0.5 * squashed, 0.499999)
        out.append(
            AccountScore(
                author_id=name,
                score=round(score, 6),
                flagged=bool(tier),
                campaign=campaign_id(g) if tier and g is not None else "",
                tier=tier,
            )
        )
    return tuple(out)


def accounts_frame(scores: Sequence[AccountScore]) -> pd.DataFrame:
    """The ``accounts.csv`` table: ``author_id, score, flagged (0/1), campaign, tier``."""
    return pd.DataFrame(
        {
            "author_id": [s.author_id for s in scores],
            "score": [s.score for s in scores],
            "flagged": [int(s.flagged) for s in scores],
            "campaign": [s.campaign for s in scores],
            "tier": [s.tier for s in scores],
        }
    )
