"""Mutated inputs for the influence monitor's readers, and the contract each must hold.

Shared by the seeded test (tests/monitor/test_fuzz_inputs.py) and the long campaign
(bench/fuzz_monitor/run.py). A *case* is a folder of files: the input (CSV, JSON Lines,
QUT, CooRTweet, a Telegram export with its media folder, an RSS/Atom feed, a saved page)
made from a small well-formed seed by a few random edits: JSON nodes replaced, dropped or
duplicated by hostile values (huge or long numbers, NaN, lone surrogates, deep nesting,
markup, control characters), bytes (truncation, NUL, BOM, UTF-16, invalid UTF-8, mixed
newlines), CSV rows (ragged, huge or unterminated fields, hostile timestamps), XML
(billion laughs, external entities, huge attributes, wrong encodings), HTML (no body,
scripts, giant or deeply nested pages), gzip (truncated, corrupt, a one-line bomb) and
paths (a Telegram ``file`` outside the export, symlinks to secrets, devices, loops).

The contract (:func:`check`): ``ingest`` either adds posts or raises a
:class:`~viche.errors.VicheError` with a code and a ``where``; it never raises anything
else, never runs past the time bound, never reads a file outside the export (the secret's
text or hash never reaches the store), and never changes or drops what the store held.
Everything is drawn from one ``random.Random``: a seed gives the same cases again.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import random
import signal
import sqlite3
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[1] / "monitor" / "fixtures"
#: the ingest formats, and ``cases``: the known-case list ``detect --cases`` reads
READERS = ("csv", "jsonl", "qut", "coortweet", "telegram", "feed", "html", "cases")
#: what a file outside an export holds; its text or hash in the store is a leak
SECRET = b"root:x:0:0:SECRET-OUTSIDE-THE-EXPORT\n"
MARKUP = "[red]x[/red] [link=https://evil.example]y[/link] [/] \x1b[31mZ\x1b[0m"

# -- seeds -----------------------------------------------------------------------------------
CSV_SEED = (
    "id,author,created_at,text,outlet,lang,repost_of,urls,hashtags\n"
    "1,alice,2024-11-02T10:00:00Z,\"Вибори скасують, кажуть\",site.ua,uk,,https://a.example/x,вибори\n"
    "2,bob,1730541900,plain text,,en,1,https://a.example/x https://b.example,#a #b\n"
    "3,carol,Wed Oct 10 20:19:24 +0000 2018,\"quoted \"\"text\"\"\",,,,,\n"
)
QUT_SEED = (
    "message_id,user_id,username,repost_id,reply_id,message,timestamp,urls\n"
    "10,u1,one,,,hello world,1730541900,https://a.example\n"
    "11,u2,two,10,,RT hello world,1730541960,\n"
)
CASES_SEED = (
    "date,id,title,countries,keywords,languages,outlets\n"
    "2021-02-18,https://euvsdisinfo.test/report/a/,The elections were cancelled,Ukraine,"
    "elections+CEC,Russian+Ukrainian,Outlet A\n"
    '2021-02-17,https://euvsdisinfo.test/report/b/,"Biolabs, again",Ukraine,biolabs,English,\n'
)
COORTWEET_SEED = (
    "object_id,account_id,content_id,timestamp_share\n"
    "https://a.example/x,acc1,c1,1730541900\n"
    "https://a.example/x,acc2,c2,1730541930\n"
)
JSONL_SEED: list[dict[str, Any]] = [
    {"id": "j1", "author": "a", "created_at": "2024-11-02T10:00:00+02:00", "text": "Привіт",
     "urls": ["https://a.example"], "hashtags": ["x", "#y"]},
    {"post_id": 2, "user_id": 7, "timestamp": 1730541900, "content": "hi", "lang": "en",
     "repost_of": "j1", "urls": "https://b.example https://c.example"},
]  # fmt: skip

#: leaves put into JSON documents: raw tokens (``("raw", text)``) are written as is
RAW_TOKENS = (
    "1e400", "-1e400", "NaN", "Infinity", "-Infinity", "9" * 5000, "-" + "9" * 30,
    "1e-400", '"\\ud800"', '"\\udfff x"', '"a\\u0000b"', "[" * 5000 + "]" * 5000,
    '{"a":' * 3000 + "1" + "}" * 3000, "18446744073709551616", "-1", "0.5", "true",
)  # fmt: skip
HOSTILE: tuple[Any, ...] = (
    None, True, False, 0, -1, 2**63, 2**70, -(2**63) - 1, 1.5, 1e308, -1e308, "", " ",
    "x" * 100_000, MARKUP, "\u202e\u200b", "99999999999999999999", "-99999999999",
    "9999-12-31T23:59:59+00:00", "0001-01-01T00:00:00+05:00", "0001-01-01T00:00:00-05:00",
    "inf", "nan", "1e30", "-1e30", "2024-13-45", "../../../../etc/passwd", "/etc/passwd",
    "(File not included)", "files/", "files/\x00x", "f" * 5000, [], {}, [None], {"text": 5},
    ["x", {"type": "link", "text": 5}], [{"type": "text_link", "href": ["x"]}],
    *[("raw", t) for t in RAW_TOKENS],
)  # fmt: skip
HOSTILE_TIMES = (
    "inf", "-inf", "nan", "1e30", "-1e30", "1e11", "99999999999999", "-62135596801",
    "9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00", "2024-02-30T00:00:00",
    "Wed Oct 10 20:19:24 +9999 2018", "", " ", "0", "1" * 400,
)  # fmt: skip


# -- JSON mutation -----------------------------------------------------------------------------
def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


@dataclass
class _Doc:
    """A JSON document under edit; raw tokens wait in ``raw`` behind placeholder strings."""

    root: Any
    raw: dict[str, str] = field(default_factory=dict)

    def leaf(self, rng: random.Random) -> Any:
        value = rng.choice(HOSTILE)
        if isinstance(value, tuple):
            key = f"__raw{len(self.raw)}__"
            self.raw[key] = value[1]
            return key
        return json.loads(json.dumps(value))  # a fresh copy

    def dumps(self, rng: random.Random) -> str:
        text = json.dumps(self.root, ensure_ascii=rng.random() < 0.5, indent=rng.choice((None, 1)))
        for key, token in self.raw.items():
            text = text.replace(json.dumps(key), token)
        return text


def mutate_json(rng: random.Random, doc: _Doc, edits: int) -> list[str]:
    """Replace, drop, duplicate or retype ``edits`` nodes of ``doc``; what was done."""
    done = []
    for _ in range(edits):
        paths = _paths(doc.root)
        path = rng.choice(paths[1:] or paths)
        action = rng.choice(("replace", "replace", "delete", "duplicate", "retype", "dupkey"))
        if not path:
            doc.root = doc.leaf(rng)
            done.append("root replaced")
            continue
        parent = doc.root
        for key in path[:-1]:
            parent = parent[key]
        last = path[-1]
        if action == "replace":
            parent[last] = doc.leaf(rng)
        elif action == "delete":
            del parent[last]
        elif action == "duplicate" and isinstance(parent, list):
            parent.insert(last, json.loads(json.dumps(parent[last])))
        elif action == "retype":
            v = parent[last]
            parent[last] = [v] if not isinstance(v, list) else {"0": v}
        elif action == "dupkey" and isinstance(parent, dict):
            # a repeated key: JSON allows it, the last one wins
            token = f"__raw{len(doc.raw)}__"
            doc.raw[token] = json.dumps(parent[last]) + f", {json.dumps(str(last))}: " + (
                json.dumps(doc.leaf(rng)) if rng.random() < 0.5 else "null"
            )
            parent[last] = token
        else:
            parent[last] = doc.leaf(rng)
        done.append(f"{action} {'/'.join(map(str, path))[:60]}")
    return done


# -- byte and text mutation --------------------------------------------------------------------
def mutate_bytes(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    kind = rng.choice(
        ("truncate", "nul", "flip", "bom", "utf16", "latin", "newlines", "dup", "cut", "ctrl")
    )
    n = len(data)
    at = rng.randrange(n + 1)
    if kind == "truncate":
        return data[:at], f"truncated at {at}"
    if kind == "nul":
        return data[:at] + b"\0" * rng.choice((1, 7, 5000)) + data[at:], "NUL bytes"
    if kind == "flip" and n:
        i = rng.randrange(n)
        return data[:i] + bytes([rng.randrange(256)]) + data[i + 1 :], f"byte {i} changed"
    if kind == "bom":
        return rng.choice((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")) + data, "BOM"
    if kind == "utf16":
        return data.decode("utf-8", "replace").encode(rng.choice(("utf-16", "utf-32"))), "UTF-16"
    if kind == "latin":
        return data[:at] + b"\xff\xfe\xc0\xaf\xed\xa0\x80" + data[at:], "invalid UTF-8"
    if kind == "newlines":
        ends = (b"\r", b"\r\n", b"\n\r", b"\x0b", "\u2028".encode())
        return data.replace(b"\n", rng.choice(ends)), "newlines"
    if kind == "dup":
        j = rng.randrange(at, n + 1)
        times = 50 if j - at < 100_000 else 2
        return data[:j] + data[at:j] * times + data[j:], "chunk repeated"
    if kind == "cut":
        j = rng.randrange(at, n + 1)
        return data[:at] + data[j:], f"bytes {at}-{j} cut"
    return data[:at] + bytes(rng.sample(range(32), 5)) + b"\x1b[2J\x7f" + data[at:], "controls"


def mutate_csv(rng: random.Random, text: str) -> tuple[str, str]:
    lines = text.split("\n")
    body = [i for i, row in enumerate(lines) if i and row]
    i = rng.choice(body) if body else 0
    fields = lines[i].split(",")
    kind = rng.choice(("ragged", "huge", "quote", "time", "header", "value", "empty", "many"))
    if kind == "ragged":
        fields = fields[:-1] if rng.random() < 0.5 and len(fields) > 1 else [*fields, "extra"]
    elif kind == "huge":
        fields[rng.randrange(len(fields))] = '"' + "y" * rng.choice((140_000, 3_000_000)) + '"'
    elif kind == "quote":
        fields[rng.randrange(len(fields))] = rng.choice(('"open', 'a"b', '""', '"a""', '"\n"'))
    elif kind == "time":
        for j, name in enumerate(lines[0].split(",")):
            if name in ("created_at", "timestamp", "timestamp_share", "date") and j < len(fields):
                fields[j] = rng.choice(HOSTILE_TIMES)
    elif kind == "header":
        head = lines[0].split(",")
        choice = rng.random()
        if choice < 0.3:
            head = [*head, head[0]]  # a duplicated column
        elif choice < 0.6:
            head = [h.upper() + " " for h in head]
        else:
            head = [MARKUP, *head[1:]]
        lines[0] = ",".join(head)
    elif kind == "value":
        fields[rng.randrange(len(fields))] = rng.choice(
            (MARKUP, "\x00", "\ud7ff", "=cmd|' /C calc'!A0", '"' + "\n" * 1000 + '"')
        )
    elif kind == "empty":
        lines = lines[:1] if rng.random() < 0.5 else [""]
    elif len(lines[i]) < 10_000:
        lines.extend([lines[i]] * 2000)
    if kind != "header" and lines and i < len(lines):
        lines[i] = ",".join(fields)
    return "\n".join(lines), f"csv {kind} line {i + 1}"


# -- XML and HTML mutation ---------------------------------------------------------------------
LAUGHS = (
    '<!DOCTYPE r [<!ENTITY l0 "lol">'
    + "".join(f'<!ENTITY l{i} "{("&l" + str(i - 1) + ";") * 10}">' for i in range(1, 10))
    + "]>"
)
XXE = '<!DOCTYPE r [<!ENTITY xx SYSTEM "file://{secret}">]>'


def mutate_xml(rng: random.Random, text: str, secret: Path) -> tuple[str, str]:
    kind = rng.choice(
        ("laughs", "xxe", "attr", "date", "encoding", "deep", "tags", "nolink", "charref")
    )
    decl_end = text.find("?>") + 2 if text.startswith("<?xml") else 0
    head, rest = text[:decl_end], text[decl_end:]
    if kind == "laughs":
        return head + LAUGHS + rest.replace("<title>", "<title>&l9;", 1), "billion laughs"
    if kind == "xxe":
        doctype = XXE.format(secret=secret)
        return head + doctype + rest.replace("<title>", "<title>&xx;", 2), "external entity"
    if kind == "attr":
        big = "a" * rng.choice((100_000, 5_000_000))
        return text.replace("<title", f'<title x="{big}"', 1), "huge attribute"
    if kind == "date":
        bad = rng.choice(
            ("Mon, 99 Foo 99999 99:99:99 +9999", "9999-12-31T23:59:59-23:59", "0000-00-00",
             "Sat, 31 Dec 9999 23:59:59 -1200", "Thu, 01 Jan 0001 00:00:00 +1400", MARKUP)
        )  # fmt: skip
        for tag in ("pubDate", "published", "updated"):
            text = text.replace(f"<{tag}>", f"<{tag}>{bad}<!--", 1)
            text = text.replace(f"</{tag}>", f"--></{tag}>", 1)
        return text, f"date {bad[:20]}"
    if kind == "encoding":
        enc = rng.choice(("utf-16", "ebcdic", "x-nonsense", "utf-32", "cp1251"))
        return f'<?xml version="1.0" encoding="{enc}"?>' + rest, f"declared {enc}"
    if kind == "deep":
        n = rng.choice((1000, 100_000))
        return rest.replace("<title>", "<title>" + "<b>" * n, 1), f"{n} nested tags"
    if kind == "tags":
        return text.replace("</item>", "", 1).replace("</entry>", "<entry>", 1), "tags unbalanced"
    if kind == "charref":
        ref = rng.choice(CHARREFS)
        return text.replace("<title>", f"<title>{ref}", 2), f"character reference {ref}"
    return text.replace("<link>", "<nolink>").replace("</link>", "</nolink>").replace(
        "<link ", "<nolink "
    ), "links removed"


CHARREFS = ("&#xD800;", "&#0;", "&#x110000;", "&#99999999999999999999;", "&#x1b;[2J", "&#xFFFE;")


def mutate_html(rng: random.Random, text: str) -> tuple[str, str]:
    kind = rng.choice(("nobody", "script", "giant", "deep", "meta", "markup", "frames", "charref"))
    if kind == "nobody":
        start, end = text.find("<body"), text.rfind("</body>")
        return text[:start] + text[end:], "no body"
    if kind == "script":
        js = "<script>" + "while(1){}" * 1000 + "</script><style>*{}</style>"
        return text.replace("<p>", js + "<p>", 3), "scripts"
    if kind == "giant":
        para = "<p>" + "Наказ №117 про скасування виборів у трьох областях. " * 40 + "</p>\n"
        n = rng.choice((200, 6000))
        return text.replace("</article>", para * n + "</article>", 1), f"{n} paragraphs"
    if kind == "deep":
        n = rng.choice((500, 50_000))
        return text.replace("<p>", "<div>" * n + "<p>", 1), f"{n} nested divs"
    if kind == "meta":
        bad = rng.choice(("99999-01-01", "0000-00-00", "2024-02-30", "1e30", MARKUP))
        return text.replace("2024-", bad + "#", 2), f"meta date {bad[:12]}"
    if kind == "markup":
        return text.replace("<title>", f"<title>{MARKUP}", 1), "markup in the title"
    if kind == "charref":
        ref = rng.choice(CHARREFS)
        return text.replace("<p>", f"<p>{ref}", 2), f"character reference {ref}"
    return '<frameset><frame src="file:///etc/passwd"></frameset>' + text, "frameset"


# -- gzip ------------------------------------------------------------------------------------
_BOMB: dict[int, bytes] = {}


def bomb(size: int) -> bytes:
    """A gzip file of ``size`` bytes of one line without an end (built once)."""
    if size not in _BOMB:
        comp = zlib.compressobj(9, zlib.DEFLATED, 31)
        chunk = b"a" * (1 << 20)
        parts = [comp.compress(b"id,author,created_at,text\n1,a,2024-01-01,\"")]
        parts += [comp.compress(chunk) for _ in range(size >> 20)]
        _BOMB[size] = b"".join(parts) + comp.flush()
    return _BOMB[size]


def mutate_gzip(rng: random.Random, data: bytes, bomb_size: int) -> tuple[bytes, str]:
    packed = gzip.compress(data)
    kind = rng.choice(("ok", "truncated", "tail", "notgz", "bomb"))
    if kind == "truncated":
        return packed[: rng.randrange(len(packed))], "gzip truncated"
    if kind == "tail":
        return packed[:-8] + b"\0" * 8, "gzip trailer wrong"
    if kind == "notgz":
        return data, "not gzip"
    if kind == "bomb" and bomb_size:
        return bomb(bomb_size), f"gzip bomb ({bomb_size >> 20} MiB, one line)"
    return packed, "gzip"


# -- cases -----------------------------------------------------------------------------------
@dataclass
class Case:
    """An input to ingest: files under a folder, the one to ingest, its format."""

    reader: str
    fmt: str
    main: str
    files: dict[str, bytes]
    links: dict[str, str] = field(default_factory=dict)
    what: list[str] = field(default_factory=list)

    def write(self, folder: Path) -> Path:
        for rel, content in self.files.items():
            p = folder / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(content)
        for rel, target in self.links.items():
            p = folder / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            if not p.exists() and not p.is_symlink():
                os.symlink(target, p)
        return folder / self.main


def _telegram_case(rng: random.Random, secret: Path, case: Case) -> None:
    doc = _Doc(json.loads((FIXTURES / "tg_export" / "result.json").read_text("utf-8")))
    case.files["export/files/order_117.pdf"] = (
        FIXTURES / "tg_export" / "files" / "order_117.pdf"
    ).read_bytes()
    messages = doc.root["messages"]
    if rng.random() < 0.4:  # attachments that point out of the export or through links
        target = rng.choice(
            ("../../secret.txt", str(secret), "files/link_out", "files/loop", "files/zero",
             "files/dir", "files/dangling", "files", ".", "files/order_117.pdf/..")
        )  # fmt: skip
        msg = rng.choice([m for m in messages if isinstance(m, dict)])
        msg[rng.choice(("file", "photo"))] = target
        case.links.update(
            {
                "export/files/link_out": str(secret),
                "export/files/loop": "loop",
                "export/files/zero": "/dev/zero",
                "export/files/dir": "/etc",
                "export/files/dangling": "/nonexistent/x",
            }
        )
        case.what.append(f"file -> {target}")
    if rng.random() < 0.3:  # a whole-account export
        doc.root = {"chats": {"list": [doc.root, {"messages": "x"}, 5]}, "left_chats": {"list": []}}
        case.what.append("whole-account export")
    case.what += mutate_json(rng, doc, rng.choice((0, 1, 1, 2, 4)))
    case.files["export/result.json"] = doc.dumps(rng).encode("utf-8", "surrogatepass")


def make_case(
    rng: random.Random,
    reader: str,
    secret: Path,
    *,
    extra_seeds: dict[str, list[str]] | None = None,
    bomb_size: int = 0,
) -> Case:
    """One mutated input for ``reader`` (see the module docstring)."""
    fmt = reader if rng.random() < 0.6 else "auto"
    case = Case(reader, fmt, "", {})
    extra = (extra_seeds or {}).get(reader, [])
    if reader == "telegram":
        case.main = "export/result.json"
        _telegram_case(rng, secret, case)
    elif reader == "jsonl":
        records = [json.loads(json.dumps(r)) for r in JSONL_SEED] + [
            json.loads(x) for x in extra[: rng.randrange(len(extra) + 1)]
        ]
        doc = _Doc(records)
        case.what += mutate_json(rng, doc, rng.choice((1, 1, 2, 3)))
        lines = (
            [_Doc(r, doc.raw).dumps(rng) for r in doc.root]
            if isinstance(doc.root, list)
            else [doc.dumps(rng)]
        )
        case.main = "posts.jsonl"
        case.files[case.main] = "\n".join(lines).encode("utf-8", "surrogatepass")
    elif reader in ("csv", "qut", "coortweet", "cases"):
        seeds = {"csv": CSV_SEED, "qut": QUT_SEED, "coortweet": COORTWEET_SEED, "cases": CASES_SEED}
        seed = seeds[reader]
        if reader == "csv" and extra:
            seed = extra[0] + "".join(extra[1 : rng.randrange(len(extra) + 1)])
        text = seed
        for _ in range(rng.choice((1, 1, 2, 3))):
            text, what = mutate_csv(rng, text)
            case.what.append(what)
        case.main = "cases.csv" if reader == "cases" else "posts.csv"
        case.files[case.main] = text.encode("utf-8", "surrogatepass")
    elif reader == "feed":
        name = rng.choice(("feed.rss", "feed.atom"))
        text = (FIXTURES / "news" / name).read_text("utf-8")
        text, what = mutate_xml(rng, text, secret)
        case.what.append(f"{name}: {what}")
        case.main = name
        case.files[name] = text.encode("utf-8", "surrogatepass")
    else:
        text = (FIXTURES / "news" / "article.html").read_text("utf-8")
        text, what = mutate_html(rng, text)
        case.what.append(what)
        case.main = "article.html"
        case.files[case.main] = text.encode("utf-8", "surrogatepass")
    data = case.files[case.main]
    if rng.random() < 0.35:
        data, what = mutate_bytes(rng, data)
        case.what.append(what)
    if reader in ("csv", "jsonl", "qut", "coortweet") and rng.random() < 0.15:  # (cases: no .gz)
        data, what = mutate_gzip(rng, data, bomb_size)
        case.what.append(what)
        del case.files[case.main]
        case.main += ".gz"
    case.files[case.main] = data
    return case


# -- the contract ----------------------------------------------------------------------------
class Hang(BaseException):
    """An input that ran past its time bound (a BaseException: no reader may swallow it)."""


@contextmanager
def time_bound(seconds: float) -> Iterator[None]:
    def alarm(signum: int, frame: object) -> None:
        raise Hang(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass(frozen=True)
class Outcome:
    kind: str  # "posts", "error" (a VicheError), "crash", "hang", "leak", "store"
    detail: str


BASELINE = (
    "id,author,created_at,text\n"
    "base1,keeper,2024-11-01T08:00:00Z,what was stored before\n"
    "base2,keeper,2024-11-01T08:01:00Z,Привіт [bold]x[/bold]\n"
)


def _rows(db: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as con:
        return con.execute("SELECT * FROM posts WHERE author = 'keeper' ORDER BY seq").fetchall()


def check(case: Case, folder: Path, secret: Path, *, seconds: float = 20.0) -> Outcome:
    """Ingest ``case`` (written under ``folder``) into a store that already holds two posts;
    the outcome against the contract of the module docstring."""
    from viche.errors import Location, VicheError
    from viche.monitor.ingest import ingest
    from viche.monitor.narratives import load_cases
    from viche.monitor.store import Store

    path = case.write(folder / "in")
    if case.reader == "cases":
        try:
            with time_bound(seconds):
                return Outcome("posts", f"{len(load_cases(path))} cases")
        except Hang as exc:
            return Outcome("hang", str(exc))
        except VicheError as exc:
            if not exc.where:
                return Outcome("crash", f"{type(exc).__name__} without a where: {exc}")
            return Outcome("error", exc.code)
        except Exception as exc:  # the point: anything else is a finding
            return Outcome("crash", f"{type(exc).__name__}: {str(exc)[:120]}")
    db = folder / "posts.sqlite"
    base = folder / "base.csv"
    base.write_text(BASELINE, encoding="utf-8")
    with Store(db) as store:
        ingest(base, store)
    before = _rows(db)
    try:
        with time_bound(seconds), Store(db) as store:
            report = ingest(path, store, case.fmt)  # type: ignore[arg-type]
        outcome = Outcome("posts", f"{report.added} added, {report.malformed} malformed")
    except Hang as exc:
        return Outcome("hang", str(exc))
    except VicheError as exc:
        if not exc.code.startswith("V") or not isinstance(exc.where, Location) or not exc.where:
            return Outcome("crash", f"{type(exc).__name__} without a code or a where: {exc}")
        outcome = Outcome("error", exc.code)
    except Exception as exc:  # the point: anything else is a finding
        return Outcome("crash", f"{type(exc).__name__}: {str(exc)[:120]}")
    if _rows(db) != before:
        return Outcome("store", "the posts stored before changed")
    secret_hash = hashlib.sha256(SECRET).hexdigest()
    with sqlite3.connect(db) as con:
        for text, urls in con.execute("SELECT text, urls FROM posts"):
            if "SECRET-OUTSIDE" in str(text) or secret_hash in str(urls):
                return Outcome("leak", "a file outside the export reached the store")
    return outcome



def check_watch(case: Case, folder: Path, *, seconds: float = 20.0) -> Outcome:
    """``watch`` with ``case`` landing in its inbox (beside a link to a CSV file outside it),
    then a good file: the cycles never raise, the bad file is logged (or its posts taken),
    the good file's posts arrive, and nothing of the file outside is stored."""
    from viche.monitor.model import DetectionResult
    from viche.monitor.store import Store
    from viche.monitor.watch import WatchConfig, Watcher

    inbox = folder / "inbox"
    inbox.mkdir(parents=True)
    case.write(inbox)
    private = folder / "private.csv"
    private.write_text("id,author,created_at,text\nsecret,me,2024-11-02,SECRET-OUTSIDE\n", "utf-8")
    os.symlink(private, inbox / "unpacked.csv")
    feeds = (str(inbox / case.main),) if case.reader == "feed" else ()
    config = WatchConfig(inbox=inbox, feeds=feeds)
    try:
        with time_bound(seconds):
            watcher = Watcher(
                folder / "store", config, [], detector=lambda s, t: DetectionResult((), ())
            )
            try:
                first = watcher.cycle()
                (inbox / "zz_good.csv").write_text(BASELINE, encoding="utf-8")
                second = watcher.cycle()
            finally:
                watcher.close()
    except Hang as exc:
        return Outcome("hang", f"watch: {exc}")
    except Exception as exc:  # the point: anything else is a finding
        return Outcome("crash", f"watch: {type(exc).__name__}: {str(exc)[:120]}")
    with Store(folder / "store" / "posts.sqlite") as store:
        kept = sum(1 for p in store.posts() if p.author == "keeper")
        if any("SECRET-OUTSIDE" in p.text for p in store.posts()):
            return Outcome("leak", "watch: a file outside the inbox reached the store")
    if kept != 2 or second.files != 1:
        return Outcome("store", f"watch stopped following: {kept} good posts, {second.problems}")
    return Outcome("posts" if first.posts_added else "error", f"{len(first.problems)} problems")


