"""Telegram Desktop exports, RSS/Atom feeds and saved HTML pages as posts (and auto-detection)."""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import shutil
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from viche.errors import IngestError
from viche.monitor import news, telegram
from viche.monitor.ingest import IngestReport, _detect_format, ingest, read_posts
from viche.monitor.pipeline import detect
from viche.monitor.store import Store
from viche.monitor.text import guess_language

FIXTURES = Path(__file__).parent / "fixtures"
EXPORT = FIXTURES / "tg_export" / "result.json"


def posts_of(path: Path) -> tuple[list[Any], IngestReport]:
    report = IngestReport(source=str(path))
    return list(read_posts(path, report=report)), report


# -- Telegram -------------------------------------------------------------------------------------
def test_telegram_export_maps_forwards_replies_edits_views_links_and_files() -> None:
    posts, report = posts_of(EXPORT)
    by_id = {p.id: p for p in posts}
    assert sorted(by_id) == [f"tg:-1001777000111:{i}" for i in (2, 3, 4, 5)]  # service skipped
    first = by_id["tg:-1001777000111:2"]
    assert first.author == "tg:-1001777000111" and first.outlet == "Вісті Підгір'я"
    assert first.created_at == datetime(2024, 11, 2, 10, 5, tzinfo=UTC)
    assert first.text.startswith("Центрвиборчком готує") and "джерело" in first.text
    assert first.urls == (
        "https://leaks.example.net/order-117?utm_source=tg",
        "https://t.me/leaksource/55",
    )
    assert first.hashtags == ("вибори",) and first.views == 12045 and first.lang == "uk"
    forward = by_id["tg:-1001777000111:3"]
    assert forward.repost_of == "tg:-1001555000222"  # a forward of a channel is a repost
    assert forward.edited_at == datetime(2024, 11, 2, 10, 20, tzinfo=UTC)
    digest = hashlib.sha256((EXPORT.parent / "files" / "order_117.pdf").read_bytes()).hexdigest()
    assert forward.urls == (f"file:sha256:{digest}",)
    reply = by_id["tg:-1001777000111:4"]
    assert reply.reply_to == "tg:-1001777000111:2" and reply.urls == ()  # photo not exported
    assert by_id["tg:-1001777000111:5"].repost_of == "tgname:Старий канал"  # old export: name only
    assert report.rows == 7 and report.malformed == 2
    assert [(p.line, p.reason) for p in report.problems] == [
        (6, "message None: missing id"),
        (7, "message 7: missing date"),
    ]


def test_same_file_under_another_name_is_the_same_key(tmp_path: Path) -> None:
    shutil.copytree(EXPORT.parent, tmp_path / "a")
    doc = json.loads(EXPORT.read_text(encoding="utf-8"))
    (tmp_path / "a" / "files" / "order_117.pdf").rename(tmp_path / "a" / "files" / "renamed.pdf")
    doc["messages"][2]["file"] = "files/renamed.pdf"
    (tmp_path / "a" / "result.json").write_text(json.dumps(doc), encoding="utf-8")
    posts, _ = posts_of(tmp_path / "a" / "result.json")
    original, _ = posts_of(EXPORT)
    assert [p.urls for p in posts if p.id.endswith(":3")] == [
        p.urls for p in original if p.id.endswith(":3")
    ]


def test_a_file_outside_the_export_folder_is_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("not part of the export", encoding="utf-8")
    (tmp_path / "exp").mkdir()
    message = {
        "id": 1,
        "type": "message",
        "date_unixtime": "1730541900",
        "text": "x",
        "file": "../secret.txt",
        "file_name": "leak.pdf",
        "file_size": 10,
    }
    path = tmp_path / "exp" / "result.json"
    path.write_text(
        json.dumps({"name": "c", "type": "public_channel", "id": 5, "messages": [message]}),
        encoding="utf-8",
    )
    posts, _ = posts_of(path)
    assert posts[0].urls == ("file:name:leak.pdf:10",)


