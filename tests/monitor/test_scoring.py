"""Account scores, flags and campaigns from coordination pairs."""

from __future__ import annotations

import pandas as pd

from viche.monitor.scoring import (
    ScoringConfig,
    account_evidence,
    accounts_frame,
    campaign_id,
    score_accounts,
)

NAMES = ["a0", "a1", "a2", "a3", "a4"]


def pairs(rows: list[tuple[int, int, float, bool]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["a", "b", "surprise", "significant"])


def test_scores_rank_by_evidence_and_flags_follow_groups() -> None:
    p = pairs([(0, 1, 20.0, True), (1, 2, 8.0, True), (3, 4, 1.5, False)])
    scores = score_accounts(NAMES, p, {0: 0, 1: 0, 2: 0})
    by = {s.author_id: s for s in scores}
    assert [s.author_id for s in scores] == NAMES
    assert by["a1"].score > by["a0"].score > by["a2"].score > by["a3"].score > 0.0
    assert all(0.0 <= s.score < 1.0 for s in scores)
    assert [by[n].flagged for n in NAMES] == [True, True, True, False, False]
    assert {by[n].campaign for n in ("a0", "a1", "a2")} == {"C001"}
    assert by["a3"].campaign == by["a4"].campaign == ""


def test_no_evidence_means_zero_and_unflagged() -> None:
    scores = score_accounts(NAMES, pairs([]), {})
    assert all(s.score == 0.0 and not s.flagged and s.campaign == "" for s in scores)


def test_small_groups_are_not_campaigns() -> None:
    p = pairs([(0, 1, 20.0, True)])
    big = score_accounts(NAMES, p, {0: 0, 1: 0}, ScoringConfig(min_campaign_size=2))
    small = score_accounts(NAMES, p, {0: 0, 1: 0}, ScoringConfig(min_campaign_size=3))
    assert big[0].flagged and big[0].campaign == "C001"
    assert not small[0].flagged and small[0].campaign == ""
    # the evidence still ranks them, below every flagged account
    assert 0.0 < small[0].score < 0.5 <= big[0].score
    assert small[0].score > small[2].score == 0.0


def test_score_tiers_agree_with_the_flag() -> None:
    # a3-a4 have much stronger pair evidence than a0-a1 but belong to no group
    p = pairs([(0, 1, 4.0, True), (3, 4, 400.0, True)])
    scores = score_accounts(NAMES, p, {0: 0, 1: 0})
    by = {s.author_id: s for s in scores}
    assert by["a0"].flagged and not by["a3"].flagged
    assert by["a0"].score >= 0.5 > by["a3"].score > 0.49
    assert all((s.score >= 0.5) == s.flagged for s in scores)
    # without the group, the ranking is by evidence alone
    alone = {s.author_id: s.score for s in score_accounts(NAMES, p, {})}
    assert alone["a3"] > alone["a0"] > 0.0


def test_associated_accounts_score_between_coordinated_and_the_rest() -> None:
    p = pairs([(0, 1, 4.0, True), (3, 4, 400.0, True)])
    scores = score_accounts(NAMES, p, {0: 0, 1: 0}, associated={2: (0, 30.0), 3: (5, 9.0)})
    by = {s.author_id: s for s in scores}
    assert [by[n].tier for n in NAMES] == ["coordinated", "coordinated", "associated", "", ""]
    assert by["a2"].flagged and by["a2"].campaign == "C001"
    # associated with a group that is no campaign (none of its members here): not flagged
    assert not by["a3"].flagged and by["a3"].campaign == ""
    assert by["a0"].score >= 0.75 > by["a2"].score >= 0.5 > by["a3"].score
    assert all((s.score >= 0.5) == s.flagged for s in scores)


def test_join_tests_raise_the_score_of_near_misses() -> None:
    joins = pd.DataFrame({"account": [3], "surprise": [6.0]})
    with_join = account_evidence(pairs([]), 5, joins)
    without = account_evidence(pairs([]), 5)
    assert with_join[3] == 6.0 and without[3] == 0.0


def test_accounts_frame_is_the_documented_table() -> None:
    scores = score_accounts(NAMES, pairs([(0, 1, 20.0, True)]), {0: 4, 1: 4})
    frame = accounts_frame(scores)
    assert frame.columns.tolist() == ["author_id", "score", "flagged", "campaign", "tier"]
    assert frame["flagged"].tolist() == [1, 1, 0, 0, 0]
    assert frame["campaign"].tolist()[:2] == [campaign_id(4)] * 2 == ["C005", "C005"]
