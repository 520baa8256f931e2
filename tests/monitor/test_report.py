"""Campaign reports and the DataFrame API, on synthetic detection results."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import networkx as nx
import pytest
from monitor_synthetic import campaign_from, posts_for, result_of

from viche.errors import MissingFileError, MonitorError
from viche.monitor import api
from viche.monitor.model import DetectionResult, Post
from viche.monitor.report import (
    REPORT_FILES,
    _summary_html,
    network,
    pushed_summary,
    render_html,
    write_report,
)

World = tuple[DetectionResult, dict[str, Post]]


@pytest.fixture()
def world() -> World:
    a = posts_for(["bot1", "bot2", "bot3"], 3, "a", "The election was rigged by the West")
    b = posts_for(["troll1", "troll2"], 2, "b", "NATO will attack from Poland")
    result = result_of(
        [campaign_from("c-1", a, ("n-aaa",)), campaign_from("c-2", b)], ("organic1", "organic2")
    )
    return result, {p.id: p for p in a + b}


class _Assets(HTMLParser):
    """Tags that could load something from outside, and the inline pictures."""

    def __init__(self) -> None:
        super().__init__()
        self.external: list[str] = []
        self.svgs = 0
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        d = dict(attrs)
        if tag in ("img", "link", "iframe") or (tag == "script" and d.get("src")):
            self.external.append(tag)
        self.svgs += tag == "svg"
        self.scripts += tag == "script"


def test_report_writes_every_output(tmp_path: Path, world: World) -> None:
    result, posts = world
    paths = write_report(result, posts, tmp_path / "out")
    assert sorted(paths) == sorted(REPORT_FILES)
    for p in paths.values():
        assert p.is_file() and p.stat().st_size > 0

    # accounts.csv: one row per account seen, author_id, score, flagged 0/1, campaign or empty
    with paths["accounts.csv"].open() as f:
        rows = list(csv.DictReader(f))
    assert [r["author_id"] for r in rows] == [a.author_id for a in result.accounts]
    by_author = {r["author_id"]: r for r in rows}
    assert by_author["bot1"]["flagged"] == "1" and by_author["bot1"]["campaign"] == "c-1"
    assert by_author["organic1"]["flagged"] == "0" and by_author["organic1"]["campaign"] == ""
    assert list(rows[0]) == ["author_id", "score", "flagged", "campaign", "tier"]

    # edges.csv carries the evidence: the pairs of posts and their times
    with paths["edges.csv"].open() as f:
        edges = list(csv.DictReader(f))
    assert len(edges) == 3  # c-1: bot1-bot2, bot2-bot3; c-2: troll1-troll2
    first = next(e for e in edges if e["account_a"] == "bot1")
    assert first["n_evidence"] == "3"
    assert (
        "a0-bot1@2026-03-01T09:00:00+00:00 ~ a0-bot2@2026-03-01T09:00:07+00:00" in first["evidence"]
    )
    with paths["evidence.csv"].open() as f:
        ev = list(csv.DictReader(f))
    assert len(ev) == 3 + 3 + 2
    assert {e["lag_seconds"] for e in ev} == {"7.0"}

    with paths["posts.csv"].open() as f:
        post_rows = list(csv.DictReader(f))
    assert {r["post_id"] for r in post_rows} == set(posts)
    assert {r["narratives"] for r in post_rows if r["campaign"] == "c-1"} == {"n-aaa"}

    # JSON round trip
    doc = json.loads(paths["report.json"].read_text())
    assert api.result_from_dict(doc) == result

    # GraphML readable (Gephi's format), with the attributes of nodes and edges
    g = nx.read_graphml(paths["network.graphml"])
    assert set(g.nodes) == {"bot1", "bot2", "bot3", "troll1", "troll2"}
    assert g.nodes["bot1"]["campaign"] == "c-1"
    assert g.edges["bot1", "bot2"]["n_evidence"] == 3
    assert g.edges["bot1", "bot2"]["behaviours"] == "near_duplicate_text"


def test_html_is_self_contained_with_real_plots(tmp_path: Path, world: World) -> None:
    result, posts = world
    page = write_report(result, posts, tmp_path)["report.html"].read_text()
    parser = _Assets()
    parser.feed(page)
    assert parser.external == []  # no image, stylesheet or script from anywhere
    assert parser.scripts == 1  # the inline one (sorting, language)
    # per campaign: a card sparkline (c-1 spans 3 hours: one day, no curve), a timeline and
    # a network picture
    assert parser.svgs == 4
    assert page.count("<rect ") == 2 and page.count("<circle ") == 5
    assert "http://" not in page.replace("https://euvsdisinfo.eu", "")
    for needle in (
        "c-1",
        "c-2",
        "n-aaa",
        "a0-bot1",
        "2026-03-01T09:00:07+00:00",
        "near-identical text",
        "https://euvsdisinfo.eu/report/x/",
        "“The West rigged it”",
        "Кампанії",
        "Campaigns",
    ):
        assert needle in page


def test_cards_come_first_and_link_to_campaigns_and_evidence(world: World) -> None:
    result, posts = world
    page = render_html(result, posts)
    cards = page.index("class='cards'")
    assert cards < page.index('id="c0"') < page.index('id="c1"')
    assert '<a href="#c0">c-1</a>' in page and '<a href="#ev0">' in page
    card = page[cards : page.index('id="c0"')]
    assert "<b>3</b>" in card and "<b>9</b>" in card  # 3 accounts, 9 posts
    # the accounts table links each account to the evidence of its strongest edge
    table = page.split('id="acc0"')[1].split("</table>")[0]
    assert table.count("<tr>") == 4 and 'href="#e0-' in table
    assert page.count('class="sortable"') == 2


def test_a_card_names_a_narrative_by_its_posts_and_its_known_case_as_a_hint(
    world: World,
) -> None:
    result, posts = world
    page = render_html(result, posts)
    cards = page[page.index("class='cards'") : page.index('id="c0"')]
    (narrative,) = result.campaigns[0].narratives
    item = cards.split('<div class="k">')[1].split("</ol>")[0]  # the first card's narratives
    hint = item.index('<span class="muted">≈')
    assert item.index(narrative.label) < hint < item.index("“The West rigged it”")
    assert f"({narrative.known_case_similarity:.2f})" in item
    # failure twin: without a known case there is no hint, and the label is still there
    c = result.campaigns[0]
    plain = replace(narrative, known_case="", known_case_title="", known_case_similarity=0.0)
    page = render_html(replace(result, campaigns=(replace(c, narratives=(plain,)),)), posts)
    cards = page[page.index("class='cards'") : page.index('id="c0"')]
    assert narrative.label in cards
    assert '<span class="muted">≈' not in cards and "The West rigged it" not in cards


def test_html_escapes_post_text(world: World) -> None:
    result, posts = world
    bad = "<script>alert(1)</script>"
    evil = [
        replace(p, text=f"{bad} repeated text, long enough", urls=(f"https://x.test/{bad}",),
                hashtags=(bad,), lang=bad)
        for p in posts.values()
        if p.author == "bot1"
    ]  # fmt: skip
    page = render_html(result, {**posts, **{p.id: p for p in evil}})
    assert page.count("<script>") == 1  # the page's own
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; repeated text" in page  # card and summary
    assert "x.test/&lt;script&gt;" in page
    # a known case's address from outside data is a link only when it is http(s)
    c = result.campaigns[0]
    bad_case = replace(c.narratives[0], known_case="javascript:alert(1)")
    odd = replace(result, campaigns=(replace(c, narratives=(bad_case,)), *result.campaigns[1:]))
    page = render_html(odd, posts)
    assert 'href="javascript' not in page and "javascript:alert(1)" in page


def test_associated_accounts_are_listed_apart_and_escaped(world: World) -> None:
    result, posts = world
    c = result.campaigns[0]
    bad = "<b>persona</b>"
    game = next(iter(posts.values()))
    said = replace(game, id="p2-1", author="persona2", text="<i>my</i> #leakgame3 entry")
    camp = replace(c, associated=(bad, "persona2"), associated_posts=(("persona2", "p2-1"),))
    with_assoc = replace(result, campaigns=(camp,))
    assert "p2-1" in api.campaign_post_ids(camp)
    page = render_html(with_assoc, {**posts, said.id: said})
    assert "[p2-1]" in page and "&lt;i&gt;my&lt;/i&gt; #leakgame3 entry" in page
    assert '<span class="en">Associated accounts</span> (2)</h3>' in page
    assert "&lt;b&gt;persona&lt;/b&gt;" in page and "<b>persona</b>" not in page
    assert "persona2" in page
    assert "Associated accounts" not in render_html(result, posts)


def test_report_without_campaigns_says_so(tmp_path: Path) -> None:
    empty = result_of([], ("a", "b"))
    paths = write_report(empty, [], tmp_path)
    page = paths["report.html"].read_text()
    assert "No coordinated campaign was found" in page and "Скоординованих кампаній" in page
    assert api.edges(empty).empty and list(api.edges(empty).columns) == api.EDGE_COLUMNS
    assert len(api.accounts(empty)) == 2


def test_report_into_unwritable_place_fails(tmp_path: Path, world: World) -> None:
    result, posts = world
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(MonitorError) as info:
        write_report(result, posts, blocker / "out")
    assert str(info.value.where) == str(blocker / "out")


def test_network_graph_matches_campaign_edges(world: World) -> None:
    result, _ = world
    g = network(result)
    assert g.number_of_edges() == sum(len(c.edges) for c in result.campaigns)
    assert not g.has_edge("bot1", "troll1")


def test_api_frames(world: World) -> None:
    result, posts = world
    camp = api.campaigns(result)
    assert list(camp["campaign"]) == ["c-1", "c-2"]
    assert camp.loc[0, "n_accounts"] == 3 and camp.loc[0, "n_evidence"] == 6
    assert camp.loc[0, "known_cases"] == "https://euvsdisinfo.eu/report/x/"
    ev = api.evidence(result)
    assert set(ev.columns) == set(api.EVIDENCE_COLUMNS)
    assert (ev["time_a"] < ev["time_b"]).all()
    nar = api.narratives(result)
    assert list(nar["narrative"]) == ["n-aaa"] and nar.loc[0, "n_posts"] == 9
    acc = api.accounts(result)
    assert acc["flagged"].tolist() == [1, 1, 1, 1, 1, 0, 0]
    assert len(api.posts(result, posts)) == len(posts)


def test_result_saved_and_loaded(tmp_path: Path, world: World) -> None:
    result, _ = world
    api.save_result(tmp_path, result)
    assert api.load_result(tmp_path) == result


def test_load_result_missing_or_malformed(tmp_path: Path, world: World) -> None:
    with pytest.raises(MissingFileError):
        api.load_result(tmp_path)
    result, _ = world
    doc = api.result_to_dict(result)
    doc["campaigns"][0]["edges"][0]["evidence"][0]["time_a"] = "2026-03-01T09:00:00"
    with pytest.raises(MonitorError) as info:
        api.result_from_dict(doc)
    assert "campaign 0 / edge 0 / evidence 0" in str(info.value.where)
    del doc["campaigns"][0]["accounts"]
    with pytest.raises(MonitorError):
        api.result_from_dict(doc)
    with pytest.raises(MonitorError):
        api.result_from_dict({"format": "something else"})
    api.result_path(tmp_path).parent.mkdir()
    api.result_path(tmp_path).write_text("[1, 2")
    with pytest.raises(MonitorError):
        api.load_result(tmp_path)


def test_timezone_kept_in_evidence(world: World) -> None:
    result, _ = world
    ev = api.evidence(result)
    t = datetime.fromisoformat(str(ev.loc[0, "time_a"]))
    assert t.tzinfo is not None and t.utcoffset() == UTC.utcoffset(t)


def test_narrative_posts_shown_once_per_text(world: World) -> None:
    result, posts = world
    page = render_html(result, posts)
    narrative = page.split('Наративи</span><span class="en">Narratives</span></h3>')[1]
    narrative = narrative.split("</details>")[0]
    # 9 posts, 3 distinct texts (one per round): each text once, with the count of repeats
    assert narrative.count("<blockquote>") == 3
    assert narrative.count("(+2 ") == 3
    assert "[a0-bot1]" in narrative and "[a0-bot2]" not in narrative  # the earliest is shown


def test_html_caps_edges_but_tables_keep_all(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from viche.monitor import report

    result, posts = world
    monkeypatch.setattr(report, "MAX_EDGES_SHOWN", 1)
    page = render_html(result, posts)
    assert "the 1 strongest of 2 edges" in page
    assert page.count('<details id="e') == 2  # one edge of each campaign (c-2 has only one)
    assert len(api.edges(result)) == 3


def test_network_picture_keeps_the_most_connected_accounts(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from viche.monitor import report

    result, _ = world
    c = result.campaigns[0]
    # a star of 300 accounts around a hub, and a chain: the picture keeps 60, hub first
    spokes = tuple(f"s{i:03d}" for i in range(300))
    edges = tuple(
        replace(c.edges[0], account_a="hub", account_b=s, weight=1.0 + i % 3)
        for i, s in enumerate(spokes)
    )
    big = replace(c, accounts=("hub", *spokes, "joiner"), edges=edges)
    svg = report.network_svg(big)
    assert svg.count("<circle ") == report.NETWORK_NODES
    assert "<title>hub: 300 edges" in svg
    assert "60 of 302 accounts" in svg and "59 of 300 edges" in svg
    assert svg.count("<text ") == report.NETWORK_LABELS
    # an edge to an account missing from the campaign's list is drawn too (no KeyError)
    stray = replace(c, edges=(*c.edges, replace(c.edges[0], account_b="outsider")))
    assert "outsider" in report.network_svg(stray)
    # two components: each in its own cell, both inside the picture and apart
    pair = replace(c.edges[0], account_a="x1", account_b="x2")
    two = report.network_svg(replace(big, accounts=(*big.accounts, "x1", "x2"),
                                     edges=(*edges[:20], pair)))  # fmt: skip
    centres = [
        (float(x), float(y)) for x, y in re.findall(r'<circle cx="([\d.]+)" cy="([\d.]+)"', two)
    ]
    assert len(centres) == 23 and all(0 <= v <= 460 for xy in centres for v in xy)
    assert len({round(x / 46) for x, _ in centres}) > 3  # spread out, not squeezed into a dot
    # a campaign without edges: a caption, no picture
    assert "<svg" not in report.network_svg(replace(c, edges=()))
    monkeypatch.setattr(report, "NETWORK_NODES", 2)
    assert report.network_svg(c).count("<circle ") == 2


def test_timeline_bins_by_week_when_long() -> None:
    from viche.monitor.report import sparkline_svg, timeline_svg

    d0 = datetime(2016, 1, 1).toordinal()
    short = timeline_svg([(d0, 3), (d0 + 2, 5)])
    assert short.count("<rect ") == 2 and "posts per day" in short and "2016-01-03" in short
    long = timeline_svg([(d0 + k, 1) for k in range(0, 400, 2)])
    assert "posts per week" in long and long.count("<rect ") == 57  # days 0..398
    assert ">4</text>" in long  # the busiest week: 4 posts (every other day)
    assert "no posts in the store" in timeline_svg([])
    assert sparkline_svg([(d0, 1)]) == "" and "<polyline" in sparkline_svg([(d0, 1), (d0 + 1, 2)])


def test_alerts_are_counted_not_repeated_and_mark_the_cards(world: World) -> None:
    result, by_id = world
    alerts = [
        {"kind": "new_campaign", "campaign": "c-1", "message": "new campaign c-1: 3 accounts"},
        *(
            {"kind": "new_narrative", "campaign": "c-1", "message": f"new narrative n-{i}"}
            for i in range(30)
        ),
    ]
    page = render_html(result, by_id, alerts=alerts)
    assert page.index("class='cards'") < page.index("Alerts</span> (31)")
    assert "new_campaign 1, new_narrative 30" in page
    card = page.split('<a href="#c0">c-1</a>')[1].split("</h3>")[0]
    assert '<span class="badge"><span class="uk">нова</span>' in card
    folded = page.index("all alerts</span></summary>")
    assert folded < page.index("new campaign c-1: 3 accounts")
    assert folded < page.index("<h3>new_campaign (1)</h3>") < page.index("<h3>new_narrative (30)")


def test_a_narrative_alert_marks_every_campaign_it_names(world: World) -> None:
    result, by_id = world
    shared = {"kind": "new_narrative", "campaign": "c-1", "campaigns": ["c-1", "c-2"],
              "message": "new narrative n-s in 2 campaigns (c-1, c-2)"}  # fmt: skip
    page = render_html(result, by_id, alerts=[shared])
    badge = '<span class="badge"><span class="uk">новий наратив</span>'
    cards = page.split("<div class='cards'>")[1].split("<h2>")[0]
    assert cards.count(badge) == 2  # c-1 and c-2
    # the twin: an alert of one campaign (older lines have no 'campaigns') marks that one
    page = render_html(result, by_id, alerts=[{**shared, "campaigns": None}])
    cards = page.split("<div class='cards'>")[1].split("<h2>")[0]
    assert cards.count(badge) == 1
    c1 = page.split('<a href="#c0">c-1</a>')[1].split("</h3>")[0]
    assert badge in c1


def test_report_streams_posts_once(tmp_path: Path, world: World) -> None:
    result, posts = world
    seen: list[str] = []

    def stream() -> Iterator[Post]:
        for p in posts.values():
            seen.append(p.id)
            yield p

    paths = write_report(result, stream(), tmp_path)
    assert sorted(seen) == sorted(posts)  # one pass
    with paths["posts.csv"].open() as f:
        assert {r["post_id"] for r in csv.DictReader(f)} == set(posts)


def test_no_alerts_no_alert_section(world: World) -> None:
    result, by_id = world
    assert "Alerts</span>" not in render_html(result, by_id)


def test_pushed_summary_counts_links_tags_texts_and_languages() -> None:
    t = datetime(2024, 11, 2, 10, 0, tzinfo=UTC)
    leak = "Центрвиборчком готує скасування виборів у трьох областях"
    posts = [
        Post("a1", "a", t, leak, lang="uk", urls=("https://x.test/doc?utm_source=tg",),
             hashtags=("Вибори",)),
        Post("b1", "b", t.replace(hour=11), leak + "!", urls=("http://www.x.test/doc/",),
             hashtags=("#вибори",)),
        Post("c1", "c", t.replace(hour=12), "Выборы отменят, это уже решено окончательно",
             lang="ru", urls=("https://y.test/",)),
    ]  # fmt: skip
    posts.append(Post("d1", "d", t, "cut link", urls=("https://t…",)))  # no host: not counted
    posts.append(Post("e1", "e", t, "a name", lang="Russian"))  # counted as its code
    s = pushed_summary(posts)
    assert s.posts == 5 and s.first == t and s.last == t.replace(hour=12)
    assert s.links == (("x.test/doc", 2), ("y.test", 1))
    assert s.hashtags == (("вибори", 2),)
    assert s.languages == (("ru", 2), ("uk", 2), ("en", 1))  # guessed from the letters if unset
    assert s.texts == ((leak, 2),)  # equal once normalised; a text seen once is not "repeated"
    page = _summary_html(s)
    assert "Що поширювала" in page and "What it pushed" in page
    assert "x.test/doc <b>×2</b>" in page
    empty = pushed_summary([])
    assert empty.posts == 0 and empty.links == () and empty.first is None
    assert "—" in _summary_html(empty)


def test_summary_escapes_what_the_posts_say() -> None:
    t = datetime(2024, 11, 2, tzinfo=UTC)
    bad = "<script>alert(1)</script> repeated text that is long enough"
    s = pushed_summary([Post("1", "a", t, bad), Post("2", "b", t, bad)])
    assert "<script>" not in _summary_html(s) and "&lt;script&gt;" in _summary_html(s)
