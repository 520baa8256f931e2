"""A local, append-only store of posts (SQLite through the standard library).

Ingest appends; detection reads in chunks. Every post gets a sequence number ``seq`` in
arrival order, so a later run can read only what was appended since (``since_seq``) and
keep what it computed before in ``meta`` (e.g. the last ``seq`` it has seen).

Tables::

    posts(seq INTEGER PRIMARY KEY, id TEXT UNIQUE, author, created_at INTEGER (Unix seconds,
          UTC), text, outlet, lang, repost_of, urls (space-separated), hashtags (space-separated))
    meta(key TEXT PRIMARY KEY, value TEXT)
    extras(id TEXT PRIMARY KEY, reply_to, edited_at INTEGER, views INTEGER)  -- only posts
          whose source gave one of these (Telegram); detection does not read them
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TypeVar, cast

import pandas as pd

from viche.errors import Location, MonitorError
from viche.monitor.model import Post

COLUMNS = (
    "seq",
    "id",
    "author",
    "created_at",
    "text",
    "outlet",
    "lang",
    "repost_of",
    "urls",
    "hashtags",
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS posts (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    author TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    text TEXT NOT NULL DEFAULT '',
    outlet TEXT NOT NULL DEFAULT '',
    lang TEXT NOT NULL DEFAULT '',
    repost_of TEXT NOT NULL DEFAULT '',
    urls TEXT NOT NULL DEFAULT '',
    hashtags TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS extras (
    id TEXT PRIMARY KEY,
    reply_to TEXT NOT NULL DEFAULT '',
    edited_at INTEGER,
    views INTEGER
);
"""

Row = tuple[str, str, int, str, str, str, str, str, str]


def post_row(post: Post) -> Row:
    """The stored form of a post (without ``seq``)."""
    return (
        post.id,
        post.author,
        int(post.created_at.timestamp()),
        post.text,
        post.outlet,
        post.lang,
        post.repost_of,
        " ".join(post.urls),
        " ".join(post.hashtags),
    )


ExtraRow = tuple[str, str, int | None, int | None]


def extra_row(post: Post) -> ExtraRow | None:
    """``(id, reply_to, edited_at, views)`` when the post has one of them, else None."""
    if not post.reply_to and post.edited_at is None and post.views is None:
        return None
    edited = None if post.edited_at is None else int(post.edited_at.timestamp())
    return (post.id, post.reply_to, edited, post.views)


@dataclass(frozen=True, slots=True)
class AppendResult:
    added: int
    duplicates: int  # posts whose id was already in the store (kept as first seen)


