"""Ingest (documented schema, QUT and CooRTweet layouts) and the post store."""

from __future__ import annotations

import gzip
import itertools
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from viche.errors import IngestError, MissingFileError, MonitorError
from viche.monitor.ingest import ingest, parse_time, read_posts
from viche.monitor.model import Post
from viche.monitor.store import Store

HEADER = "id,author,outlet,created_at,text,lang,repost_of,urls,hashtags\n"


def write(path: Path, text: str) -> Path:
    if path.name.endswith(".gz"):
        with gzip.open(path, "wt", encoding="utf-8", newline="") as fh:
            fh.write(text)
    else:
        path.write_text(text, encoding="utf-8", newline="")
    return path


# -- timestamps ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "value",
    [
        "2016-11-08T12:30:00Z",
        "2016-11-08T14:30:00+02:00",
        "2016-11-08 12:30:00",
        "1478608200",
        "1478608200000",
        "2016-11-08 05:30:00 -0700",
        "Tue Nov 08 12:30:00 +0000 2016",
    ],
)
def test_parse_time_accepts_the_documented_forms(value: str) -> None:
    assert parse_time(value) == datetime(2016, 11, 8, 12, 30, tzinfo=UTC)


@pytest.mark.parametrize("value", ["", "yesterday", "2016-13-45", "12:30"])
def test_parse_time_rejects_garbage(value: str) -> None:
    with pytest.raises(ValueError):
        parse_time(value)


# -- documented schema --------------------------------------------------------------------------
def test_csv_in_the_documented_schema(tmp_path: Path) -> None:
    path = write(
        tmp_path / "posts.csv",
        HEADER
        + '1,alice,,2016-11-08T10:00:00Z,"Hello, world",en,,'
        + 'https://a.example/x https://b.example,"#One Two"\n'
        + "2,bob,rt.com,2016-11-08T10:05:00Z,Другий пост,ru,1,,\n",
    )
    posts = list(read_posts(path))
    assert posts[0] == Post(
        id="1",
        author="alice",
        created_at=datetime(2016, 11, 8, 10, tzinfo=UTC),
        text="Hello, world",
        lang="en",
        urls=("https://a.example/x", "https://b.example"),
        hashtags=("One", "Two"),
    )
    assert (posts[1].outlet, posts[1].repost_of, posts[1].text) == ("rt.com", "1", "Другий пост")


def test_optional_fields_may_be_missing_and_aliases_are_understood(tmp_path: Path) -> None:
    path = write(
        tmp_path / "p.csv.gz",
        "post_id,author_id,created_at,content\n9,carol,2017-01-01 00:00,hi there\n",
    )
    (post,) = read_posts(path)
    assert (post.id, post.author, post.text, post.urls, post.lang) == (
        "9",
        "carol",
        "hi there",
        (),
        "",
    )


def test_jsonl(tmp_path: Path) -> None:
    rows = [
        {"id": "a", "author": "u1", "created_at": 1478608200, "text": "x", "urls": ["http://e.x"]},
        {"id": "b", "author": "u2", "created_at": "2016-11-08T12:30:00Z", "hashtags": "#a #b"},
    ]
    path = write(tmp_path / "p.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n")
    posts = list(read_posts(path))
    assert [p.id for p in posts] == ["a", "b"]
    assert posts[0].urls == ("http://e.x",)
    assert posts[1].hashtags == ("a", "b")
    assert posts[0].created_at == posts[1].created_at


