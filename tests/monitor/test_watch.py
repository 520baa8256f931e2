"""``viche monitor watch``: inbox and feeds, document pushes, campaign alerts, sinks."""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from monitor_synthetic import campaign_from, result_of

from support.cli import run_cli
from viche.errors import MonitorError
from viche.monitor.alerts import Alert, AlertKind, load_alerts
from viche.monitor.model import DetectionResult, Narrative, Post
from viche.monitor.store import Store
from viche.monitor.watch import (
    ListSink,
    PushTracker,
    WatchConfig,
    Watcher,
    WebhookSink,
    check_url,
)

FIXTURES = Path(__file__).parent / "fixtures"
T0 = datetime(2024, 11, 2, 10, 0, tzinfo=UTC)


def post(i: int, author: str, minutes: float, urls: tuple[str, ...] = ()) -> Post:
    return Post(f"p{i}", author, T0 + timedelta(minutes=minutes), f"text {i}", urls=urls)


# -- the push tracker -----------------------------------------------------------------------------
def test_five_accounts_pushing_one_file_within_minutes_raise_one_alert() -> None:
    tracker = PushTracker(accounts=5, minutes=10)
    alerts: list[Alert] = []
    for i in range(7):
        alerts += tracker.add(post(i, f"ch{i}", 1.5 * i, ("file:sha256:ab12",)))
    assert len(alerts) == 1
    (a,) = alerts
    assert a.kind is AlertKind.DOCUMENT_PUSH and a.key == "file:sha256:ab12"
    assert a.accounts_added == ("ch0", "ch1", "ch2", "ch3", "ch4")
    assert a.evidence == ("p0", "p1", "p2", "p3", "p4")
    assert "5 accounts within 6 min" in a.message


def test_the_same_link_with_tracking_parameters_is_one_key() -> None:
    tracker = PushTracker(accounts=3, minutes=10)
    urls = [
        "https://leaks.example.net/order-117?utm_source=tg",
        "http://www.leaks.example.net/order-117/",
    ]
    found = [a for i in range(3) for a in tracker.add(post(i, f"c{i}", i, (urls[i % 2],)))]
    assert [a.key for a in found] == ["leaks.example.net/order-117"]


@pytest.mark.parametrize(
    ("authors", "step"),
    [
        (["a", "b", "c", "d"], 1.0),
        (["a", "b", "c", "d", "e"], 30.0),
        (["a", "a", "b", "b", "c", "c"], 0.5),
    ],
)
def test_no_push_alert_for_few_accounts_or_slow_spread(authors: list[str], step: float) -> None:
    """Failure twins: four accounts, five accounts two hours apart, one account six times."""
    tracker = PushTracker(accounts=5, minutes=10)
    assert [
        a for i, au in enumerate(authors) for a in tracker.add(post(i, au, step * i, ("k.test/x",)))
    ] == []


def test_tracker_memory_is_bounded_by_time_and_by_count() -> None:
    tracker = PushTracker(accounts=5, minutes=10, max_keys=50)
    for i in range(5000):
        tracker.add(post(i, f"a{i % 7}", i * 0.5, (f"site.test/{i}",)))
    assert len(tracker) <= 21  # only the keys of the last 10 minutes (2 posts a minute)
    burst = PushTracker(accounts=5, minutes=10, max_keys=50)
    for i in range(500):
        burst.add(post(i, "a", 0.0, (f"site.test/{i}",)))  # all at the same minute
    assert len(burst) == 50


def test_tracker_refuses_meaningless_settings() -> None:
    with pytest.raises(MonitorError):
        PushTracker(accounts=1)
    with pytest.raises(MonitorError):
        PushTracker(minutes=0)


