"""Nothing from outside crashes the monitor: the defects the input-mutation campaign found
(bench/fuzz_monitor, 2026-12-06), one test each, then a short run of the campaign itself
(its mutations and contract: tests/support/monitor_mutation.py)."""

from __future__ import annotations

import csv
import gzip
import json
import os
import random
import threading
import time
import tracemalloc
import zlib
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import networkx as nx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from monitor_synthetic import campaign_from, posts_for, result_of

from support.cli import run_cli
from support.monitor_mutation import READERS, SECRET, check, check_watch, make_case
from viche.errors import IngestError
from viche.monitor import ingest as ingest_module
from viche.monitor import news, watch
from viche.monitor.alerts import Alert, AlertKind, alerts_path, load_alerts
from viche.monitor.ingest import IngestReport, _detect_format, ingest, read_posts
from viche.monitor.model import DetectionResult
from viche.monitor.narratives import load_cases
from viche.monitor.report import write_report
from viche.monitor.store import Store
from viche.monitor.watch import JsonLinesSink, WatchConfig, Watcher, fetch_feed

FIXTURES = Path(__file__).parent / "fixtures"


def read(path: Path, fmt: Any = "auto") -> tuple[list[Any], IngestReport]:
    report = IngestReport(source=str(path))
    return list(read_posts(path, fmt, report)), report


def channel(messages: list[dict[str, Any]]) -> dict[str, Any]:
    return {"name": "c", "type": "public_channel", "id": 1777, "messages": messages}


def message(**fields: Any) -> dict[str, Any]:
    return {"id": 1, "type": "message", "date_unixtime": "1730541900", "text": "x", **fields}


# -- timestamps no date has: OverflowError escaped (CSV, JSON Lines, feeds) --------------------
@pytest.mark.parametrize(
    "stamp", ["inf", "-inf", "1e30", "-1e30", "0001-01-01T00:00:00+05:00", "9" * 400]
)
def test_a_timestamp_no_date_has_is_a_malformed_row(tmp_path: Path, stamp: str) -> None:
    path = tmp_path / "posts.csv"
    path.write_text(f"id,author,created_at\n1,a,{stamp}\n2,b,2024-11-02\n", encoding="utf-8")
    posts, report = read(path)
    assert [p.id for p in posts] == ["2"]
    assert report.problems[0].line == 2 and "out of range" in report.problems[0].reason


def test_a_json_number_no_date_has_is_a_malformed_row(tmp_path: Path) -> None:
    path = tmp_path / "posts.jsonl"
    path.write_text('{"id": "1", "author": "a", "created_at": 1e400}\n', encoding="utf-8")
    posts, report = read(path)
    assert posts == [] and "out of range" in report.problems[0].reason


def test_a_feed_entry_dated_year_zero_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "feed.atom"
    text = (FIXTURES / "news" / "feed.atom").read_text(encoding="utf-8")
    path.write_text(text.replace("2024-11-02T13:00:00+02:00", "0000-00-00"), encoding="utf-8")
    posts, report = read(path)
    assert posts == [] and "date" in report.problems[0].reason


def test_a_feed_that_breaks_the_feed_parser_is_refused_with_where(tmp_path: Path) -> None:
    """feedparser's loose parser raised UnicodeEncodeError on a surrogate's character
    reference."""
    path = tmp_path / "feed.rss"
    text = (FIXTURES / "news" / "feed.rss").read_text(encoding="utf-8")
    path.write_text(text.replace("<title>", "<title>&#xD800;", 1), encoding="utf-8")
    with pytest.raises(IngestError, match="not a readable RSS/Atom feed") as caught:
        read(path)
    assert caught.value.where.file == str(path)