def test_malformed_rows_are_reported_with_line_and_reason(tmp_path: Path) -> None:
    path = write(
        tmp_path / "bad.csv",
        HEADER
        + "1,alice,,2016-11-08T10:00:00Z,ok,en,,,\n"  # line 2: fine
        + '2,bob,,2016-11-08T10:00:00Z,"multi\nline text",en,,,\n'  # lines 3-4: fine
        + "3,carol,,not a date,text,en,,,\n"  # line 5: bad time
        + ",dave,,2016-11-08T10:00:00Z,text,en,,,\n"  # line 6: no id
        + "4,erin,too,few\n"  # line 7: wrong width
        + "5,frank,,2016-11-08T10:00:00Z,fine again,en,,,\n",  # line 8
    )
    with Store() as store:
        report = ingest(path, store)
        assert store.count() == 3
    assert (report.rows, report.added, report.malformed) == (6, 3, 3)
    assert [(p.line, p.reason.split()[0]) for p in report.problems] == [
        (5, "unreadable"),
        (6, "missing"),
        (7, "4"),
    ]


def test_bad_json_lines_are_reported_and_skipped(tmp_path: Path) -> None:
    path = write(
        tmp_path / "p.jsonl",
        '{"id": "a", "author": "u", "created_at": "2016-01-01"}\n'
        "{not json\n"
        "[1, 2]\n"
        '{"id": "b", "author": "u", "created_at": "2016-01-01", "urls": 5}\n'
        '{"id": "c", "author": "u", "created_at": "2016-01-02"}\n',
    )
    report_posts = list(read_posts(path))
    assert [p.id for p in report_posts] == ["a", "c"]
    with Store() as store:
        report = ingest(path, store)
    assert report.malformed == 3
    assert [p.line for p in report.problems] == [2, 3, 4]


def test_a_file_without_required_columns_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "p.csv", "id,text\n1,hello\n")
    with pytest.raises(IngestError, match="author") as info:
        list(read_posts(path))
    assert info.value.code == "V6001"


def test_missing_file() -> None:
    with pytest.raises(MissingFileError):
        list(read_posts("/nonexistent/posts.csv"))


# -- adapters -----------------------------------------------------------------------------------
def test_qut_coordination_network_toolkit_layout(tmp_path: Path) -> None:
    path = write(
        tmp_path / "qut.csv",
        "message_id,user_id,username,repost_id,reply_id,message,timestamp,urls\n"
        "100,7,alice,,,Original text,1478608200,https://e.example/a\n"
        "101,8,bob,100,,Original text,1478608260,\n",
    )
    posts = list(read_posts(path))
    assert [(p.id, p.author, p.repost_of) for p in posts] == [("100", "7", ""), ("101", "8", "100")]
    assert posts[0].urls == ("https://e.example/a",)
    assert posts[1].created_at == datetime(2016, 11, 8, 12, 31, tzinfo=UTC)


def test_coortweet_layout(tmp_path: Path) -> None:
    path = write(
        tmp_path / "coor.csv",
        "object_id,account_id,content_id,timestamp_share\nobj1,acc1,c1,1478608200\n"
        "obj1,acc2,c2,1478608201\n",
    )
    posts = list(read_posts(path))
    assert [(p.id, p.author, p.repost_of, p.text) for p in posts] == [
        ("c1", "acc1", "obj1", ""),
        ("c2", "acc2", "obj1", ""),
    ]


def test_coortweet_rows_with_a_bad_timestamp_are_reported(tmp_path: Path) -> None:
    path = write(
        tmp_path / "coor.csv",
        "object_id,account_id,content_id,timestamp_share\nobj1,acc1,c1,soon\n",
    )
    with Store() as store:
        report = ingest(path, store, fmt="coortweet")
    assert (report.added, report.malformed, report.problems[0].line) == (0, 1, 2)


# -- store --------------------------------------------------------------------------------------
def make_post(i: int) -> Post:
    return Post(
        id=f"p{i}",
        author=f"a{i % 3}",
        created_at=datetime(2016, 11, 8, tzinfo=UTC),
        text=f"text {i}",
        urls=(f"http://x/{i}",),
        hashtags=("tag",),
    )


