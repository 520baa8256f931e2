"""``viche monitor watch``: follow sources, update campaigns as posts arrive, raise alerts.

Sources: a folder that receives files (Telegram exports, CSV/JSONL, feeds, saved pages;
each file is ingested once, again only if its size or time changes) and feeds polled on a
schedule (``http(s)://`` URLs, or local paths for tests and mirrors). Each cycle:

1. **ingest** what arrived (the store ignores posts it already has, so a re-exported
   channel adds only its new messages);
2. **document pushes** (:class:`PushTracker`), checked on every new post at once: the same
   file (``file:sha256:...``) or link posted by at least ``push_accounts`` distinct accounts
   within ``push_minutes`` is the pattern of a fabricated "leak" being seeded. The tracker
   keeps only the keys seen within the last ``push_minutes`` of post time (and at most
   ``max_keys`` of them): its memory does not grow with the stream;
3. **campaigns**, at most every ``detect_every`` seconds and only when posts arrived:
   detection runs over the posts of the last ``window`` (by post time) -- a bounded slice,
   so memory does not grow with the store -- and :func:`viche.monitor.alerts.compare`
   raises ``new_campaign`` (its narratives inside) / ``campaign_grown`` / ``new_narrative``
   (pushed by a known campaign; one per narrative) against the previous detection; with
   narratives on, a known case (EUvsDisinfo) that was not seen in the last
   ``resurface_days`` raises one ``narrative_resurfaced`` naming every campaign pushing it.

Alerts go to every sink: the console, ``alerts.jsonl`` in the store, and a webhook (one JSON
POST per alert, 5 s timeout; a failing webhook is reported on the console and never stops
the watch). Each alert lists the ids of its evidence posts.
"""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

from viche.errors import IngestError, Location, MonitorError, VicheError
from viche.monitor import alerts as alerting
from viche.monitor import api, news
from viche.monitor.alerts import Alert, AlertKind
from viche.monitor.ingest import ingest
from viche.monitor.model import Campaign, DetectionResult, Narrative, Post
from viche.monitor.store import Store
from viche.monitor.text import normalise_url

FETCH_TIMEOUT = 20.0
#: seconds a feed may take to send its body: the timeout above bounds each read only, and a
#: server that sends a byte every few seconds would hold the watch for days
FETCH_DEADLINE = 60.0
WEBHOOK_TIMEOUT = 5.0


class Sink(Protocol):
    def send(self, alert: Alert) -> None: ...


@dataclass(frozen=True, slots=True)
class WatchConfig:
    inbox: Path | None = None
    feeds: tuple[str, ...] = ()
    scan_every: float = 5.0
    feed_every: float = 300.0
    detect_every: float = 60.0
    window: timedelta = timedelta(days=2)
    push_accounts: int = 5
    push_minutes: float = 10.0
    max_keys: int = 200_000
    resurface_days: float = 7.0
    narratives: bool = False


# -- document pushes ------------------------------------------------------------------------
@dataclass(slots=True)
class _KeyState:
    pushes: deque[tuple[float, str, str]] = field(default_factory=deque)  # time, author, post
    alerted: bool = False