class Store:
    """Posts in one SQLite file (or ``":memory:"``)."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        self.path = str(path)
        try:
            self._db = sqlite3.connect(self.path)
            self._db.executescript(_SCHEMA)
            if self.path != ":memory:":
                self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.Error as exc:
            raise MonitorError(
                f"cannot open the post store: {exc}", where=Location(file=str(self.path))
            ) from exc

    # -- life cycle -------------------------------------------------------------------------
    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- writing ----------------------------------------------------------------------------
    def append_rows(self, rows: Sequence[Row]) -> AppendResult:
        """Append rows in one transaction; a row whose ``id`` is known is ignored. Text
        that cannot be stored as UTF-8 (a lone surrogate, which JSON's ``\\ud800`` escapes
        make) is stored with U+FFFD in its place."""
        sql = (
            "INSERT OR IGNORE INTO posts (id, author, created_at, text, outlet, lang,"
            " repost_of, urls, hashtags) VALUES (?,?,?,?,?,?,?,?,?)"
        )
        before = self._db.total_changes
        try:
            with self._db:
                self._db.executemany(sql, rows)
        except UnicodeEncodeError:  # the transaction was rolled back: again, cleaned
            with self._db:
                self._db.executemany(sql, [_valid_utf8(r) for r in rows])
        added = self._db.total_changes - before
        return AppendResult(added=added, duplicates=len(rows) - added)

    def append(self, posts: Iterable[Post]) -> AppendResult:
        kept = list(posts)
        self.append_extras([e for e in map(extra_row, kept) if e is not None])
        return self.append_rows([post_row(p) for p in kept])

    def append_extras(self, rows: Sequence[ExtraRow]) -> None:
        """Keep replies, edits and views (the first value seen for a post id stays)."""
        if rows:
            sql = "INSERT OR IGNORE INTO extras (id, reply_to, edited_at, views) VALUES (?,?,?,?)"
            try:
                with self._db:
                    self._db.executemany(sql, rows)
            except UnicodeEncodeError:  # as in append_rows
                with self._db:
                    self._db.executemany(sql, [_valid_utf8(r) for r in rows])

    def extras(self, ids: Sequence[str]) -> dict[str, ExtraRow]:
        """The stored extras of the given post ids (those that have some)."""
        out: dict[str, ExtraRow] = {}
        wanted = sorted(set(ids))
        for i in range(0, len(wanted), 500):
            part = wanted[i : i + 500]
            marks = ",".join("?" * len(part))
            for row in self._db.execute(
                f"SELECT id, reply_to, edited_at, views FROM extras WHERE id IN ({marks})",  # noqa: S608 (placeholders only)
                part,
            ):
                out[str(row[0])] = (str(row[0]), str(row[1]), row[2], row[3])
        return out

    # -- reading ----------------------------------------------------------------------------
    def count(self, since_seq: int = 0) -> int:
        (n,) = self._db.execute("SELECT COUNT(*) FROM posts WHERE seq > ?", (since_seq,)).fetchone()
        return int(n)

    def last_seq(self) -> int:
        (n,) = self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM posts").fetchone()
        return int(n)

    def frames(
        self,
        chunk_size: int = 200_000,
        since_seq: int = 0,
        columns: Sequence[str] = COLUMNS,
        start: int | None = None,
        end: int | None = None,
    ) -> Iterator[pd.DataFrame]:
        """The posts in ``seq`` order, ``chunk_size`` rows per DataFrame; with ``start`` /
        ``end`` (Unix seconds) only those with ``start <= created_at < end``."""
        bad = [c for c in columns if c not in COLUMNS]
        if bad:
            raise MonitorError(f"unknown column {bad[0]!r}", where=Location(path=("store.frames",)))
        cols = list(columns) if "seq" in columns else ["seq", *columns]
        sql = (
            f"SELECT {', '.join(cols)} FROM posts WHERE seq > ?"  # noqa: S608 (columns checked above)
            " AND created_at >= ? AND created_at < ? ORDER BY seq LIMIT ?"
        )
        lo = -(2**62) if start is None else start
        hi = 2**62 if end is None else end
        last = since_seq
        while True:
            rows = self._db.execute(sql, (last, lo, hi, chunk_size)).fetchall()
            if not rows:
                return
            frame = pd.DataFrame(rows, columns=cols)
            last = int(rows[-1][0])
            yield frame[list(columns)]

    def count_between(self, start: int | None = None, end: int | None = None) -> int:
        """The number of posts with ``start <= created_at < end`` (Unix seconds; None = open)."""
        lo = -(2**62) if start is None else start
        hi = 2**62 if end is None else end
        (n,) = self._db.execute(
            "SELECT COUNT(*) FROM posts WHERE created_at >= ? AND created_at < ?", (lo, hi)
        ).fetchone()
        return int(n)

    def time_histogram(
        self, start: int | None = None, end: int | None = None
    ) -> Iterator[tuple[int, int]]:
        """``(created_at, posts at that second)`` in time order, streamed from SQLite (the
        grouping is SQLite's, on disk if large: Python holds one row at a time)."""
        lo = -(2**62) if start is None else start
        hi = 2**62 if end is None else end
        cursor = self._db.execute(
            "SELECT created_at, COUNT(*) FROM posts WHERE created_at >= ? AND created_at < ?"
            " GROUP BY created_at ORDER BY created_at",
            (lo, hi),
        )
        for t, n in cursor:
            yield int(t), int(n)

    def fetch(self, seqs: Sequence[int], columns: Sequence[str] = COLUMNS) -> pd.DataFrame:
        """The posts with the given ``seq`` numbers (in ``seq`` order)."""
        bad = [c for c in columns if c not in COLUMNS]
        if bad:
            raise MonitorError(f"unknown column {bad[0]!r}", where=Location(path=("store.fetch",)))
        cols = list(columns) if "seq" in columns else ["seq", *columns]
        wanted = sorted({int(s) for s in seqs})
        rows: list[tuple[object, ...]] = []
        for i in range(0, len(wanted), 500):
            part = wanted[i : i + 500]
            marks = ",".join("?" * len(part))
            rows.extend(
                self._db.execute(
                    f"SELECT {', '.join(cols)} FROM posts WHERE seq IN ({marks}) ORDER BY seq",  # noqa: S608 (columns checked above)
                    part,
                ).fetchall()
            )
        return pd.DataFrame(rows, columns=cols)[list(columns)]

    def posts(self, since_seq: int = 0) -> Iterator[Post]:
        for frame in self.frames(since_seq=since_seq):
            yield from map(_as_post, frame.itertuples(index=False, name=None))

    def posts_of(self, authors: Iterable[str], chunk_size: int = 20_000) -> Iterator[Post]:
        """The posts of these authors in ``seq`` order, streamed (the filter runs in SQLite,
        through a temporary table of the authors)."""
        self._db.execute("CREATE TEMP TABLE IF NOT EXISTS wanted_authors (a TEXT PRIMARY KEY)")
        with self._db:
            self._db.execute("DELETE FROM wanted_authors")
            self._db.executemany(
                "INSERT OR IGNORE INTO wanted_authors VALUES (?)", ((a,) for a in authors)
            )
        cursor = self._db.execute(
            f"SELECT {', '.join(COLUMNS)} FROM posts"  # noqa: S608 (constant column names)
            " WHERE author IN (SELECT a FROM wanted_authors) ORDER BY seq"
        )
        while rows := cursor.fetchmany(chunk_size):
            yield from map(_as_post, rows)

    # -- metadata -----------------------------------------------------------------------------
    def get_meta(self, key: str) -> str:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return "" if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))


_SURROGATE = re.compile("[\ud800-\udfff]")
_R = TypeVar("_R", Row, ExtraRow)


def _valid_utf8(row: _R) -> _R:
    """``row`` with every lone surrogate of its strings replaced by U+FFFD."""
    return cast(_R, tuple(_SURROGATE.sub("\ufffd", v) if isinstance(v, str) else v for v in row))


def _as_post(row: tuple[object, ...]) -> Post:
    """A row of :data:`COLUMNS` as a :class:`Post`."""
    _, pid, author, created, text, outlet, lang, repost_of, urls, tags = row
    return Post(
        id=str(pid),
        author=str(author),
        created_at=datetime.fromtimestamp(int(str(created)), tz=UTC),
        text=str(text),
        outlet=str(outlet),
        lang=str(lang),
        repost_of=str(repost_of),
        urls=tuple(str(urls).split()),
        hashtags=tuple(str(tags).split()),
    )
