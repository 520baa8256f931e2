"""Alerts between two detections of a growing store."""

from __future__ import annotations

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
    compare,
    load_alerts,
    match_campaigns,
    overlap,
    record,
)
from viche.monitor.model import DetectionResult

AT = datetime(2026, 3, 2, tzinfo=UTC)


def _first() -> DetectionResult:
    a = posts_for(["bot1", "bot2", "bot3"], 3, "a", "The election was rigged")
    return result_of([campaign_from("c-1", a, ("n-aaa",))])


def test_overlap() -> None:
    assert overlap("abc", "bcd") == pytest.approx(2 / 3)
    assert overlap("ab", "abcdef") == 1.0
    assert overlap("", "ab") == 0.0
    assert overlap("ab", "cd") == 0.0


def test_first_run_reports_every_campaign_as_new() -> None:
    alerts = compare(None, _first(), at=AT)
    kinds = [a.kind for a in alerts]
    assert kinds == [AlertKind.NEW_CAMPAIGN, AlertKind.NEW_NARRATIVE]
    assert alerts[0].accounts_added == ("bot1", "bot2", "bot3")


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
    assert len(first) == 2
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