class PushTracker:
    """The same file or link pushed by many accounts within minutes (see the module doc)."""

    def __init__(self, *, accounts: int = 5, minutes: float = 10.0, max_keys: int = 200_000):
        if accounts < 2 or minutes <= 0 or max_keys < 1:
            raise MonitorError(
                "a push needs >= 2 accounts, a positive window and room for keys",
                where=Location(path=("watch", "push")),
            )
        self.accounts = accounts
        self.span = minutes * 60.0
        self.max_keys = max_keys
        self._keys: OrderedDict[str, _KeyState] = OrderedDict()
        self._latest = float("-inf")

    def __len__(self) -> int:
        return len(self._keys)

    @staticmethod
    def keys_of(post: Post) -> set[str]:
        return {k for k in (normalise_url(u) for u in post.urls) if k}

    def add(self, post: Post, *, at: datetime | None = None) -> list[Alert]:
        t = post.created_at.timestamp()
        self._latest = max(self._latest, t)
        out: list[Alert] = []
        for key in sorted(self.keys_of(post)):
            state = self._keys.get(key)
            if state is None:
                state = self._keys[key] = _KeyState()
            self._keys.move_to_end(key)
            state.pushes.append((t, post.author, post.id))
            within = [p for p in state.pushes if abs(p[0] - t) <= self.span]
            authors = {a for _, a, _ in within}
            if len(authors) >= self.accounts and not state.alerted:
                state.alerted = True
                first = min(p[0] for p in within)
                last = max(p[0] for p in within)
                out.append(
                    Alert(
                        AlertKind.DOCUMENT_PUSH,
                        "",
                        f"{key} pushed by {len(authors)} accounts within "
                        f"{(last - first) / 60:.0f} min (from "
                        f"{datetime.fromtimestamp(first, UTC):%Y-%m-%d %H:%M} UTC)",
                        at or datetime.now(UTC),
                        accounts_added=tuple(sorted(authors)),
                        evidence=tuple(pid for _, _, pid in sorted(within))[
                            : alerting.EVIDENCE_POSTS
                        ],
                        key=key,
                    )
                )
        self._prune()
        return out

    def _prune(self) -> None:
        horizon = self._latest - self.span
        stale = []
        for key, state in self._keys.items():
            while state.pushes and state.pushes[0][0] < horizon:
                state.pushes.popleft()
            if not state.pushes:
                stale.append(key)
        for key in stale:
            del self._keys[key]
        while len(self._keys) > self.max_keys:
            self._keys.popitem(last=False)


# -- sinks ----------------------------------------------------------------------------------
class JsonLinesSink:
    def __init__(self, path: Path) -> None:
        self.path = path

    def send(self, alert: Alert) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(alert.to_dict(), ensure_ascii=False) + "\n")


