"""``viche monitor ingest|detect|report`` end to end on a synthetic stream of posts."""

from __future__ import annotations

import csv
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import networkx as nx
import pytest
from monitor_corpus import real_embedder

from support.cli import run_cli
from viche.monitor import api
from viche.monitor import narratives as nar

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
BOT_CLAIMS = [
    "Secret American laboratories in Ukraine make biological weapons, share before it is deleted",
    "Biolabs in Ukraine are developing weapons for the Pentagon, the media stay silent about it",
    "The Pentagon runs bioweapon labs across Ukraine and nobody is asking questions about them",
]
WORDS = [
    "coffee",
    "garden",
    "rain",
    "music",
    "train",
    "book",
    "river",
    "city",
    "park",
    "school",
    "dog",
    "market",
    "film",
    "summer",
    "bread",
    "football",
    "museum",
    "bridge",
    "winter",
    "friend",
    "recipe",
    "concert",
    "beach",
    "mountain",
    "forest",
]


def _write_stream(path: Path, bots: list[str], rounds: int, start_round: int, seed: int) -> None:
    """Bots post the same claim within seconds of each other each round; 30 organic accounts
    post unrelated random text at random times."""
    rng = random.Random(seed)
    rows = []
    for r in range(start_round, start_round + rounds):
        base = T0 + timedelta(hours=3 * r)
        tail = " ".join(rng.choice(WORDS) for _ in range(8))
        claim = f"{BOT_CLAIMS[r % len(BOT_CLAIMS)]} Update {r}: {tail}"
        for i, bot in enumerate(bots):
            rows.append(
                {
                    "id": f"p-{bot}-{r}",
                    "author": bot,
                    "created_at": (base + timedelta(seconds=11 * i)).isoformat(),
                    "text": claim,
                    "lang": "en",
                    "urls": f"https://news.example/story-{r}",
                    "outlet": "",
                }
            )
        for k in range(30):
            when = base + timedelta(seconds=rng.randrange(3 * 3600))
            rows.append(
                {
                    "id": f"o-{k}-{r}",
                    "author": f"person{k}",
                    "created_at": when.isoformat(),
                    "text": " ".join(rng.choice(WORDS) for _ in range(12)),
                    "lang": "en",
                    "urls": "",
                    "outlet": "",
                }
            )
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


BOTS = [f"bot{i}" for i in range(5)]


@pytest.fixture()
def stream(tmp_path: Path) -> Path:
    path = tmp_path / "day1.csv"
    _write_stream(path, BOTS, rounds=8, start_round=0, seed=1)
    return path


def test_ingest_detect_report_and_incremental_alerts(tmp_path: Path, stream: Path) -> None:
    store = tmp_path / "store"
    run = run_cli("monitor", "ingest", str(stream), "--store", str(store))
    assert run.code == 0, run.stderr
    assert "280 posts added" in run.stdout  # 8 rounds x (5 bots + 30 organic)

    run = run_cli("monitor", "detect", "--store", str(store), "--no-narratives")
    assert run.code == 0, run.stderr
    assert "1 new alerts: 1 new_campaign" in run.stdout and "ALERT new_campaign" in run.stdout
    assert "more new_campaign" not in run.stdout  # all shown: nothing elided
    result = api.load_result(store)
    assert len(result.campaigns) == 1
    assert set(result.campaigns[0].accounts) == set(BOTS)
    assert all(not c.narratives for c in result.campaigns)

    out = tmp_path / "report"
    run = run_cli("monitor", "report", "--store", str(store), "--out", str(out))
    assert run.code == 0, run.stderr
    with (out / "accounts.csv").open() as f:
        accounts = {r["author_id"]: r for r in csv.DictReader(f)}
    assert len(accounts) == 35  # one row per account seen
    assert {a for a, r in accounts.items() if r["flagged"] == "1"} == set(BOTS)
    assert all(r["campaign"] == "" for a, r in accounts.items() if a.startswith("person"))
    assert nx.read_graphml(out / "network.graphml").number_of_nodes() == len(BOTS)
    page = (out / "report.html").read_text()
    assert page.count('<figure class="timeline">') == page.count('<figure class="net">') == 1
    assert page.count("<rect ") >= 1  # the volume of the posts read from the store
    assert page.count("<circle ") == len(BOTS)  # the campaign's accounts read from the store

    # the same data again: nothing new
    run = run_cli("monitor", "detect", "--store", str(store), "--no-narratives")
    assert run.code == 0 and "no new alerts" in run.stdout

    # new posts appended: one more bot joins the campaign
    day2 = tmp_path / "day2.csv"
    _write_stream(day2, [*BOTS, "bot5"], rounds=8, start_round=8, seed=2)
    assert run_cli("monitor", "ingest", str(day2), "--store", str(store)).code == 0
    run = run_cli("monitor", "detect", "--store", str(store), "--no-narratives")
    assert run.code == 0, run.stderr
    assert "ALERT campaign_grown" in run.stdout and "bot5" in run.stdout
    alerts = [json.loads(x) for x in (store / "alerts.jsonl").read_text().splitlines()]
    assert [a["kind"] for a in alerts] == ["new_campaign", "campaign_grown"]


