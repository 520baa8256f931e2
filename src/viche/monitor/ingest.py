"""Ingest posts and articles from CSV or JSON Lines into a :class:`~viche.monitor.store.Store`.

The documented schema (CSV with a header row, or one JSON object per line; ``.gz`` files
are read transparently). Column names are matched case-insensitively; the names in
brackets are accepted as aliases, so exports of common tools load without renaming.

========== ======== ==========================================================================
field      required meaning
========== ======== ==========================================================================
id         yes      unique id of the post (``post_id``, ``message_id``, ``tweet_id``)
author     yes      account id (``author_id``, ``user_id``, ``account_id``)
created_at yes      ISO 8601 (``Z`` or offset; naive = UTC), Unix seconds, ``YYYY-MM-DD HH:MM``,
                    ``2015-08-07 09:54:46 -0700`` or Twitter's ``Wed Oct 10 20:19:24 +0000 2018``
                    (``timestamp``, ``publish_date``, ``date``)
text       no       the text (``content``, ``message``, ``body``); empty if absent
outlet     no       the outlet or site that published it (``domain``, ``source``)
lang       no       language code or name (``language``)
repost_of  no       id or author of the reposted item (``repost-of``, ``reposted_author``,
                    ``repost_id``, ``retweeted_id``)
urls       no       links: space-separated in CSV, a list or a string in JSON
hashtags   no       hashtags with or without ``#``: as for ``urls``
========== ======== ==========================================================================

Adapters for the two most used open tools:

* ``qut``: the coordination-network-toolkit CSV (QUT Digital Media Research Centre):
  ``message_id, user_id, username, repost_id, reply_id, message, timestamp, urls`` with a
  header row, timestamp in Unix seconds, urls space-separated.
* ``coortweet``: CooRTweet's table ``object_id, account_id, content_id, timestamp_share``:
  ``content_id`` is the post, ``object_id`` the shared object (stored as ``repost_of``).

Other sources, recognised by ``fmt="auto"`` from the file's name and opening:

* ``telegram``: a Telegram Desktop channel export (``result.json``), see
  :mod:`viche.monitor.telegram` (forwards are reposts; replies, edits, views kept);
* ``feed``: an RSS or Atom file, ``html``: a saved article page, see
  :mod:`viche.monitor.news` (an outlet is an author; optional extra ``news``).

A malformed row is reported with its line number (for a Telegram export: the message's
index in its chat, for a feed: the entry's number) and the reason, counted, and skipped;
the run goes on. Memory stays bounded: rows are read one at a time and written in batches.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import re
import sys
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Literal

from viche.errors import IngestError, Location, MissingFileError
from viche.monitor import news, telegram
from viche.monitor.model import Post, as_utc, utc_from_unix
from viche.monitor.store import Row, Store, extra_row, post_row

Format = Literal["auto", "csv", "jsonl", "qut", "coortweet", "telegram", "feed", "html"]
FORMATS: tuple[str, ...] = ("auto", "csv", "jsonl", "qut", "coortweet", "telegram", "feed", "html")
MAX_PROBLEMS_KEPT = 1000
#: a reason longer than this is cut (it may quote the bad value: a 16 MB "date")
MAX_REASON_CHARS = 300
#: a CSV row (its lines, when a quoted field spans several) or a JSON line longer than
#: this is no post (the longest real ones are articles of ~100,000 characters): reading
#: stops there, so that a gzip "bomb" of one endless line cannot fill the memory
MAX_ROW_CHARS = 16 << 20

ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("id", "post_id", "message_id", "tweet_id", "content_id"),
    "author": ("author", "author_id", "user_id", "account_id", "user", "screen_name"),
    "created_at": ("created_at", "timestamp", "publish_date", "date", "timestamp_share", "time"),
    "text": ("text", "content", "message", "body", "full_text"),
    "outlet": ("outlet", "domain", "source", "site"),
    "lang": ("lang", "language"),
    "repost_of": (
        "repost_of",
        "repost-of",
        "reposted_author",
        "repost_id",
        "retweeted_id",
        "object_id",
    ),
    "urls": ("urls", "links", "url"),
    "hashtags": ("hashtags", "tags"),
}
REQUIRED = ("id", "author", "created_at")

QUT_COLUMNS = (
    "message_id",
    "user_id",
    "username",
    "repost_id",
    "reply_id",
    "message",
    "timestamp",
    "urls",
)
COORTWEET_COLUMNS = ("object_id", "account_id", "content_id", "timestamp_share")


@dataclass(frozen=True, slots=True)
class RowProblem:
    line: int
    reason: str


@dataclass(slots=True)
class IngestReport:
    """What one ingest run did; ``problems`` keeps the first 1000 bad rows (each reason cut
    to :data:`MAX_REASON_CHARS`)."""

    source: str
    rows: int = 0
    added: int = 0
    duplicates: int = 0
    malformed: int = 0
    #: bytes of a CSV or JSON Lines file that are not UTF-8 (read as U+FFFD): the file is
    #: in another encoding, or damaged
    not_utf8: int = 0
    problems: list[RowProblem] = field(default_factory=list)

    def problem(self, line: int, reason: str) -> None:
        self.malformed += 1
        if len(self.problems) < MAX_PROBLEMS_KEPT:
            if len(reason) > MAX_REASON_CHARS:
                reason = reason[:MAX_REASON_CHARS] + "…"
            self.problems.append(RowProblem(line, reason))


# -- field parsing ----------------------------------------------------------------------------
_HHMM = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{1,2}:\d{2}$")


def parse_time(value: str) -> datetime:
    """A timestamp in any of the accepted forms, as an aware UTC datetime."""
    v = value.strip()
    if not v:
        raise ValueError("empty timestamp")
    try:
        number = float(v)
    except ValueError:
        pass
    else:
        if number > 1e11:  # milliseconds
            number /= 1000.0
        return utc_from_unix(number)
    dt: datetime | None = None
    try:
        dt = datetime.fromisoformat(v)
    except ValueError:
        for fmt in ("%Y-%m-%d %H:%M:%S %z", "%a %b %d %H:%M:%S %z %Y", "%m/%d/%Y %H:%M"):
            try:
                dt = datetime.strptime(v, fmt)
                break
            except ValueError:
                continue
    if dt is None:
        raise ValueError(f"unreadable timestamp {v[:40]!r}")
    return as_utc(dt)


def _as_list(value: Any, *, hashtags: bool = False) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        items = value.replace(",", " ").split() if hashtags else value.split()
    elif isinstance(value, list | tuple):
        items = [str(x) for x in value if x is not None and str(x) != ""]
    else:
        raise ValueError(f"expected a list or a string, not {type(value).__name__}")
    if hashtags:
        return tuple(t.lstrip("#") for t in items if t.lstrip("#"))
    return tuple(items)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    raise ValueError(f"expected text, not {type(value).__name__}")


def _resolve(header: list[str]) -> dict[str, str]:
    """Map our field names to the column names present (first alias that matches)."""
    lower = {h.strip().lower(): h for h in header}
    found: dict[str, str] = {}
    for name, aliases in ALIASES.items():
        for alias in aliases:
            if alias in lower:
                found[name] = lower[alias]
                break
    return found


def post_from_mapping(record: Mapping[str, Any], columns: Mapping[str, str]) -> Post:
    """A post from one record; ``columns`` maps our field names to the record's keys."""

    def get(name: str) -> Any:
        key = columns.get(name)
        return None if key is None else record.get(key)

    for name in REQUIRED:
        v = get(name)
        if v is None or (isinstance(v, str) and not v.strip()):
            raise ValueError(f"missing {name}")
    pid = _text(get("id")).strip()
    author = _text(get("author")).strip()
    created = get("created_at")
    created_at = (
        utc_from_unix(created)
        if isinstance(created, int | float) and not isinstance(created, bool)
        else parse_time(_text(created))
    )
    return Post(
        id=pid,
        author=author,
        created_at=created_at,
        text=_text(get("text")),
        outlet=_text(get("outlet")).strip(),
        lang=_text(get("lang")).strip(),
        repost_of=_text(get("repost_of")).strip(),
        urls=_as_list(get("urls")),
        hashtags=_as_list(get("hashtags"), hashtags=True),
    )


