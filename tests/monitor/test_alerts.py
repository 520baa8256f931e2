"""Alerts between two detections of a growing store."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from monitor_synthetic import campaign_from, posts_for, result_of

from viche.errors import MonitorError
from viche.monitor import api
from viche.monitor.alerts import (
    Alert,
    AlertKind,
    NarrativeBrief,
    compare,
    count_by_kind,
    load_alerts,
    match_campaigns,
    overlap,
    record,
)
from viche.monitor.model import Campaign, DetectionResult, Narrative

AT = datetime(2026, 3, 2, tzinfo=UTC)


def _first() -> DetectionResult:
    a = posts_for(["bot1", "bot2", "bot3"], 3, "a", "The election was rigged")
    return result_of([campaign_from("c-1", a, ("n-aaa",))])


def test_overlap() -> None:
    assert overlap("abc", "bcd") == pytest.approx(2 / 3)
    assert overlap("ab", "abcdef") == 1.0
    assert overlap("", "ab") == 0.0
    assert overlap("ab", "cd") == 0.0


def test_first_run_reports_every_campaign_as_new_with_its_narratives() -> None:
    alerts = compare(None, _first(), at=AT)
    assert [a.kind for a in alerts] == [AlertKind.NEW_CAMPAIGN]  # no alert per narrative
    (a,) = alerts
    assert a.accounts_added == ("bot1", "bot2", "bot3")
    n = _first().campaigns[0].narratives[0]
    (brief,) = a.narratives
    assert brief == NarrativeBrief(n.id, 9, n.label, n.known_case, ("c-1",), n.post_ids)
    assert f'1 narrative (9 posts), top: "{n.label}" (9 posts, known case)' in a.message
    assert a.narrative == "" and a.campaigns == ()  # the alert is about the campaign


def _with_narratives(cid: str, accounts: list[str], *narratives: Narrative) -> Campaign:
    c = campaign_from(cid, posts_for(accounts, 2, cid, "text"))
    return replace(c, narratives=narratives)


def _narrative(nid: str, posts: int, label: str = "claim") -> Narrative:
    return Narrative(nid, label, tuple(f"{nid}-p{i}" for i in range(posts)), ("en",))


def test_new_campaign_names_its_top_narratives_largest_first() -> None:
    ns = [_narrative(f"n-{k}", k, f"claim {k}") for k in (9, 7, 5, 2)]
    alerts = compare(None, result_of([_with_narratives("c-1", ["a", "b"], *ns)]), at=AT)
    (a,) = alerts
    assert [b.id for b in a.narratives] == ["n-9", "n-7", "n-5", "n-2"]
    assert [b.posts for b in a.narratives] == [9, 7, 5, 2]
    assert a.narratives[0].evidence == ns[0].post_ids  # each narrative keeps its evidence
    assert a.message.endswith(
        '4 narratives (23 posts), top: "claim 9" (9 posts), "claim 7" (7 posts), '
        '"claim 5" (5 posts) …'
    )
    assert "claim 2" not in a.message  # beyond the top three: in the fields only
    long = _narrative("n-l", 3, "x" * 100)
    (cut,) = compare(None, result_of([_with_narratives("c-1", ["a", "b"], long)]), at=AT)
    assert f'"{"x" * 79}…" (3 posts)' in cut.message and cut.narratives[0].label == "x" * 100
    (alone,) = compare(None, result_of([_with_narratives("c-1", ["a", "b"])]), at=AT)
    assert alone.message == "new campaign c-1: 2 accounts, score 9.50"  # no narrative: no tail


def test_narrative_of_two_known_campaigns_raises_one_alert_naming_both() -> None:
    shared, other = _narrative("n-s", 4), _narrative("n-o", 3)
    before = result_of([_with_narratives("c-1", ["a", "b"]), _with_narratives("c-2", ["x", "y"])])
    after = result_of(
        [
            _with_narratives("c-1", ["a", "b"], shared),
            _with_narratives("c-2", ["x", "y"], shared, other),
        ]
    )
    alerts = compare(before, after, at=AT)
    assert [(a.kind, a.narrative) for a in alerts] == [
        (AlertKind.NEW_NARRATIVE, "n-s"),
        (AlertKind.NEW_NARRATIVE, "n-o"),
    ]
    one, two = alerts
    assert one.campaign == "c-1" and one.campaigns == ("c-1", "c-2")
    assert "in 2 campaigns (c-1, c-2) (4 posts)" in one.message
    assert one.evidence == shared.post_ids and one.narratives[0].campaigns == ("c-1", "c-2")
    assert two.campaign == "c-2" and two.campaigns == ("c-2",)
    assert "in campaign c-2 (3 posts)" in two.message


def test_narrative_of_a_new_and_a_known_campaign_is_news_once() -> None:
    shared = _narrative("n-s", 4)
    before = result_of([_with_narratives("c-1", ["a", "b"])])
    after = result_of(
        [
            _with_narratives("c-9", ["p", "q"], shared),  # new, listed first
            _with_narratives("c-1", ["a", "b"], shared),
        ]
    )
    fresh, news = compare(before, after, at=AT)
    assert fresh.kind is AlertKind.NEW_CAMPAIGN and fresh.campaign == "c-9"
    assert fresh.narratives[0].campaigns == ("c-9", "c-1")
    assert "also in c-1" in fresh.message
    assert news.kind is AlertKind.NEW_NARRATIVE
    assert (news.campaign, news.previous_campaign) == ("c-1", "c-1")
    assert news.campaigns == ("c-9", "c-1")


def test_narrative_of_new_campaigns_only_is_in_their_alerts() -> None:
    shared = _narrative("n-s", 4)
    after = result_of(
        [_with_narratives("c-1", ["a", "b"], shared), _with_narratives("c-2", ["x", "y"], shared)]
    )
    alerts = compare(None, after, at=AT)
    assert [a.kind for a in alerts] == [AlertKind.NEW_CAMPAIGN] * 2
    assert all(a.narratives[0].campaigns == ("c-1", "c-2") for a in alerts)
    assert "(4 posts, also in c-2)" in alerts[0].message
    assert "(4 posts, also in c-1)" in alerts[1].message  # never "also in" itself


def test_count_by_kind_follows_the_kinds_order() -> None:
    a = Alert(AlertKind.NEW_NARRATIVE, "c", "m", AT)
    b = Alert(AlertKind.NEW_CAMPAIGN, "c", "m", AT)
    assert list(count_by_kind([a, b, a]).items()) == [
        (AlertKind.NEW_CAMPAIGN, 1),
        (AlertKind.NEW_NARRATIVE, 2),
    ]
    assert count_by_kind([]) == {}


def test_same_result_twice_raises_nothing() -> None:
    assert compare(_first(), _first(), at=AT) == ()


def test_grown_campaign_new_campaign_and_new_narrative() -> None:
    before = _first()
    grown = posts_for(["bot1", "bot2", "bot3", "bot4"], 4, "a", "The election was rigged")
    other = posts_for(["x1", "x2"], 2, "b", "NATO attacks")
    c7 = campaign_from("c-7", grown, ("n-aaa", "n-new"))
    fresh = tuple(p.id for p in grown if p.id.startswith("a3-"))  # only the new round's posts
    c7 = replace(c7, narratives=(c7.narratives[0], replace(c7.narratives[1], post_ids=fresh)))
    after = result_of([c7, campaign_from("c-8", other)])
    alerts = compare(before, after, at=AT)
    by_kind = {a.kind: a for a in alerts}
    assert sorted(a.kind.value for a in alerts) == [
        "campaign_grown",
        "new_campaign",
        "new_narrative",
    ]
    g = by_kind[AlertKind.CAMPAIGN_GROWN]
    assert (g.campaign, g.previous_campaign, g.accounts_added) == ("c-7", "c-1", ("bot4",))
    assert by_kind[AlertKind.NEW_CAMPAIGN].campaign == "c-8"
    assert by_kind[AlertKind.NEW_NARRATIVE].narrative == "n-new"


def test_renamed_narrative_with_same_posts_is_not_new() -> None:
    before = _first()
    c = before.campaigns[0]
    renamed = replace(c, narratives=(replace(c.narratives[0], id="n-other"),))
    assert compare(before, replace(before, campaigns=(renamed,)), at=AT) == ()


def test_match_is_one_to_one_and_needs_overlap() -> None:
    a = campaign_from("p", posts_for(["u1", "u2", "u3", "u4"], 1, "p", "x"))
    b = campaign_from("q", posts_for(["u1", "u2", "u3"], 1, "q", "x"))
    c = campaign_from("r", posts_for(["u3", "u4", "u9"], 1, "r", "x"))
    d = campaign_from("s", posts_for(["v1", "v2", "u1"], 1, "s", "x"))
    m = match_campaigns([a], [b, c, d])
    assert m == {"q": "p"}  # best overlap wins; r must not also take p; s overlaps too little


def test_record_persists_and_appends(tmp_path: Path) -> None:
    first = record(tmp_path, _first(), at=AT)
    assert len(first) == 1
    assert api.load_result(tmp_path) == _first()
    assert record(tmp_path, _first(), at=AT) == ()
    grown = posts_for(["bot1", "bot2", "bot3", "bot4"], 3, "a", "The election was rigged")
    third = record(tmp_path, result_of([campaign_from("c-1", grown, ("n-aaa",))]), at=AT)
    assert [a.kind for a in third] == [AlertKind.CAMPAIGN_GROWN]
    assert load_alerts(tmp_path) == first + third


def test_alerts_round_trip_and_bad_lines(tmp_path: Path) -> None:
    alert = Alert(AlertKind.NEW_CAMPAIGN, "c", "msg", AT, ("a",))
    assert Alert.from_dict(alert.to_dict()) == alert
    assert load_alerts(tmp_path) == ()
    (tmp_path / "alerts.jsonl").write_text('{"kind": "new_campaign"}\n')
    with pytest.raises(MonitorError) as info:
        load_alerts(tmp_path)
    assert str(info.value.where).endswith("line 1")
    (tmp_path / "alerts.jsonl").write_text("not json\n")
    with pytest.raises(MonitorError):
        load_alerts(tmp_path)
    bad = alert.to_dict() | {"kind": "campaign_vanished"}
    with pytest.raises(MonitorError):
        Alert.from_dict(bad)


def test_alert_fields_are_added_not_renamed() -> None:
    brief = NarrativeBrief("n-1", 2, "claim", "https://case", ("c", "d"), ("p1", "p2"))
    alert = Alert(
        AlertKind.NEW_NARRATIVE, "c", "msg", AT, narrative="n-1", evidence=("p1", "p2"),
        campaigns=("c", "d"), narratives=(brief,),
    )  # fmt: skip
    data = alert.to_dict()
    old_keys = ["kind", "campaign", "message", "at", "accounts_added", "narrative",
                "previous_campaign", "evidence", "key"]  # fmt: skip
    assert list(data)[: len(old_keys)] == old_keys
    assert data["narratives"] == [
        {"id": "n-1", "posts": 2, "label": "claim", "known_case": "https://case",
         "campaigns": ["c", "d"], "evidence": ["p1", "p2"]}
    ]  # fmt: skip
    assert Alert.from_dict(json.loads(json.dumps(data))) == alert
    # a line written before these fields existed still reads
    old = {k: data[k] for k in old_keys}
    assert Alert.from_dict(old) == replace(alert, campaigns=(), narratives=())


@pytest.mark.parametrize(
    "bad",
    [
        {"campaigns": "c-1"},  # a string, not a list: not read as its characters
        {"narratives": {"id": "n"}},
        {"narratives": ["n-1"]},
        {"narratives": [{"posts": 2}]},  # no id
        {"narratives": [{"id": "n", "posts": -1}]},
        {"narratives": [{"id": "n", "posts": "2"}]},
        {"narratives": [{"id": "n", "evidence": "p1"}]},
        {"evidence": "p1"},
    ],
)
def test_malformed_new_fields_are_refused(bad: dict[str, object]) -> None:
    good = Alert(AlertKind.NEW_CAMPAIGN, "c", "m", AT).to_dict()
    assert Alert.from_dict(good).kind is AlertKind.NEW_CAMPAIGN  # the twin: reads
    with pytest.raises(MonitorError):
        Alert.from_dict(good | bad)