# -- the watcher ----------------------------------------------------------------------------------
def write_channel(
    inbox: Path, n: int, minute: float, *, text: str = "", with_file: bool = True
) -> Path:
    """A Telegram export of channel ``n``: one post forwarding the same PDF at ``minute``."""
    folder = inbox / f"channel{n}"
    (folder / "files").mkdir(parents=True, exist_ok=True)
    (folder / "files" / f"order_{n}.pdf").write_bytes(b"LEAKED ORDER No 117 (forged)\n")
    when = T0 + timedelta(minutes=minute)
    message: dict[str, Any] = {
        "id": 10 + n,
        "type": "message",
        "date_unixtime": str(int(when.timestamp())),
        "from": f"Channel {n}",
        "from_id": f"channel{5000 + n}",
        "text": text or f"Документ, який приховує ЦВК, випуск {n}",
    }
    if with_file:
        message["file"] = f"files/order_{n}.pdf"
    doc = {"name": f"Channel {n}", "type": "public_channel", "id": 5000 + n, "messages": [message]}
    path = folder / "result.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


class ScriptedDetector:
    """Stands in for detection: returns the prepared results in turn, records its calls."""

    def __init__(self, results: list[DetectionResult]) -> None:
        self.results = results
        self.calls: list[datetime] = []

    def __call__(self, store: Store, latest: datetime) -> DetectionResult:
        self.calls.append(latest)
        return self.results[min(len(self.calls) - 1, len(self.results) - 1)]


def campaign_posts(n: int) -> list[Post]:
    return [
        Post(f"q{a}-{k}", f"acc{a}", T0 + timedelta(hours=k), f"claim {k}")
        for a in range(n)
        for k in range(3)
    ]


def test_watch_inbox_raises_push_then_campaign_alerts(tmp_path: Path) -> None:
    inbox, store = tmp_path / "inbox", tmp_path / "store"
    inbox.mkdir()
    for n in range(5):
        write_channel(inbox, n, minute=2 * n)
    small = result_of([campaign_from("C001", campaign_posts(3))])
    grown = result_of([campaign_from("C001", campaign_posts(5))])
    detector = ScriptedDetector([small, grown])
    sink = ListSink()
    clock = iter(range(0, 10_000, 100))
    watcher = Watcher(
        store,
        WatchConfig(inbox=inbox, detect_every=50),
        [sink],
        detector=detector,
        clock=lambda: float(next(clock)),
    )
    try:
        first = watcher.cycle()
        assert first.files == 5 and first.posts_added == 5 and first.detected
        kinds = [a.kind for a in first.alerts]
        assert kinds == [AlertKind.DOCUMENT_PUSH, AlertKind.NEW_CAMPAIGN]
        push = first.alerts[0]
        assert push.key.startswith("file:sha256:") and len(push.accounts_added) == 5
        assert set(push.evidence) == {f"tg:-100{5000 + n}:{10 + n}" for n in range(5)}
        assert first.alerts[1].evidence  # the campaign's evidence posts
        again = watcher.cycle()  # nothing new: no file read, no detection
        assert again.files == 0 and not again.detected and again.alerts == []
        write_channel(inbox, 7, minute=30, with_file=False)
        third = watcher.cycle()
        assert third.files == 1 and [a.kind for a in third.alerts] == [AlertKind.CAMPAIGN_GROWN]
        assert detector.calls[-1] == T0 + timedelta(minutes=30)
    finally:
        watcher.close()
    recorded = load_alerts(store)  # the JSON Lines sink is the caller's; the result is saved
    assert recorded == ()
    assert sink.alerts == first.alerts + third.alerts


def test_resurfacing_known_narrative(tmp_path: Path) -> None:
    posts = campaign_posts(3)
    narrative = Narrative(
        "n-1",
        "biolabs",
        tuple(p.id for p in posts[:3]),
        ("en",),
        known_case="https://euvsdisinfo.eu/report/x",
        known_case_similarity=0.9,
        known_case_title="Biolabs in Ukraine",
    )
    with_n = result_of([campaign_from("C001", posts, ())])
    c = with_n.campaigns[0]
    from dataclasses import replace

    with_n = replace(with_n, campaigns=(replace(c, narratives=(narrative,)),))
    watcher = Watcher(tmp_path / "s", WatchConfig(resurface_days=7), [])
    try:
        watcher._latest_post = T0
        first = watcher._resurfaced(with_n, T0)
        assert [a.kind for a in first] == [AlertKind.NARRATIVE_RESURFACED]
        assert first[0].key == narrative.known_case and first[0].evidence == narrative.post_ids
        watcher._latest_post = T0 + timedelta(days=2)
        assert watcher._resurfaced(with_n, T0) == []  # still active: not a resurfacing
        watcher._latest_post = T0 + timedelta(days=12)
        assert len(watcher._resurfaced(with_n, T0)) == 1  # back after a quiet spell
    finally:
        watcher.close()