# -- gzip that is not gzip, or cut in its first kilobytes: BadGzipFile, EOFError escaped -------
@pytest.mark.parametrize("content", [b"id,author,created_at\n", b"\x1f\x8b\x08\x00cut"])
def test_a_gz_that_cannot_be_opened_is_refused_with_where(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "posts.csv.gz"
    path.write_bytes(content)
    with pytest.raises(IngestError, match="cannot read the file") as caught:
        read(path)
    assert caught.value.where.file == str(path)


def test_a_bare_carriage_return_in_the_first_line_is_read_as_csv(tmp_path: Path) -> None:
    """Auto-detection parsed the opening line alone and csv.Error escaped."""
    path = tmp_path / "posts.csv"
    path.write_bytes(b"id,author,created_at\r1,a,2024-11-02\r")
    posts, _ = read(path)
    assert [p.id for p in posts] == ["1"]


# -- an endless row: read whole into memory (a 1 KB gzip of a 1 GB line) -----------------------
def test_an_endless_row_stops_the_reading_in_bounded_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingest_module, "MAX_ROW_CHARS", 1 << 20)
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    head = b"id,author,created_at,text\n1,a,2024-11-02,kept\n2,b,2024-11-02,\""
    data = comp.compress(head) + comp.compress(b"a" * (16 << 20)) + comp.flush()
    path = tmp_path / "bomb.csv.gz"
    path.write_bytes(data)
    tracemalloc.start()
    try:
        posts, report = read(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [p.id for p in posts] == ["1"]
    assert "longer than" in report.problems[-1].reason
    assert peak < 12 << 20  # the line is 16 MiB: it was never held whole


# -- Telegram exports: RecursionError, ValueError, OverflowError, RuntimeError escaped -----------
@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ('{"messages": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply"),
        ('{"messages": [], "id": ' + "9" * 5000 + "}", "too many digits"),
    ],
)
def test_a_hostile_export_is_refused_with_where(tmp_path: Path, content: str, reason: str) -> None:
    path = tmp_path / "result.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(IngestError, match=reason) as caught:
        read(path, "telegram")
    assert caught.value.where.file == str(path)


def test_auto_detection_survives_a_deeply_nested_opening_line() -> None:
    """It parses the opening line (RecursionError escaped)."""
    assert _detect_format(Path("result.json"), '{"messages": ' + "[" * 8000) == "telegram"


def test_a_reason_quoting_a_huge_value_is_cut(tmp_path: Path) -> None:
    """fromisoformat's error quoted a 100 KB 'date' whole, in the report and on screen."""
    path = tmp_path / "result.json"
    bad = message(date_unixtime=None, date="2024" + "x" * 100_000)
    path.write_text(json.dumps(channel([bad])), encoding="utf-8")
    _, report = read(path)
    assert report.malformed == 1 and len(report.problems[0].reason) <= 301


def test_views_beyond_64_bits_are_not_kept(tmp_path: Path) -> None:
    path = tmp_path / "result.json"
    path.write_text(json.dumps(channel([message(views=2**70)])), encoding="utf-8")
    with Store() as store:
        report = ingest(path, store)
        assert report.added == 1
        assert store.extras(["tg:-1001777:1"]) == {}


def test_an_attachment_through_a_symlink_loop_is_keyed_by_its_name(tmp_path: Path) -> None:
    (tmp_path / "files").mkdir()
    os.symlink("loop", tmp_path / "files" / "loop")
    path = tmp_path / "result.json"
    path.write_text(json.dumps(channel([message(file="files/loop")])), encoding="utf-8")
    posts, report = read(path)
    assert report.malformed == 0 and posts[0].urls == ("file:name:loop:",)


# -- lone surrogates (JSON's "\ud800"): UnicodeEncodeError from SQLite --------------------------
@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("posts.jsonl", '{"id": "1\\udfff", "author": "a", "created_at": 1730541900,'
         ' "text": "x\\ud800"}\n'),
        ("result.json", json.dumps(channel([message(text="x\ud800")]))),
    ],
)  # fmt: skip
def test_lone_surrogates_are_stored_as_replacement_characters(
    tmp_path: Path, name: str, content: str
) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with Store(tmp_path / "s.sqlite") as store:
        store.append_rows([("before", "k", 1730541900, "kept", "", "", "", "", "")])
        assert ingest(path, store).added == 1
        texts = {p.id: p.text for p in store.posts()}
    assert texts.pop("before") == "kept" and list(texts.values()) == ["x\ufffd"]