def test_detect_with_narratives(
    tmp_path: Path, stream: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_embedder()  # the extra must be there (fails in CI when absent)
    monkeypatch.setenv("VICHE_CACHE", str(tmp_path / "cache"))
    store = tmp_path / "store"
    assert run_cli("monitor", "ingest", str(stream), "--store", str(store)).code == 0
    cases = tmp_path / "cases.csv"
    cases.write_text(
        "date,id,title,countries,keywords,languages,outlets\n"
        "2020-06-09,https://euvsdisinfo.eu/report/american-biolaboratories-in-ukraine/,"
        "American biolaboratories in Ukraine develop biological weapons,Ukraine+US,"
        "laboratory+Biological weapons,Russian,outlet\n"
        "2021-02-18,https://euvsdisinfo.eu/report/navalny/,German special services helped "
        "Navalny,Russia,Alexei Navalny,Russian,TASS\n",
        encoding="utf-8",
    )
    run = run_cli(
        "monitor", "detect", "--store", str(store), "--narratives",
        "--cases", str(cases), "--cases-since", "2020-01-01",
    )  # fmt: skip
    assert run.code == 0, run.stderr
    assert "1 new alerts: 1 new_campaign" in run.stdout  # its narratives are in its alert
    assert "ALERT new_narrative" not in run.stdout
    (campaign,) = api.load_result(store).campaigns
    assert campaign.narratives
    (alert,) = [json.loads(x) for x in (store / "alerts.jsonl").read_text().splitlines()]
    assert [n["id"] for n in alert["narratives"]] == [n.id for n in campaign.narratives]
    assert alert["narratives"][0]["known_case"] == campaign.narratives[0].known_case
    assert alert["narratives"][0]["evidence"] == list(campaign.narratives[0].post_ids[:20])
    assert campaign.narratives[0].known_case.endswith("american-biolaboratories-in-ukraine/")
    (cache,) = (tmp_path / "cache").glob("case-vectors-*.npz")  # for the next run
    assert len(nar.CaseVectorCache(cache.parent, real_embedder().name).load()) == 2


def test_usage_errors(tmp_path: Path, stream: Path) -> None:
    empty = tmp_path / "nothing"
    run = run_cli("monitor", "detect", "--store", str(empty), "--no-narratives")
    assert run.code == 2 and "V9001" in run.stderr and "monitor ingest" in run.stderr
    run = run_cli("monitor", "report", "--store", str(empty), "--out", str(tmp_path / "r"))
    assert run.code == 2 and "V9001" in run.stderr
    run = run_cli("monitor", "ingest", str(tmp_path / "absent.csv"), "--store", str(empty))
    assert run.code == 2 and "absent.csv" in run.stderr
    assert not empty.exists()  # nothing created on refusal
    run = run_cli("monitor", "ingest", str(stream), "--store", str(empty), "--format", "xml")
    assert run.code == 2
    store = tmp_path / "store"
    assert run_cli("monitor", "ingest", str(stream), "--store", str(store)).code == 0
    run = run_cli("monitor", "report", "--store", str(store), "--out", str(tmp_path / "r"))
    assert run.code == 2 and "monitor detect" in run.stderr  # detect has not run yet
    run = run_cli(
        "monitor", "detect", "--store", str(store), "--narratives",
        "--cases", str(tmp_path / "no-cases.csv"),
    )  # fmt: skip
    assert run.code == 2 and "no-cases.csv" in run.stderr
    run = run_cli("monitor", "detect", "--store", str(store), "--cases-since", "last year")
    assert run.code == 2 and "YYYY-MM-DD" in run.stderr


def test_malformed_rows_are_reported(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("id,author,created_at,text\n1,a,2026-03-01T10:00:00Z,ok\n2,b,yesterday,x\n")
    run = run_cli("monitor", "ingest", str(bad), "--store", str(tmp_path / "s"))
    assert run.code == 0
    assert "1 posts added" in run.stdout and "1 malformed rows" in run.stdout
    assert "line 3" in run.stderr


def test_every_monitor_command_has_help() -> None:
    for cmd in ("ingest", "detect", "report"):
        run = run_cli("monitor", cmd, "--help")
        assert run.code == 0 and "--store" in run.stdout
    assert "--no-narratives" in run_cli("monitor", "detect", "--help").stdout


def test_many_alerts_are_summarised(
    tmp_path: Path, stream: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from viche.cli import monitor as cli

    monkeypatch.setattr(cli, "MAX_ALERTS_PRINTED", 0)
    store = tmp_path / "store"
    assert run_cli("monitor", "ingest", str(stream), "--store", str(store)).code == 0
    run = run_cli("monitor", "detect", "--store", str(store), "--no-narratives")
    assert run.code == 0, run.stderr
    assert "ALERT" not in run.stdout
    assert "1 new alerts: 1 new_campaign" in run.stdout  # counted by kind
    assert "… 1 more new_campaign alerts" in run.stdout
    assert "alerts.jsonl in the store" in run.stdout


ROW = '{"id":"%s","author":"a","created_at":"2026-03-01T10:00:00Z","text":"ok"%s}\n'


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        (',"n":' + "9" * 5000, "a number with too many digits"),
        (',"n":' + "[" * 1000 + "]" * 1000, "nested too deeply"),
        (',"n":' + "{" * 600 + "}" * 600, "invalid JSON"),
    ],
)
def test_hostile_json_lines_are_malformed_rows(tmp_path: Path, extra: str, reason: str) -> None:
    rows = tmp_path / "rows.jsonl"
    rows.write_text(ROW % ("bad", extra) + ROW % ("good", ""))
    run = run_cli("monitor", "ingest", str(rows), "--store", str(tmp_path / "s"))
    assert run.code == 0, run.stderr
    assert "1 posts added" in run.stdout and "1 malformed rows" in run.stdout
    assert "line 1:" in run.stderr and reason in run.stderr


def test_plain_json_lines_are_added(tmp_path: Path) -> None:
    rows = tmp_path / "rows.jsonl"
    rows.write_text(ROW % ("one", ',"n":' + "9" * 40) + ROW % ("two", ',"n":[[[1]]]'))
    run = run_cli("monitor", "ingest", str(rows), "--store", str(tmp_path / "s"))
    assert run.code == 0, run.stderr
    assert "2 posts added" in run.stdout and "0 malformed rows" in run.stdout


def test_markup_in_rows_and_file_names_is_printed_verbatim(tmp_path: Path) -> None:
    rows = tmp_path / "[bold]x[red].jsonl"
    rows.write_text('{"id":"1","author":"a","created_at":"[/x] [red]","text":"ok"}\n')
    run = run_cli("monitor", "ingest", str(rows), "--store", str(tmp_path / "s"))
    assert run.code == 0, run.stderr
    assert "[bold]x[red].jsonl: 0 posts added" in run.stdout
    assert "[/x] [red]" in run.stderr


def test_narratives_hint_names_the_extra(
    tmp_path: Path, stream: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from viche.monitor import embed

    store = tmp_path / "store"
    assert run_cli("monitor", "ingest", str(stream), "--store", str(store)).code == 0
    monkeypatch.setattr(embed, "is_available", lambda: False)
    run = run_cli("monitor", "detect", "--store", str(store))
    assert run.code == 0, run.stderr
    assert f"narratives skipped: {embed.INSTALL_HINT}" in run.stderr
    assert "pip install -e '.[embed]'" in run.stderr
    quiet = run_cli("monitor", "detect", "--store", str(store), "--no-narratives")
    assert quiet.code == 0 and "narratives skipped" not in quiet.stderr


def test_alerts_are_printed_grouped_by_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import UTC, datetime

    from viche.cli import monitor as cli
    from viche.cli.output import out
    from viche.monitor.alerts import Alert, AlertKind

    at = datetime(2026, 3, 1, tzinfo=UTC)
    mixed = [
        Alert(AlertKind.NEW_NARRATIVE, "c-1", "narrative one", at),
        Alert(AlertKind.NEW_CAMPAIGN, "c-2", "campaign two", at),
        Alert(AlertKind.NEW_NARRATIVE, "c-1", "narrative two", at),
        Alert(AlertKind.NEW_CAMPAIGN, "c-3", "campaign three", at),
        Alert(AlertKind.NEW_CAMPAIGN, "c-4", "campaign four", at),
    ]
    monkeypatch.setattr(cli, "MAX_ALERTS_PRINTED", 2)
    with out.capture() as cap:
        cli._print_alerts(mixed)
    text = cap.get()
    assert "5 new alerts: 3 new_campaign, 2 new_narrative" in text
    assert text.index("campaign three") < text.index("narrative one")  # grouped, kinds' order
    assert "campaign four" not in text and "… 1 more new_campaign alerts" in text
    assert "narrative two" in text and "more new_narrative" not in text  # the twin: all shown
    monkeypatch.setattr(cli, "MAX_ALERTS_PRINTED", 10)
    with out.capture() as cap:
        cli._print_alerts(mixed)
    assert "campaign four" in cap.get() and "more" not in cap.get()
    with out.capture() as cap:
        cli._print_alerts([])
    assert cap.get().strip() == "no new alerts"