def check_url(url: str, *, what: str) -> str:
    """An ``http(s)`` URL with a host, else :class:`MonitorError`."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise MonitorError(f"{what} must be an http(s) URL", where=Location(path=(what,)))
    return url


class WebhookSink:
    """POSTs each alert as JSON; failures go to ``on_error`` and never stop the watch."""

    def __init__(self, url: str, on_error: Callable[[str], None]) -> None:
        self.url = check_url(url, what="webhook")
        self.on_error = on_error

    def send(self, alert: Alert) -> None:
        body = json.dumps(alert.to_dict(), ensure_ascii=False).encode("utf-8")
        request = urllib.request.Request(  # noqa: S310 (scheme checked in check_url)
            self.url, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT) as response:  # noqa: S310
                response.read(1024)
        except (OSError, ValueError) as exc:
            self.on_error(f"webhook failed for a {alert.kind.value} alert: {exc}")


class ListSink:
    """Keeps alerts in memory (tests, and the console printer's source)."""

    def __init__(self) -> None:
        self.alerts: list[Alert] = []

    def send(self, alert: Alert) -> None:
        self.alerts.append(alert)


# -- sources --------------------------------------------------------------------------------
def fetch_feed(source: str, *, max_bytes: int = news.MAX_FEED_BYTES) -> bytes:
    """The body of a feed: an ``http(s)`` URL (size-capped; each read timed out, the whole
    within about :data:`FETCH_DEADLINE`) or a local path."""
    if "://" not in source:
        path = Path(source)
        if not path.is_file():
            raise IngestError(f"no feed file at {source}", where=Location(file=source))
        with path.open("rb") as fh:
            return fh.read(max_bytes + 1)
    check_url(source, what="feed")
    request = urllib.request.Request(source, headers={"User-Agent": "viche-monitor"})  # noqa: S310
    started = time.monotonic()
    chunks: list[bytes] = []
    size = 0
    with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT) as response:  # noqa: S310
        # read1: what one receive brings (an ftp:// redirect's response has only read)
        read: Callable[[int], bytes] = getattr(response, "read1", response.read)
        while size <= max_bytes:
            chunk = read(min(1 << 16, max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if time.monotonic() - started > FETCH_DEADLINE:
                raise IngestError(
                    f"the feed sent {size} bytes in {FETCH_DEADLINE:.0f} s and was still sending",
                    where=Location(file=source),
                )
    return b"".join(chunks)


@dataclass(slots=True)
class CycleReport:
    files: int = 0
    posts_added: int = 0
    detected: bool = False
    alerts: list[Alert] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


class _Problems:
    def __init__(self) -> None:
        self.lines: list[tuple[int, str]] = []

    def problem(self, line: int, reason: str) -> None:
        self.lines.append((line, reason))


class Watcher:
    """One watched store; :meth:`cycle` does one round, :meth:`run` repeats it."""

    def __init__(
        self,
        store_dir: Path,
        config: WatchConfig,
        sinks: Sequence[Sink],
        *,
        detector: Callable[[Store, datetime], DetectionResult] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store_dir = store_dir
        self.config = config
        self.sinks = list(sinks)
        self.clock = clock
        self.detector = detector or _window_detector(config)
        self.pushes = PushTracker(
            accounts=config.push_accounts, minutes=config.push_minutes, max_keys=config.max_keys
        )
        self._seen_files: dict[str, tuple[int, int]] = {}
        self._feed_due: dict[str, float] = {}
        self._last_detect = float("-inf")
        self._pending = False
        self._latest_post: datetime | None = None
        store_dir.mkdir(parents=True, exist_ok=True)
        self.store = Store(api.posts_path(store_dir))
        self._previous: DetectionResult | None = (
            api.load_result(store_dir) if api.result_path(store_dir).is_file() else None
        )
        self._known_seen: dict[str, datetime] = {}

    def close(self) -> None:
        self.store.close()

    def _emit(self, alerts: Iterable[Alert], report: CycleReport) -> None:
        for a in alerts:
            report.alerts.append(a)
            for sink in self.sinks:
                sink.send(a)

    def _after_ingest(self, since_seq: int, report: CycleReport) -> None:
        new = list(self.store.posts(since_seq=since_seq))
        if not new:
            return
        report.posts_added += len(new)
        self._pending = True
        for post in sorted(new, key=lambda p: (p.created_at, p.id)):
            if self._latest_post is None or post.created_at > self._latest_post:
                self._latest_post = post.created_at
            self._emit(self.pushes.add(post), report)

    def _scan_inbox(self, report: CycleReport) -> None:
        inbox = self.config.inbox
        if inbox is None or not inbox.is_dir():
            return
        for path in sorted(p for p in inbox.rglob("*") if p.is_file()):
            if path.name.startswith(".") or path.suffix in (".part", ".tmp"):
                continue  # still being written
            try:
                st = path.stat()
            except OSError:  # gone since the listing (moved away, a temporary file)
                continue
            stamp = (st.st_size, st.st_mtime_ns)
            if self._seen_files.get(str(path)) == stamp:
                continue
            if path.parent != inbox and path.suffix.lower() not in (".json", ".csv", ".gz"):
                continue  # media files of a Telegram export folder
            self._seen_files[str(path)] = stamp
            if not _inside(path, inbox):
                # a symbolic link in an export that was unpacked here: the file it names is
                # no file the inbox received (as a Telegram export's attachments)
                report.problems.append(f"{path.name}: a link out of the inbox, not read")
                continue
            before = self.store.last_seq()
            try:
                result = ingest(path, self.store)
            except VicheError as exc:
                report.problems.append(f"{path.name}: {exc}")
                continue
            report.files += 1
            if result.malformed:
                report.problems.append(f"{path.name}: {result.malformed} malformed rows")
            if result.not_utf8:
                report.problems.append(
                    f"{path.name}: {result.not_utf8} byte(s) not UTF-8 (read as U+FFFD): "
                    "another encoding?"
                )
            self._after_ingest(before, report)

    def _poll_feeds(self, report: CycleReport) -> None:
        now = self.clock()
        for source in self.config.feeds:
            if self._feed_due.get(source, float("-inf")) > now:
                continue
            self._feed_due[source] = now + self.config.feed_every
            before = self.store.last_seq()
            problems = _Problems()
            try:
                body = fetch_feed(source)
                posts = [p for _, p in news.feed_posts(body, problems, source=source)]
            except (VicheError, OSError, ValueError) as exc:
                report.problems.append(f"feed {source}: {exc}")
                continue
            self.store.append(posts)
            self._after_ingest(before, report)

    def _detect(self, report: CycleReport) -> None:
        now = self.clock()
        if not self._pending or now - self._last_detect < self.config.detect_every:
            return
        if self._latest_post is None:
            return
        self._last_detect = now
        self._pending = False
        result = self.detector(self.store, self._latest_post)
        report.detected = True
        when = datetime.now(UTC)
        alerts = list(alerting.compare(self._previous, result, at=when))
        alerts.extend(self._resurfaced(result, when))
        self._emit(alerts, report)
        api.save_result(self.store_dir, result)
        self._previous = result

    def _resurfaced(self, result: DetectionResult, when: datetime) -> list[Alert]:
        """One alert per known case seen again after ``resurface_days`` (or first seen),
        naming every campaign whose narratives match it."""
        gap = timedelta(days=self.config.resurface_days)
        latest = self._latest_post or when
        found: dict[str, tuple[Campaign, Narrative]] = {}
        pushers: dict[str, list[str]] = {}
        matching: dict[str, dict[str, Narrative]] = {}  # case -> its narratives, by id
        carriers: dict[str, list[str]] = {}  # narrative id -> campaigns pushing it
        for c in result.campaigns:
            for n in c.narratives:
                if not n.known_case:
                    continue
                found.setdefault(n.known_case, (c, n))
                matching.setdefault(n.known_case, {}).setdefault(n.id, n)
                carriers.setdefault(n.id, []).append(c.id)
                if c.id not in pushers.setdefault(n.known_case, []):
                    pushers[n.known_case].append(c.id)
        out = []
        for case, (c, n) in found.items():
            last = self._known_seen.get(case)
            self._known_seen[case] = latest
            if last is not None and latest - last < gap:
                continue
            ids = pushers[case]
            where = alerting.pushed_in(ids)
            out.append(
                Alert(
                    AlertKind.NARRATIVE_RESURFACED,
                    c.id,
                    f"known narrative in {where}: {n.known_case_title or case}"
                    f" (similarity {n.known_case_similarity:.2f}, {len(n.post_ids)} posts)",
                    when,
                    narrative=n.id,
                    evidence=n.post_ids[: alerting.EVIDENCE_POSTS],
                    key=case,
                    campaigns=tuple(ids),
                    narratives=tuple(
                        alerting.NarrativeBrief.of(m, carriers[m.id])
                        for m in matching[case].values()
                    ),
                )
            )
        return out

    def cycle(self) -> CycleReport:
        report = CycleReport()
        self._scan_inbox(report)
        self._poll_feeds(report)
        self._detect(report)
        return report

    def run(
        self,
        *,
        cycles: int | None = None,
        on_cycle: Callable[[CycleReport], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        done = 0
        while cycles is None or done < cycles:
            report = self.cycle()
            if on_cycle is not None:
                on_cycle(report)
            done += 1
            if cycles is None or done < cycles:
                sleep(self.config.scan_every)


def _inside(path: Path, folder: Path) -> bool:
    """Whether ``path``, its links followed, is in ``folder`` (its links followed)."""
    try:
        return folder.resolve() in path.resolve().parents
    except (OSError, RuntimeError):  # a link loop (RuntimeError before Python 3.13)
        return False


def _window_detector(config: WatchConfig) -> Callable[[Store, datetime], DetectionResult]:
    def run(store: Store, latest: datetime) -> DetectionResult:
        from viche.monitor.pipeline import DetectConfig, detect

        return detect(store, DetectConfig(start=latest - config.window))

    return run
