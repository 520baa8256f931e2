"""News sources as posts: RSS/Atom feeds and saved HTML article pages.

An outlet is an author: every item of a site has ``author`` = ``site:<host>`` (the host
without ``www.``) and ``outlet`` = the site's name where the source gives one, so outlets
that publish the same story within minutes co-act exactly as accounts do.

* **Feeds** (RSS 0.9x/1.0/2.0, Atom): parsed by ``feedparser`` from bytes we read (it
  never fetches anything itself here). One post per entry: ``id`` = ``<author>:<entry id or
  link>``, ``created_at`` = published (else updated) time, ``text`` = title and summary (or
  content) as plain text, ``urls`` = the entry's link and the links in its text, ``lang``
  from the feed (else guessed from the letters). An entry without a date is malformed
  (reported, skipped): a feed item cannot be placed in time otherwise.
* **Saved HTML pages**: the main text is extracted with ``trafilatura`` (boilerplate,
  menus, comments removed). It was chosen because it is maintained (releases through 2025),
  Apache-2.0, and leads the published comparisons of main-text extraction (its own
  benchmark and the ScrapingHub article-extraction benchmark) while also reading the
  page's date, site name and canonical URL, which a post needs. The page must say where it
  is from (canonical link or ``og:url``, else ``og:site_name``) and when (a date in its
  metadata or text): a page without them is reported and skipped.

Both libraries come with the optional extra ``news`` (``pip install -e '.[news]'``);
without it these readers raise :class:`~viche.errors.MissingDependencyError`.
"""

from __future__ import annotations

import calendar
import hashlib
import importlib
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from viche.errors import IngestError, Location, MissingDependencyError
from viche.monitor.model import Post, utc_from_unix
from viche.monitor.telegram import Problems
from viche.monitor.text import guess_language, normalise_url

INSTALL_HINT = "news sources need the optional extra 'news': pip install -e '.[news]'"
MAX_PAGE_BYTES = 20 << 20
MAX_FEED_BYTES = 50 << 20
_URL = re.compile(r"https?://[^\s\"'<>]+", re.IGNORECASE)