# -- readers ----------------------------------------------------------------------------------
class _CountingReader(io.RawIOBase):
    """Counts the bytes read from the file on disk (compressed or not), for progress."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.position = 0

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        """Close the file on disk too (a gzip stream on top does not close what it reads)."""
        if not self.closed:
            self.raw.close()
        super().close()

    def readinto(self, buffer: Any) -> int:
        data = self.raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.position += n
        return n


#: bytes read as U+FFFD by :func:`_open_text`'s streams so far (this process): a file in
#: another encoding is read all the same, and said (:attr:`IngestReport.not_utf8`)
_not_utf8 = [0]
_REPLACE = "viche-monitor-replace"


def _replace_and_count(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    _not_utf8[0] += exc.end - exc.start
    return "\ufffd", exc.end


codecs.register_error(_REPLACE, _replace_and_count)


def _open_text(path: Path) -> tuple[IO[str], _CountingReader]:
    raw = _CountingReader(path.open("rb"))
    buffered = io.BufferedReader(raw, buffer_size=1 << 20)
    if path.name.endswith(".gz"):
        text: IO[str] = gzip.open(buffered, "rt", encoding="utf-8", errors=_REPLACE, newline="")  # noqa: SIM115 (returned)
    else:
        text = io.TextIOWrapper(buffered, encoding="utf-8", errors=_REPLACE, newline="")
    return text, raw


class _RowTooLongError(Exception):
    """A row longer than :data:`MAX_ROW_CHARS` (caught by :func:`read_posts`)."""


class _Lines:
    """The lines of a text stream, each read with a bound: when the lines of one row add
    up to more than :data:`MAX_ROW_CHARS`, :class:`_RowTooLongError`. ``row_done()`` starts a
    new row (after each CSV row; ``per_line``: at each line, for JSON Lines)."""

    def __init__(self, stream: IO[str], *, per_line: bool = False) -> None:
        self.stream = stream
        self.per_line = per_line
        self.chars = 0

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if self.per_line:
            self.chars = 0
        text = self.stream.readline(MAX_ROW_CHARS + 1 - self.chars)
        if not text:
            raise StopIteration
        self.chars += len(text)
        if self.chars > MAX_ROW_CHARS:
            raise _RowTooLongError(f"a row longer than {MAX_ROW_CHARS} characters")
        return text

    def row_done(self) -> None:
        self.chars = 0


def _is_export_line(line: str) -> bool:
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError):  # JSONDecodeError, too many digits, too deep
        return False
    return isinstance(obj, dict) and ("messages" in obj or "chats" in obj)


def _detect_format(path: Path, head: str) -> Format:
    """The format of a file from its name and its opening ``head`` (a few KB)."""
    name = path.name.removesuffix(".gz").lower()
    first = head.lstrip("\ufeff").split("\n", 1)[0].strip()
    if (
        name.endswith(".json")
        and telegram.looks_like_export(head)
        and (_is_export_line(first) or not first.endswith("}"))
    ):
        return "telegram"
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    if name.endswith((".rss", ".atom")) or news.looks_like_feed(head):
        return "feed"
    if name.endswith((".html", ".htm")) or news.looks_like_html(head):
        return "html"
    if first.startswith("{"):
        return "jsonl"
    try:
        cols = [c.strip().lower() for c in next(csv.reader([first]), [])]
    except csv.Error:  # a bare carriage return in the opening line: CSV reports it later
        cols = []
    if tuple(cols[: len(QUT_COLUMNS)]) == QUT_COLUMNS:
        return "qut"
    if set(COORTWEET_COLUMNS) <= set(cols) and "text" not in cols:
        return "coortweet"
    return "csv"


def _csv_records(stream: IO[str], fmt: Format, report: IngestReport) -> Iterator[tuple[int, Post]]:
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # rows are bounded by _Lines
    lines = _Lines(stream)
    reader = csv.reader(lines)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        raise IngestError(
            f"unreadable header: {exc}", where=Location(file=str(report.source), line=1)
        ) from exc
    header = [h.lstrip("\ufeff") for h in header]
    if fmt == "qut":
        columns = {
            "id": "message_id",
            "author": "user_id",
            "created_at": "timestamp",
            "text": "message",
            "repost_of": "repost_id",
            "urls": "urls",
        }
        header = list(QUT_COLUMNS) + header[len(QUT_COLUMNS) :]
    elif fmt == "coortweet":
        lower = [h.strip().lower() for h in header]
        header = lower
        columns = {
            "id": "content_id",
            "author": "account_id",
            "created_at": "timestamp_share",
            "repost_of": "object_id",
        }
    else:
        columns = _resolve(header)
    missing = [n for n in REQUIRED if n not in columns]
    if missing:
        shown = [name[:40] for name in header[:12] if name.isprintable()]
        raise IngestError(
            f"no column for required field(s) {', '.join(missing)}; header is {shown}"
            + (" …" if len(shown) < len(header) or any(len(n) > 40 for n in header) else ""),
            where=Location(file=str(report.source), line=1),
        )
    width = len(header)
    while True:
        start = reader.line_num + 1
        lines.row_done()
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            report.rows += 1
            report.problem(start, f"unreadable CSV: {exc}")
            continue
        line = start
        if not values:
            continue
        report.rows += 1
        if len(values) != width:
            report.problem(line, f"{len(values)} fields where the header has {width}")
            continue
        try:
            yield line, post_from_mapping(dict(zip(header, values, strict=True)), columns)
        except ValueError as exc:
            report.problem(line, str(exc))


def _jsonl_records(stream: IO[str], report: IngestReport) -> Iterator[tuple[int, Post]]:
    for line, text in enumerate(_Lines(stream, per_line=True), start=1):
        if not text.strip():
            continue
        report.rows += 1
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            report.problem(line, f"invalid JSON: {exc.msg}")
            continue
        except ValueError:  # an integer longer than Python converts (int_max_str_digits)
            report.problem(line, "invalid JSON: a number with too many digits")
            continue
        except RecursionError:
            report.problem(line, "invalid JSON: nested too deeply")
            continue
        if not isinstance(obj, dict):
            report.problem(line, "a JSON line must be an object")
            continue
        try:
            post = post_from_mapping(obj, _resolve(list(obj)))
        except ValueError as exc:
            report.problem(line, str(exc))
            continue
        except RecursionError:  # a field nested just below json's limit, then walked
            report.problem(line, "a field is nested too deeply")
            continue
        yield line, post


def read_posts(
    path: str | Path,
    fmt: Format = "auto",
    report: IngestReport | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> Iterator[Post]:
    """Stream the well-formed posts of a file; malformed rows go to ``report``.

    ``on_progress(bytes_read, total_bytes)`` is called every few thousand rows.
    """
    p = Path(path)
    if not p.is_file():
        raise MissingFileError(f"no such file: {p}", where=Location(file=str(p)))
    rep = report if report is not None else IngestReport(source=str(p))
    try:
        total = p.stat().st_size
        if fmt == "auto":
            probe, probe_file = _open_text(p)
            with probe, probe_file:
                fmt = _detect_format(p, probe.read(8192))
        if fmt in ("telegram", "feed", "html"):
            yield from _document_posts(p, fmt, rep, on_progress)
            return
        stream, counter = _open_text(p)
    except (OSError, EOFError, zlib.error) as exc:
        # unreadable (permissions, a folder, gone), or a .gz that is not gzip or is cut short
        raise IngestError(
            f"cannot read the file: {getattr(exc, 'strerror', None) or exc}",
            where=Location(file=str(p)),
        ) from exc
    replaced_before = _not_utf8[0]
    with stream, counter:
        records = _jsonl_records(stream, rep) if fmt == "jsonl" else _csv_records(stream, fmt, rep)
        line = 1
        try:
            for i, record in enumerate(records):
                line, post = record
                if on_progress is not None and i % 5000 == 0:
                    on_progress(counter.position, total)
                yield post
        except (OSError, EOFError, zlib.error, _RowTooLongError) as exc:
            # a truncated or corrupt compressed file, or an endless row: keep what was read,
            # report where it broke
            rep.problem(line + 1, f"file unreadable from here on: {exc}")
        finally:
            rep.not_utf8 += _not_utf8[0] - replaced_before
        if on_progress is not None:
            on_progress(total, total)


def _document_posts(
    path: Path,
    fmt: Format,
    report: IngestReport,
    on_progress: Callable[[int, int], None] | None,
) -> Iterator[Post]:
    """The posts of a file read whole (a Telegram export, a feed, a page)."""
    total = path.stat().st_size

    def counted() -> None:
        report.rows += 1

    if fmt == "telegram":
        records = telegram.read_export(path, report, on_row=counted)
    elif fmt == "feed":
        records = news.read_feed(path, report, on_row=counted)
    else:
        records = news.read_html(path, report, on_row=counted)
    for i, (_, post) in enumerate(records):
        if on_progress is not None and i % 5000 == 0:
            on_progress(0, total)
        yield post
    if on_progress is not None:
        on_progress(total, total)


def ingest(
    path: str | Path,
    store: Store,
    fmt: Format = "auto",
    *,
    progress: bool = False,
    batch_size: int = 20_000,
) -> IngestReport:
    """Append the posts of one file to ``store``; returns counts and the bad rows.

    With ``progress`` a progress bar (bytes of the file read) is drawn on stderr.
    """
    report = IngestReport(source=str(path))
    batch: list[Row] = []
    extras: list[tuple[str, str, int | None, int | None]] = []

    def flush() -> None:
        if batch:
            result = store.append_rows(batch)
            report.added += result.added
            report.duplicates += result.duplicates
            batch.clear()
        if extras:
            store.append_extras(extras)
            extras.clear()

    def keep(post: Post) -> None:
        batch.append(post_row(post))
        extra = extra_row(post)
        if extra is not None:
            extras.append(extra)
        if len(batch) >= batch_size:
            flush()

    if not progress:
        for post in read_posts(path, fmt, report):
            keep(post)
        flush()
        return report

    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    with Progress(
        # the description holds a file name: text, not markup
        TextColumn("{task.description}", style="progress.description", markup=False),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        transient=True,
    ) as bar:
        task = bar.add_task(f"ingest {Path(path).name!r}", total=None)  # !r: no controls

        def on_progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        for post in read_posts(path, fmt, report, on_progress):
            keep(post)
        flush()
    return report