def test_known_case_of_several_campaigns_resurfaces_once_naming_them(tmp_path: Path) -> None:
    from dataclasses import replace

    def narrative(nid: str, case: str, posts: tuple[str, ...]) -> Narrative:
        return Narrative(nid, nid, posts, ("en",), known_case=case, known_case_similarity=0.9)

    one = narrative("n-1", "https://euvsdisinfo.eu/report/x", ("p1", "p2"))
    same_case = narrative("n-2", "https://euvsdisinfo.eu/report/x", ("p3", "p4"))
    other_case = narrative("n-3", "https://euvsdisinfo.eu/report/y", ("p5", "p6"))
    base = result_of(
        [campaign_from("C001", campaign_posts(3), ()), campaign_from("C002", campaign_posts(3), ())]
    )
    c1, c2 = base.campaigns
    both = replace(
        base,
        campaigns=(replace(c1, narratives=(one,)), replace(c2, narratives=(same_case, one))),
    )
    watcher = Watcher(tmp_path / "s", WatchConfig(resurface_days=7), [])
    try:
        watcher._latest_post = T0
        (alert,) = watcher._resurfaced(both, T0)  # one case: one alert, not one per campaign
        assert alert.campaign == "C001" and alert.campaigns == ("C001", "C002")
        assert "in 2 campaigns (C001, C002)" in alert.message
        assert [(b.id, b.campaigns) for b in alert.narratives] == [
            ("n-1", ("C001", "C002")),
            ("n-2", ("C002",)),
        ]
        assert alert.evidence == one.post_ids
        # the twin: two known cases are two alerts
        apart = replace(
            base,
            campaigns=(replace(c1, narratives=(one,)), replace(c2, narratives=(other_case,))),
        )
        fresh = Watcher(tmp_path / "t", WatchConfig(resurface_days=7), [])
        try:
            fresh._latest_post = T0
            alerts = fresh._resurfaced(apart, T0)
            assert [(a.key, a.campaigns) for a in alerts] == [
                (one.known_case, ("C001",)),
                (other_case.known_case, ("C002",)),
            ]
        finally:
            fresh.close()
    finally:
        watcher.close()


# -- local HTTP: feeds and webhook ----------------------------------------------------------------
class _Handler(BaseHTTPRequestHandler):
    feed: ClassVar[bytes] = b""
    received: ClassVar[list[bytes]] = []

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.end_headers()
        self.wfile.write(self.feed)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        type(self).received.append(self.rfile.read(length))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture()
def server() -> Iterator[str]:
    _Handler.feed = (FIXTURES / "news" / "feed.rss").read_bytes()
    _Handler.received = []
    rng = random.Random()
    for _ in range(20):
        try:
            httpd = HTTPServer(("127.0.0.1", rng.randint(20000, 60000)), _Handler)
            break
        except OSError:
            continue
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def test_feeds_are_polled_on_schedule_and_alerts_reach_the_webhook(
    tmp_path: Path, server: str
) -> None:
    now = [0.0]
    errors: list[str] = []
    hook = WebhookSink(f"{server}/hook", errors.append)
    config = WatchConfig(
        feeds=(f"{server}/feed.rss",), feed_every=300, push_accounts=2, push_minutes=600
    )
    watcher = Watcher(
        tmp_path / "s",
        config,
        [hook],
        detector=ScriptedDetector([result_of([])]),
        clock=lambda: now[0],
    )
    try:
        first = watcher.cycle()
        assert first.posts_added == 2 and first.problems == []
        now[0] = 100.0
        assert watcher.cycle().posts_added == 0  # not due yet
        now[0] = 400.0
        _Handler.feed = _Handler.feed.replace(b"leak-forgery", b"leak-forgery-2")
        assert watcher.cycle().posts_added == 1  # polled again: only the changed item is new
    finally:
        watcher.close()
    assert errors == []
    manual = Alert(AlertKind.DOCUMENT_PUSH, "", "x pushed", T0, evidence=("p1",), key="k")
    hook.send(manual)
    assert json.loads(_Handler.received[-1]) == manual.to_dict()