def test_whole_account_export_reads_every_chat(tmp_path: Path) -> None:
    chat = json.loads(EXPORT.read_text(encoding="utf-8"))
    other = {
        "name": "Друга",
        "type": "private_supergroup",
        "id": 42,
        "messages": [
            {
                "id": 9,
                "type": "message",
                "date_unixtime": "1730541900",
                "from": "Олег",
                "from_id": "user77",
                "text": "привіт",
            }
        ],
    }
    path = tmp_path / "result.json"
    path.write_text(json.dumps({"chats": {"list": [chat, other]}}, ensure_ascii=False), "utf-8")
    posts, _ = posts_of(path)
    assert {p.author for p in posts} == {"tg:-1001777000111", "tg:77"}
    assert "tg:-10042:9" in {p.id for p in posts}


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ('{"name": "x",\n "messages": [', "not valid JSON"),
        ('{"chats": 3,\n "x": 1}', "no 'messages'"),
    ],
)
def test_a_broken_export_is_refused_with_where(tmp_path: Path, content: str, match: str) -> None:
    path = tmp_path / "result.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(IngestError, match=match) as info:
        posts_of(path)
    assert info.value.where is not None and str(path) in str(info.value.where)


_entity = st.one_of(
    st.text(max_size=8),
    st.builds(lambda t: {"type": "plain", "text": t}, st.text(max_size=8)),
    st.builds(lambda t: {"type": "link", "text": "https://x.test/" + t}, st.text("ab", max_size=4)),
    st.builds(
        lambda t, h: {"type": "text_link", "text": t, "href": "https://" + h + ".test"},
        st.text(max_size=5),
        st.text("xyz", min_size=1, max_size=4),
    ),
    st.builds(
        lambda t: {"type": "hashtag", "text": "#" + t}, st.text("абв", min_size=1, max_size=5)
    ),
)


@given(st.lists(_entity, max_size=8))
def test_flatten_text_keeps_the_visible_text_and_every_link(parts: list[Any]) -> None:
    text, links, tags = telegram.flatten_text(parts)
    visible = "".join(p if isinstance(p, str) else p["text"] for p in parts)
    assert text == visible
    expected = [
        p["text"] if p["type"] == "link" else p["href"]
        for p in parts
        if isinstance(p, dict) and p["type"] in ("link", "text_link")
    ]
    assert links == expected
    assert tags == [p["text"][1:] for p in parts if isinstance(p, dict) and p["type"] == "hashtag"]


@pytest.mark.parametrize("bad", [3, {"text": "x"}, [{"type": "bold", "text": 5}], [7]])
def test_flatten_text_refuses_what_is_not_text(bad: Any) -> None:
    with pytest.raises(ValueError):
        telegram.flatten_text(bad)


def test_peer_ids_follow_the_api_convention() -> None:
    assert telegram.peer_id("channel123") == "tg:-100123"
    assert telegram.peer_id("user5") == "tg:5"
    assert telegram.peer_id(123, kind="public_channel") == "tg:-100123"
    assert telegram.peer_id(123, kind="personal_chat") == "tg:123"
    assert telegram.peer_id("nonsense") == telegram.peer_id(None) == telegram.peer_id(True) == ""


def test_guess_language() -> None:
    assert guess_language("Вибори відбудуться навесні") == "uk"
    assert guess_language("Выборы пройдут весной") == "ru"
    assert guess_language("Elections in spring, Київ") == "en"
    assert guess_language("2024 !!") == ""