HOSTILE_NAMES = (
    MARKUP, "\x1b[2J\x1b]0;title\x07", "a\u202eb", "\x00nul", "x" * 3000, "\t tab", "ü" * 40,
    "=cmd|' /C calc'!A0", "<script>alert(1)</script>", "\"quoted\"", "\\x1b", "a\x7fb\x85",
    "\ufffe\uffff", "#hash", "C001",
)  # fmt: skip


def coordinated_seed(rng: random.Random) -> str:
    """A CSV where five accounts with hostile names post the same link and near-identical
    hostile text seconds apart, eight times, among thirty ordinary accounts: detection
    finds a campaign, so the report and the alerts print what came from outside."""
    import csv
    import io
    from datetime import UTC, datetime, timedelta

    bots = [f"{rng.choice(HOSTILE_NAMES)}{i}" for i in range(5)]
    words = ["vote", "city", "rain", "bus", "school", "market", "river", "news", "park", "film"]
    base = datetime(2024, 11, 2, 8, tzinfo=UTC)
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(["id", "author", "created_at", "text", "urls", "hashtags", "outlet"])
    for r in range(8):
        start = base + timedelta(hours=3 * r)
        tail = " ".join(rng.choice(words) for _ in range(8))
        claim = (
            "Secret laboratories near the border make weapons, share before it is deleted "
            f"{rng.choice(HOSTILE_NAMES)[:40]} {tail}"
        )
        link = f"https://leak.example/{rng.choice(HOSTILE_NAMES)[:40]}-{r}"
        for i, bot in enumerate(bots):
            when = start + timedelta(seconds=11 * i)
            out.writerow([f"b{r}-{i}", bot, when.isoformat(), claim, link, "#x #y", bot])
        for k in range(30):
            when = start + timedelta(seconds=rng.randrange(3 * 3600))
            text = " ".join(rng.choice(words) for _ in range(12))
            out.writerow([f"o{r}-{k}", f"person{k}", when.isoformat(), text, "", "", ""])
    return buf.getvalue()