def test_a_failing_webhook_is_reported_and_the_watch_goes_on(tmp_path: Path) -> None:
    errors: list[str] = []
    hook = WebhookSink("http://127.0.0.1:9/none", errors.append)  # discard port: refused
    hook.send(Alert(AlertKind.NEW_CAMPAIGN, "C001", "m", T0))
    assert errors and "webhook failed for a new_campaign alert" in errors[0]


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://x.test/a", "http:///nohost", "javascript:x"]
)
def test_only_http_urls_for_webhooks_and_feeds(url: str) -> None:
    with pytest.raises(MonitorError):
        check_url(url, what="webhook")


def test_a_bad_feed_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    bad = tmp_path / "bad.rss"
    bad.write_text("<?xml version='1.0'?><rss><chan", encoding="utf-8")
    watcher = Watcher(
        tmp_path / "s", WatchConfig(feeds=(str(bad), str(tmp_path / "absent.rss"))), []
    )
    try:
        report = watcher.cycle()
    finally:
        watcher.close()
    assert len(report.problems) == 2 and report.posts_added == 0


def test_a_file_not_in_utf8_is_a_problem_of_the_cycle(tmp_path: Path) -> None:
    """The watch said nothing of a Windows-1251 CSV dropped in its inbox (the audit of
    2026-12-05): its posts were stored garbled. The cycle now names the file."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "posts.csv").write_bytes(
        b"id,author,text,created_at\n" + "1,a,Привіт,2024-11-02T10:00:00\n".encode("cp1251")
    )
    watcher = Watcher(tmp_path / "s", WatchConfig(inbox=inbox), [])
    try:
        report = watcher.cycle()
    finally:
        watcher.close()
    assert report.posts_added == 1
    assert report.problems == ["posts.csv: 6 byte(s) not UTF-8 (read as U+FFFD): another encoding?"]


def test_watch_command_with_a_file_as_store_is_a_usage_error(tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.write_text("a file")
    result = run_cli("monitor", "watch", "--store", str(store), "--cycles", "1", "--no-narratives")
    assert result.code == 2 and "Traceback" not in result.stderr
    assert "expected a folder, found a file" in result.stderr


# -- the command ----------------------------------------------------------------------------------
def test_watch_command_writes_alerts_jsonl(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for n in range(5):
        write_channel(inbox, n, minute=n)
    store = tmp_path / "store"
    result = run_cli(
        "monitor", "watch", "--store", str(store), "--inbox", str(inbox), "--cycles", "1"
    )
    assert result.code == 0, result.stderr
    assert "document_push" in result.stdout and "evidence: tg:-1005000:10" in result.stdout
    lines = (store / "alerts.jsonl").read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[0])["kind"] == "document_push"
    kinds = [json.loads(x)["kind"] for x in lines]
    counted = ", ".join(f"{kinds.count(k)} {k}" for k in dict.fromkeys(kinds))
    assert f"{len(lines)} alerts this cycle: {counted}" in result.stdout  # the cycle's count


def test_watch_command_refuses_a_missing_inbox(tmp_path: Path) -> None:
    result = run_cli(
        "monitor", "watch", "--store", str(tmp_path / "s"), "--inbox", str(tmp_path / "no")
    )
    assert result.code != 0 and "no inbox folder" in result.stderr