# -- news -----------------------------------------------------------------------------------------
def test_rss_feed_items_are_posts_of_the_outlet() -> None:
    posts, report = posts_of(FIXTURES / "news" / "feed.rss")
    assert [p.author for p in posts] == ["site:example-daily.test"] * 2
    first = posts[0]
    assert first.outlet == "Example Daily" and first.lang == "en"
    assert first.created_at == datetime(2024, 11, 2, 12, 30, tzinfo=UTC)
    assert first.text == (
        "Leaked order on cancelled elections is a forgery, officials say. "
        "The document shared by several channels was never issued."
    )
    assert first.urls == (
        "https://www.example-daily.test/news/leak-forgery",
        "https://leaks.example.net/order-117",
    )
    assert report.rows == 3 and [(p.line, p.reason) for p in report.problems] == [
        (3, "entry without a date")
    ]


def test_atom_feed_with_offset_time_and_language() -> None:
    (post,), report = posts_of(FIXTURES / "news" / "feed.atom")
    assert post.author == "site:novyny-zahodu.test" and post.lang == "uk"
    assert post.created_at == datetime(2024, 11, 2, 11, 0, tzinfo=UTC)
    assert post.text.startswith("Так званий наказ №117 виявився фальшивкою. ЦВК заявила")
    assert report.malformed == 0


def test_saved_page_keeps_the_article_not_the_menus() -> None:
    (post,), report = posts_of(FIXTURES / "news" / "article.html")
    assert post.author == "site:example-daily.test" and post.outlet == "Example Daily"
    assert post.id == "site:example-daily.test:example-daily.test/news/fake-order-spreads"
    assert post.created_at == datetime(2024, 11, 2, 14, 15, tzinfo=UTC)
    assert "same PDF file" in post.text and "procurement decision" in post.text
    for boilerplate in ("Sport", "recipes for autumn", "newsletter"):
        assert boilerplate not in post.text
    assert report.malformed == 0


def test_a_page_without_date_or_site_is_reported_not_guessed(tmp_path: Path) -> None:
    page = (FIXTURES / "news" / "article.html").read_text(encoding="utf-8")
    undated = tmp_path / "undated.html"
    undated.write_text(page.replace("2024-11-02T14:15:00+00:00", "soon"), encoding="utf-8")
    posts, report = posts_of(undated)
    assert posts == [] and report.problems[0].reason == "the page has no publication date"
    nowhere = tmp_path / "nowhere.html"
    nowhere.write_text(
        page.replace(
            '<link rel="canonical" href="https://www.example-daily.test/news/fake-order-spreads">',
            "",
        )
        .replace('<meta property="og:site_name" content="Example Daily">', "")
        .replace("| Example Daily", ""),
        encoding="utf-8",
    )
    posts, report = posts_of(nowhere)
    assert posts == [] and "does not say its site" in report.problems[0].reason


def test_a_broken_feed_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "broken.rss"
    path.write_text("<?xml version='1.0'?><rss><chan", encoding="utf-8")
    with pytest.raises(IngestError, match="not a readable RSS/Atom feed"):
        posts_of(path)


# -- auto-detection -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "head", "fmt"),
    [
        ("result.json", '{\n "name": "x",\n "type": "public_channel",\n "messages": [', "telegram"),
        ("result.json", '{"name": "x", "messages": []}\n', "telegram"),
        (
            "posts.json",
            '{"id": "1", "author": "a", "created_at": "2024-01-01", "text": "messages"}\n',
            "jsonl",
        ),
        ("posts.jsonl", '{"id": "1", "messages": 2}\n', "jsonl"),
        ("feed.xml", "<?xml version='1.0'?>\n<rss version='2.0'>", "feed"),
        ("x.atom", "<feed xmlns='http://www.w3.org/2005/Atom'>", "feed"),
        ("page.htm", "<p>hello", "html"),
        ("saved", "<!DOCTYPE html><html>", "html"),
        ("posts.csv", "id,author,created_at\n", "csv"),
    ],
)
def test_auto_detection(name: str, head: str, fmt: str) -> None:
    assert _detect_format(Path(name), head) == fmt