def _module(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise MissingDependencyError(INSTALL_HINT, where=Location(member=name)) from exc


def looks_like_feed(head: str) -> bool:
    h = head.lstrip("\ufeff \t\r\n")[:2048].lower()
    if h.startswith("<?xml"):
        return "<rss" in h or "<feed" in h or "<rdf" in h
    return h.startswith(("<rss", "<feed", "<rdf:rdf"))


def looks_like_html(head: str) -> bool:
    h = head.lstrip("\ufeff \t\r\n")[:2048].lower()
    return h.startswith(("<!doctype html", "<html")) or "<html" in h


def site_id(url: str) -> str:
    """``site:<host>`` of a URL (host lower-case, without ``www.``), or ""."""
    host = normalise_url(url).split("/", 1)[0].split("?", 1)[0]
    return f"site:{host}" if host and "." in host else ""


class _TextOnly(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            href = dict(attrs).get("href")
            if href and href.startswith(("http://", "https://")):
                self.links.append(href)
        if tag in ("p", "br", "div", "li"):
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_to_text(fragment: str) -> tuple[str, list[str]]:
    """Plain text and links of an HTML fragment (a feed summary)."""
    parser = _TextOnly()
    parser.feed(fragment)
    parser.close()
    text = re.sub(r"\s+", " ", unescape("".join(parser.parts))).strip()
    return text, parser.links


def _entry_time(entry: Any) -> datetime | None:
    """The entry's time; ``ValueError`` when it has one that no date has (year 0)."""
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(key)
        if value:
            try:
                seconds = calendar.timegm(value)
            except (OverflowError, ValueError, TypeError) as exc:
                raise ValueError(f"unreadable {key.split('_')[0]} date") from exc
            return utc_from_unix(seconds)
    return None


def read_feed(
    path: Path, report: Problems, on_row: Callable[[], None] | None = None
) -> Iterator[tuple[int, Post]]:
    """``(entry number, post)`` for each dated entry of an RSS/Atom file."""
    with path.open("rb") as fh:  # not more than the cap: feed_posts refuses a larger one
        data = fh.read(MAX_FEED_BYTES + 1)
    return feed_posts(data, report, source=str(path), on_row=on_row)


def feed_posts(
    data: bytes,
    report: Problems,
    *,
    source: str,
    on_row: Callable[[], None] | None = None,
) -> Iterator[tuple[int, Post]]:
    """The posts of a feed document held in memory (a file, or a polled URL's body)."""
    where = Location(file=source)
    if len(data) > MAX_FEED_BYTES:
        raise IngestError(f"feed larger than {MAX_FEED_BYTES} bytes", where=where)
    feedparser = _module("feedparser")
    try:
        parsed = feedparser.parse(data, sanitize_html=True, resolve_relative_uris=False)
    except Exception as exc:  # feedparser's own bugs: UnicodeEncodeError on "&#xD800;"
        raise IngestError(
            f"not a readable RSS/Atom feed: the feed parser failed ({type(exc).__name__})",
            where=where,
        ) from exc
    if not parsed.get("entries") and parsed.get("bozo"):
        problem = parsed.get("bozo_exception")
        raise IngestError(f"not a readable RSS/Atom feed: {problem}", where=where)
    feed = parsed.get("feed", {})
    site_link = str(feed.get("link") or "")
    outlet = str(feed.get("title") or "").strip()
    feed_lang = str(feed.get("language") or "").split("-")[0].lower()
    feed_author = site_id(site_link)
    for number, entry in enumerate(parsed.get("entries", []), start=1):
        if on_row is not None:
            on_row()
        link = str(entry.get("link") or "")
        author = feed_author or site_id(link)
        if not author:
            report.problem(number, "no site: neither the feed nor the entry has a link")
            continue
        try:
            created = _entry_time(entry)
        except ValueError as exc:
            report.problem(number, str(exc))
            continue
        if created is None:
            report.problem(number, "entry without a date")
            continue
        body = ""
        content = entry.get("content")
        if isinstance(content, list) and content:
            body = str(content[0].get("value") or "")
        if not body:
            body = str(entry.get("summary") or "")
        title, _ = html_to_text(str(entry.get("title") or ""))
        text, links = html_to_text(body)
        if title and text and not text.startswith(title):
            full = f"{title}. {text}"
        else:
            full = text or title
        key = str(entry.get("id") or link or hashlib.sha256(full.encode()).hexdigest()[:20])
        yield (
            number,
            Post(
                id=f"{author}:{key}",
                author=author,
                created_at=created,
                text=full,
                outlet=outlet,
                lang=feed_lang or guess_language(full),
                urls=tuple(dict.fromkeys([u for u in (link, *links) if u])),
            ),
        )


def read_html(
    path: Path, report: Problems, on_row: Callable[[], None] | None = None
) -> Iterator[tuple[int, Post]]:
    """The article of a saved HTML page as one post (``(1, post)``), or a reported problem."""
    where = Location(file=str(path))
    if on_row is not None:
        on_row()
    if path.stat().st_size > MAX_PAGE_BYTES:
        raise IngestError(f"page larger than {MAX_PAGE_BYTES} bytes", where=where)
    post = page_post(path.read_bytes(), report, source=str(path))
    if post is not None:
        yield 1, post


def page_post(html: bytes, report: Problems, *, source: str, url: str = "") -> Post | None:
    """The main text of one HTML page with its site, date and URL; None if unusable."""
    trafilatura = _module("trafilatura")
    try:
        doc = trafilatura.bare_extraction(
            html,
            url=url or None,
            with_metadata=True,
            include_comments=False,
            favor_precision=True,
            date_extraction_params={"original_date": True, "outputformat": "%Y-%m-%dT%H:%M:%S"},
        )
    except Exception as exc:  # as feedparser's in feed_posts: the extractor's own bugs
        failed = type(exc).__name__
        report.problem(1, f"the page could not be read: the extractor failed ({failed})")
        return None
    if doc is None:
        report.problem(1, "no main text found in the page")
        return None
    meta = doc.as_dict() if hasattr(doc, "as_dict") else dict(doc)
    text = str(meta.get("text") or "").strip()
    page_url = str(meta.get("url") or url or "")
    sitename = str(meta.get("sitename") or "").strip()
    author = site_id(page_url) or (f"site:{sitename.casefold()}" if sitename else "")
    if not text:
        report.problem(1, "no main text found in the page")
        return None
    if not author:
        report.problem(1, "the page does not say its site (no canonical link, og:url or site name)")
        return None
    date = str(meta.get("date") or "")
    try:
        created = datetime.fromisoformat(date).replace(tzinfo=UTC) if date else None
    except ValueError:
        created = None
    if created is None:
        report.problem(1, "the page has no publication date")
        return None
    title = str(meta.get("title") or "").strip()
    full = text if not title or text.startswith(title) else f"{title}. {text}"
    links = _URL.findall(text)
    key = normalise_url(page_url) if page_url else hashlib.sha256(full.encode()).hexdigest()[:20]
    return Post(
        id=f"{author}:{key}",
        author=author,
        created_at=created,
        text=full,
        outlet=sitename,
        lang=str(meta.get("language") or "") or guess_language(full),
        urls=tuple(dict.fromkeys([u for u in (page_url, *links) if u])),
    )