# -- feeds: read whole before the size cap was checked -------------------------------------------
def test_a_feed_larger_than_the_cap_is_not_read_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(news, "MAX_FEED_BYTES", 1000)
    path = tmp_path / "feed.rss"
    path.write_bytes(b"<rss>" + b" " * 100_000)

    def whole(self: Path) -> bytes:
        raise AssertionError(f"{self} read whole")

    monkeypatch.setattr(Path, "read_bytes", whole)
    with pytest.raises(IngestError, match="larger than"):
        read(path, "feed")
    assert len(fetch_feed(str(path), max_bytes=1000)) == 1001


# -- what is printed: the terminal's escape sequences came through ----------------------------
def test_control_characters_from_outside_are_printed_as_escapes(tmp_path: Path) -> None:
    name = os.fsdecode(b"[red]x[red]\x1b[2J\xff\xe2\x80\xae.csv")
    path = tmp_path / name
    path.write_bytes(b"id,author,created_at\n1,a,2024-11-02\n2,b,\x1b]0;pwned\x07\n")
    run = run_cli("monitor", "ingest", str(path), "--store", str(tmp_path / "s"))
    assert run.code == 0
    printed = run.stdout + run.stderr
    assert "\x1b" not in printed and "\udcff" not in printed and "\u202e" not in printed
    assert "[red]x[red]\\x1b[2J\\udcff\\u202e.csv: 1 posts added" in run.stdout
    assert "line 3: unreadable timestamp '\\x1b]0;pwned\\x07'" in run.stderr


# -- the known-case list (detect --cases): UnicodeDecodeError, csv.Error escaped ---------------
@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"\xff\xfedate,id,title,countries,keywords,languages,outlets\n", "not UTF-8"),
        (b"date,id,title,countries,keywords,languages,outlets\n2021,u,\"" + b"t" * 200_000
         + b"\",,,,\n", "unreadable CSV"),
    ],
)  # fmt: skip
def test_a_broken_case_list_is_refused_with_where(
    tmp_path: Path, content: bytes, reason: str
) -> None:
    path = tmp_path / "cases.csv"
    path.write_bytes(content)
    before = csv.field_size_limit(131_072)  # csv's default (ingest raises it, process-wide)
    try:
        with pytest.raises(IngestError, match=reason) as caught:
            load_cases(path)
    finally:
        csv.field_size_limit(before)
    assert caught.value.where.file == str(path)


# -- the report: GraphML (XML) refused an account id with a control character ---------------
def test_account_ids_with_control_characters_reach_the_graphml(tmp_path: Path) -> None:
    accounts = ["[red]a[/red]", "\x1b[2Jb", "c\x07", "d\ufffe"]
    posts = posts_for(accounts, rounds=3, prefix="p", text="the vote is rigged")
    result = result_of([campaign_from("C001", posts)])
    paths = write_report(result, posts, tmp_path / "out")
    graph = nx.read_graphml(paths["network.graphml"])
    assert sorted(graph.nodes) == sorted(["[red]a[/red]", "\\x1b[2Jb", "c\\x07", "d\\ufffe"])
    assert graph.number_of_edges() == 3


# -- alerts.jsonl: a name with U+0085 or U+2028 cut its line in two when read back -------------
def test_alerts_with_line_separators_in_their_text_are_read_back(tmp_path: Path) -> None:
    alert = Alert(
        AlertKind.DOCUMENT_PUSH,
        "",
        "leak.example/a\x85b\u2028c\u2029d\x1c pushed by 5 accounts",
        datetime(2024, 11, 2, tzinfo=UTC),
        accounts_added=("acc\x85",),
        key="leak.example/a\x85b\u2028c",
    )
    JsonLinesSink(alerts_path(tmp_path)).send(alert)
    JsonLinesSink(alerts_path(tmp_path)).send(alert)
    assert load_alerts(tmp_path) == (alert, alert)


