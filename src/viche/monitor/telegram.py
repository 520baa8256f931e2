"""Telegram Desktop channel exports (``result.json``) as posts.

Telegram Desktop ("Export chat history", format JSON) writes one document per chat::

    {"name": "...", "type": "public_channel", "id": 1234567890,
     "messages": [{"id": 7, "type": "message", "date": "2024-11-02T10:05:00",
                   "date_unixtime": "1730541900", "from": "...", "from_id": "channel1234567890",
                   "text": "..." | ["plain", {"type": "link", "text": "https://..."}, ...],
                   "text_entities": [...], "forwarded_from": "...",
                   "forwarded_from_id": "channel555", "reply_to_message_id": 5,
                   "edited": "...", "edited_unixtime": "...", "photo": "photos/x.jpg",
                   "file": "files/leak.pdf", "file_name": "leak.pdf", "views": 1200}, ...]}

or, for a whole-account export, ``{"chats": {"list": [<chat>, ...]}}`` (and
``left_chats``). Both are read. Mapping to :class:`~viche.monitor.model.Post`:

* ``id`` = ``tg:<chat>:<message id>``; ``author`` = ``tg:<sender>``. Channel and
  supergroup ids take the ``-100`` prefix of the Bot API and Telethon (``channel123`` →
  ``tg:-100123``), so ids agree with data collected through the API; users stay
  ``tg:<id>``. A channel is the author of its posts: an outlet is an author, and
  ``outlet`` holds the channel's name.
* A forward is a repost: ``repost_of`` = the forwarded channel or user
  (``forwarded_from_id``; older exports give only the name, kept as ``tgname:<name>``;
  ``saved_from`` likewise).
* ``text`` = the message text or, for media, its caption (the same field in the export),
  entities flattened to their visible text. ``urls`` = the links of the text (``link``
  entities and the targets of ``text_link``), then each attached file or photo as
  ``file:sha256:<hex>`` when the file is in the export folder (the same document pushed by
  many channels is then one key, whatever its name), else ``file:name:<name>:<size>``.
  ``hashtags`` from ``hashtag`` entities (and ``#words`` when the text is a plain string).
* ``reply_to`` = ``tg:<chat>:<message id>`` of the message replied to, ``edited_at`` and
  ``views`` as given (``views`` appears in some exports, not all).
* ``lang`` is guessed from the letters (:func:`viche.monitor.text.guess_language`).

Service messages (channel created, pinned, ...) carry no content and are skipped, not
reported. A message without a date or an id is a malformed row: reported with its index in
``messages`` and skipped. The whole document is parsed at once (exports are one JSON
value), so memory grows with the export; ``watch`` reads exports one file at a time.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from viche.errors import IngestError, Location
from viche.monitor.model import Post, as_utc, utc_from_unix
from viche.monitor.text import guess_language

_PEER = re.compile(r"^(channel|user|chat|group)(\d+)$")
_HASHTAG = re.compile(r"#(\w+)")
_URL = re.compile(r"(?:https?://|t\.me/)\S+", re.IGNORECASE)
_MEDIA_KEYS = ("file", "photo")
_HASH_CHUNK = 1 << 20


class Problems(Protocol):
    """Where a reader reports a malformed record (``IngestReport`` fits)."""

    def problem(self, line: int, reason: str) -> None: ...


def looks_like_export(head: str) -> bool:
    """True when the opening of a ``.json`` file looks like a Telegram Desktop export."""
    probe = head[:8192]
    return '"messages"' in probe or '"chats"' in probe


def peer_id(value: Any, *, kind: str = "") -> str:
    """``tg:<id>`` for an export's ``from_id`` (``channel123``, ``user5``) or a numeric id.

    ``kind`` is the chat type for a bare number (``public_channel`` etc. take ``-100``).
    """
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, int):
        number, channel = value, "channel" in kind or "supergroup" in kind
    else:
        text = str(value).strip()
        m = _PEER.match(text)
        if m:
            number, channel = int(m.group(2)), m.group(1) in ("channel", "group", "chat")
        elif re.fullmatch(r"-?\d+", text):
            number, channel = int(text), "channel" in kind or "supergroup" in kind
        else:
            return ""
    if channel and number > 0:
        return f"tg:-100{number}"
    return f"tg:{number}"


def _time(message: Mapping[str, Any], field: str) -> datetime | None:
    unix = message.get(f"{field}_unixtime")
    if isinstance(unix, str | int) and str(unix).strip().lstrip("-").isdigit():
        return utc_from_unix(int(unix))
    value = message.get(field)
    if isinstance(value, str) and value.strip():
        # Telegram Desktop writes local time without an offset; *_unixtime is exact
        return as_utc(datetime.fromisoformat(value.strip()))
    return None


def flatten_text(value: Any) -> tuple[str, list[str], list[str]]:
    """``(visible text, links, hashtags)`` of a message's ``text`` (string or entity list)."""
    if value is None:
        return "", [], []
    if isinstance(value, str):
        return value, _URL.findall(value), _HASHTAG.findall(value)
    if not isinstance(value, list):
        raise ValueError(f"text is a {type(value).__name__}, not a string or a list")
    parts: list[str] = []
    links: list[str] = []
    tags: list[str] = []
    for item in value:
        if isinstance(item, str):
            parts.append(item)
            continue
        if not isinstance(item, dict):
            raise ValueError("a text entity is neither a string nor an object")
        text = item.get("text", "")
        if not isinstance(text, str):
            raise ValueError("a text entity's text is not a string")
        parts.append(text)
        kind = item.get("type", "")
        if kind == "link":
            links.append(text)
        elif kind == "text_link" and isinstance(item.get("href"), str):
            links.append(item["href"])
        elif kind == "hashtag":
            tags.append(text.lstrip("#"))
    return "".join(parts), links, tags