def test_store_appends_reads_in_chunks_and_since(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        first = store.append(make_post(i) for i in range(10))
        again = store.append(make_post(i) for i in range(5, 15))
        assert (first.added, again.added, again.duplicates) == (10, 5, 5)
        chunks = list(store.frames(chunk_size=4))
        assert [len(c) for c in chunks] == [4, 4, 4, 3]
        assert store.count(since_seq=10) == 5
        later = list(store.posts(since_seq=store.last_seq() - 2))
        assert [p.id for p in later] == ["p13", "p14"]
        assert later[0] == make_post(13)
        fetched = store.fetch([3, 1], columns=("id", "author"))
        assert fetched["id"].tolist() == ["p0", "p2"]
    with Store(tmp_path / "s.db") as reopened:
        assert reopened.count() == 15


def test_store_refuses_unknown_columns() -> None:
    with Store() as store, pytest.raises(MonitorError, match="unknown column"):
        list(store.frames(columns=("id", "password")))


def test_real_data_slice_ingests_cleanly(shared_dir: Path, tmp_path: Path) -> None:
    source = shared_dir / "data" / "influence" / "ira_dev" / "posts.csv.gz"
    with gzip.open(source, "rt", encoding="utf-8", newline="") as fh:
        head = "".join(itertools.islice(fh, 3000))
    path = write(tmp_path / "slice.csv", head)
    with Store() as store:
        report = ingest(path, store)
        assert report.malformed == 0
        assert report.added == store.count() > 2500
        assert {p.lang for p in itertools.islice(store.posts(), 100)} >= {"Russian"}


def test_a_truncated_gzip_keeps_what_was_read_and_reports_the_break(tmp_path: Path) -> None:
    rows = "".join(f"{i},a{i % 7},,2016-11-08T10:00:00Z,text {i},en,,,\n" for i in range(20_000))
    whole = write(tmp_path / "whole.csv.gz", HEADER + rows).read_bytes()
    cut = tmp_path / "cut.csv.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    with Store() as store:
        report = ingest(cut, store)
        assert 0 < store.count() < 20_000
    assert report.malformed >= 1
    assert "unreadable" in report.problems[-1].reason
    with Store() as store:
        complete = ingest(tmp_path / "whole.csv.gz", store)
    assert (complete.added, complete.malformed) == (20_000, 0)


def test_a_file_not_in_utf8_is_said_not_silently_garbled(tmp_path: Path) -> None:
    """A CSV saved in Windows-1251 (the audit of 2026-12-05): its Cyrillic became U+FFFD
    with '0 malformed rows' and no word of it. The posts are still read (a few stray
    bytes in a large real file must not drop it), and the report counts the bytes that
    are not UTF-8, so that the user re-saves the file."""
    path = tmp_path / "posts.csv"
    path.write_bytes(
        b"id,author,text,created_at\n"
        + "1,a,Привіт світ,2024-11-02T10:00:00\n".encode("cp1251")
        + "2,b,Добрий день,2024-11-02T10:01:00\n".encode()
    )
    with Store(tmp_path / "s.sqlite") as store:
        report = ingest(path, store)
    assert report.added == 2 and report.malformed == 0
    assert report.not_utf8 == len("Привіт світ".replace(" ", ""))  # one per Cyrillic byte
    clean = write(tmp_path / "clean.csv", "id,author,text,created_at\n1,a,Привіт,2024-11-02\n")
    with Store(tmp_path / "t.sqlite") as store:
        assert ingest(clean, store).not_utf8 == 0


def test_a_binary_file_is_refused_in_one_short_line(tmp_path: Path) -> None:
    """An archive given as posts (the audit): its 'header' of hundreds of NUL bytes was
    printed whole in the message."""
    path = tmp_path / "posts.csv"
    path.write_bytes(b"BELENIOS" + b"\0" * 4000 + b"\n")
    with pytest.raises(IngestError) as caught:
        list(read_posts(path))
    assert len(str(caught.value)) < 300 and "\\x00\\x00\\x00" not in str(caught.value)