# -- the watch goes on after a broken file ------------------------------------------------------
def test_the_watch_logs_a_broken_export_and_takes_the_next_file(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    (inbox / "export").mkdir(parents=True)
    (inbox / "export" / "result.json").write_text(
        '{"messages": [' + "[" * 50_000, encoding="utf-8"
    )
    (inbox / "posts.csv.gz").write_bytes(gzip.compress(b"id,author,created_at\n")[:12])
    watcher = Watcher(
        tmp_path / "s", WatchConfig(inbox=inbox), [], detector=lambda s, t: DetectionResult((), ())
    )
    try:
        first = watcher.cycle()
        (inbox / "good.csv").write_text("id,author,created_at\n1,a,2024-11-02\n", encoding="utf-8")
        second = watcher.cycle()
    finally:
        watcher.close()
    assert len(first.problems) == 2 and first.posts_added == 0
    assert second.files == 1 and second.posts_added == 1


def test_the_watch_reads_no_file_through_a_link_out_of_its_inbox(tmp_path: Path) -> None:
    """An export unpacked into the inbox with a link to a file of the analyst's machine."""
    outside = tmp_path / "home" / "notes.csv"
    outside.parent.mkdir()
    outside.write_text("id,author,created_at,text\n1,a,2024-11-02,private\n", encoding="utf-8")
    inbox = tmp_path / "inbox"
    (inbox / "export").mkdir(parents=True)
    os.symlink(outside, inbox / "export" / "result.csv")
    os.symlink(outside, inbox / "posts.csv")
    (inbox / "export" / "own.csv").write_text(
        "id,author,created_at,text\n2,b,2024-11-02,received\n", encoding="utf-8"
    )
    watcher = Watcher(
        tmp_path / "s", WatchConfig(inbox=inbox), [], detector=lambda s, t: DetectionResult((), ())
    )
    try:
        report = watcher.cycle()
        texts = [p.text for p in watcher.store.posts()]
        again = watcher.cycle()
    finally:
        watcher.close()
    assert texts == ["received"]
    assert sorted(report.problems) == [
        "posts.csv: a link out of the inbox, not read",
        "result.csv: a link out of the inbox, not read",
    ]
    assert again.problems == []  # said once


class _Trickle(BaseHTTPRequestHandler):
    """A feed server that sends its body a few bytes at a time, without end."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.end_headers()
        started = time.monotonic()
        try:
            while time.monotonic() - started < 30:
                self.wfile.write(b"<rss>  ")
                self.wfile.flush()
                time.sleep(0.05)
        except OSError:  # the client went away
            return

    def log_message(self, *args: Any) -> None:
        return


def test_a_feed_that_never_ends_sending_is_given_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(watch, "FETCH_DEADLINE", 0.5)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Trickle)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    started = time.monotonic()
    try:
        with pytest.raises(IngestError, match="still sending"):
            fetch_feed(f"http://127.0.0.1:{httpd.server_address[1]}/feed.rss")
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)
    assert time.monotonic() - started < 5


# -- the campaign, short ------------------------------------------------------------------------
@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(seed=st.integers(0, 2**32 - 1), reader=st.sampled_from(READERS), watch=st.booleans())
def test_mutated_inputs_add_posts_or_raise_a_located_viche_error(
    tmp_path_factory: pytest.TempPathFactory, seed: int, reader: str, watch: bool
) -> None:
    folder = tmp_path_factory.mktemp("case")
    secret = folder / "secret.txt"
    secret.write_bytes(SECRET)
    case = make_case(random.Random(seed), reader, secret)
    outcome = (check_watch(case, folder) if watch else check(case, folder, secret))
    assert outcome.kind in ("posts", "error"), f"{case.what}: {outcome}"