def file_key(base: Path, message: Mapping[str, Any]) -> list[str]:
    """The keys of the files attached to a message (see the module docstring)."""
    keys: list[str] = []
    for field in _MEDIA_KEYS:
        rel = message.get(field)
        if not isinstance(rel, str) or not rel or rel.startswith("(File "):
            # "(File not included. Change data exporting settings to download.)"
            name = message.get("file_name") if field == "file" else None
            if isinstance(name, str) and name:
                size = message.get("file_size", "")
                keys.append(f"file:name:{name}:{size}")
            continue
        try:
            path = (base / rel).resolve()
            inside = base.resolve() in path.parents and path.is_file()
        except (OSError, RuntimeError, ValueError):  # a symlink loop, a NUL, a name too long
            inside = False
        if not inside:
            name = message.get("file_name") if field == "file" else Path(rel).name
            size = message.get("file_size", message.get("photo_file_size", ""))
            keys.append(f"file:name:{name or Path(rel).name}:{size}")
            continue
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(_HASH_CHUNK), b""):
                digest.update(chunk)
        keys.append(f"file:sha256:{digest.hexdigest()}")
    return keys


def _chats(doc: Any, where: Location) -> Iterator[Mapping[str, Any]]:
    if not isinstance(doc, dict):
        raise IngestError("a Telegram export is a JSON object", where=where)
    if isinstance(doc.get("messages"), list):
        yield doc
        return
    chats = doc.get("chats")
    if isinstance(chats, dict) and isinstance(chats.get("list"), list):
        for key in ("list",):
            yield from (c for c in chats[key] if isinstance(c, dict))
        left = doc.get("left_chats")
        if isinstance(left, dict) and isinstance(left.get("list"), list):
            yield from (c for c in left["list"] if isinstance(c, dict))
        return
    raise IngestError(
        "not a Telegram Desktop export: no 'messages' list and no 'chats' list", where=where
    )


def message_post(chat: Mapping[str, Any], message: Mapping[str, Any], base: Path) -> Post | None:
    """The post of one exported message; None for a service message. ``ValueError`` if bad."""
    if message.get("type", "message") != "message":
        return None
    kind = str(chat.get("type", ""))
    chat_id = peer_id(chat.get("id"), kind=kind)
    mid = message.get("id")
    if not isinstance(mid, int) or isinstance(mid, bool):
        raise ValueError("missing id")
    created = _time(message, "date")
    if created is None:
        raise ValueError("missing date")
    author = peer_id(message.get("from_id")) or chat_id
    if not author:
        raise ValueError("no sender and no chat id")
    text, links, tags = flatten_text(message.get("text"))
    if not links and not tags and isinstance(message.get("text_entities"), list):
        _, links, tags = flatten_text(message["text_entities"])
    forwarded = peer_id(message.get("forwarded_from_id") or message.get("saved_from_id"))
    if not forwarded:
        name = message.get("forwarded_from") or message.get("saved_from")
        forwarded = f"tgname:{name.strip()}" if isinstance(name, str) and name.strip() else ""
    reply = message.get("reply_to_message_id")
    reply_chat = peer_id(message.get("reply_to_peer_id")) or chat_id
    views = message.get("views")
    edited = _time(message, "edited")
    outlet = chat.get("name") if "channel" in kind else message.get("from")
    return Post(
        id=f"{chat_id or author}:{mid}",
        author=author,
        created_at=created,
        text=text,
        outlet=outlet.strip() if isinstance(outlet, str) else "",
        lang=guess_language(text),
        repost_of=forwarded,
        urls=tuple(dict.fromkeys([*links, *file_key(base, message)])),
        hashtags=tuple(dict.fromkeys(t for t in tags if t)),
        reply_to=f"{reply_chat}:{reply}" if isinstance(reply, int) and reply_chat else "",
        edited_at=edited,
        # SQLite keeps 64-bit integers: a larger count is no count of views
        views=views if type(views) is int and 0 <= views < 2**63 else None,
    )


def read_export(
    path: Path,
    report: Problems,
    on_row: Callable[[], None] | None = None,
) -> Iterator[tuple[int, Post]]:
    """``(index in its chat's messages, post)`` for each message of an export file."""
    where = Location(file=str(path))
    try:
        with path.open("rb") as fh:
            doc = json.load(fh)
    except json.JSONDecodeError as exc:
        raise IngestError(
            f"the Telegram export is not valid JSON: {exc.msg}", where=where.at(line=exc.lineno)
        ) from exc
    except UnicodeDecodeError as exc:
        raise IngestError(
            "the Telegram export is not UTF-8", where=where.at(offset=exc.start)
        ) from exc
    except ValueError as exc:  # an integer longer than Python converts (int_max_str_digits)
        raise IngestError(
            "the Telegram export is not valid JSON: a number with too many digits", where=where
        ) from exc
    except RecursionError as exc:
        raise IngestError(
            "the Telegram export is not valid JSON: nested too deeply", where=where
        ) from exc
    base = path.parent
    for chat in _chats(doc, where):
        messages = chat.get("messages")
        if not isinstance(messages, list):
            continue
        for index, message in enumerate(messages, start=1):
            if on_row is not None:
                on_row()
            if not isinstance(message, dict):
                report.problem(index, "a message is not a JSON object")
                continue
            try:
                post = message_post(chat, message, base)
            except (ValueError, OverflowError, OSError) as exc:
                report.problem(index, f"message {message.get('id')!r}: {exc}")
                continue
            if post is not None:
                yield index, post