def test_ingest_keeps_replies_edits_and_views_in_the_store(tmp_path: Path) -> None:
    with Store(tmp_path / "s.sqlite") as store:
        report = ingest(EXPORT, store)
        assert report.added == 4 and report.malformed == 2
        extras = store.extras(["tg:-1001777000111:2", "tg:-1001777000111:3", "tg:-1001777000111:5"])
        assert extras["tg:-1001777000111:2"][3] == 12045
        assert extras["tg:-1001777000111:3"][2] == int(
            datetime(2024, 11, 2, 10, 20, tzinfo=UTC).timestamp()
        )
        assert "tg:-1001777000111:5" not in extras
        again = ingest(EXPORT, store)
        assert again.added == 0 and again.duplicates == 4


# -- real Telegram data ---------------------------------------------------------------------------
def write_exports(source: Path, out: Path, *, limit_per_channel: int) -> dict[str, str]:
    """The posts of ``tg_ru_news_2024`` written back as Telegram Desktop exports, one a channel."""
    chats: dict[str, dict[str, Any]] = {}
    with gzip.open(source, "rt", encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            number = int(row["author_id"].removeprefix("tg:-100"))
            chat = chats.setdefault(
                row["author_id"],
                {
                    "name": row["channel_title"],
                    "type": "public_channel",
                    "id": number,
                    "messages": [],
                },
            )
            if len(chat["messages"]) >= limit_per_channel:
                continue
            when = datetime.fromisoformat(row["created_at"].replace("Z", "+00:00"))
            chat["messages"].append(
                {
                    "id": int(row["message_id"]),
                    "type": "message",
                    "date": when.strftime("%Y-%m-%dT%H:%M:%S"),
                    "date_unixtime": str(int(when.timestamp())),
                    "from": row["channel_title"],
                    "from_id": f"channel{number}",
                    "text": row["text"],
                }
            )
    titles = {}
    for author, chat in chats.items():
        folder = out / author.replace(":", "_")
        folder.mkdir(parents=True)
        (folder / "result.json").write_text(json.dumps(chat, ensure_ascii=False, indent=1), "utf-8")
        titles[author] = chat["name"]
    return titles


def test_real_russian_channels_through_telegram_exports(shared_dir: Path, tmp_path: Path) -> None:
    """tg_ru_news_2024 as exports: ids agree with the API ids, and copy-paste families link up."""
    base = shared_dir / "data" / "influence" / "tg_ru_news_2024"
    titles = write_exports(base / "posts.csv.gz", tmp_path / "exports", limit_per_channel=400)
    assert len(titles) == 24
    with Store() as store:
        for path in sorted((tmp_path / "exports").glob("*/result.json")):
            report = ingest(path, store)
            assert report.malformed == 0 and report.added > 0
        assert {p.author for p in store.posts()} == set(titles)
        langs: dict[str, int] = defaultdict(int)
        for p in store.posts():
            langs[p.lang] += 1
        assert langs["ru"] > 0.9 * sum(langs.values())
        result = detect(store)
    grouped = {titles[a.author_id] for a in result.accounts if a.flagged}
    # the same-owner TOPOR family cross-posts identical texts within minutes (SOURCE.txt)
    assert {"Топор+", "Топор Live"} <= grouped
    # the independent foreign broadcaster and the science channel are not grouped
    assert not grouped & {"BBC News | Русская служба", "Naked Science"}


def test_real_prowar_messages_ingest_with_language(shared_dir: Path) -> None:
    source = shared_dir / "data" / "influence" / "tg_prowar_ru_network_2022_2024" / "posts.csv.gz"
    with gzip.open(source, "rt", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 623
    langs = [guess_language(r["text"]) for r in rows]
    assert langs.count("ru") > 0.95 * len(rows)


def test_news_module_needs_its_extra_only_when_used() -> None:
    assert news.looks_like_feed("<rss version='2.0'>") and not news.looks_like_feed("<html>")
    assert news.site_id("https://www.Example.org/a?b=1") == "site:example.org"
    assert news.site_id("not a url") == ""
