"""Editing archives for tamper tests: split a ``.bel`` into members, change some, and
rebuild it with every name re-hashed and every event re-chained, so that only the edit
itself (not a broken hash or link) is left for a verifier to find."""

from __future__ import annotations

import json
from pathlib import Path

from viche.crypto.hashing import sha256_hex
from viche.record.tar import encode_member, iter_members

Members = list[tuple[str, bytes]]


def split(bel: Path) -> tuple[Members, int]:
    """The members of an archive as ``(name, content)``, and the archive timestamp."""
    with bel.open("rb") as f:
        members = list(iter_members(f))
    return [(m.name, m.content) for m in members], members[0].mtime


def rebuild(members: Members, mtime: int) -> bytes:
    """Re-hash every member and re-chain the events (names, parent, payload, heights)."""
    renamed: dict[str, str] = {}
    out = bytearray()
    parent: str | None = None
    height = 0
    for name, original in members:
        content = original
        if name == "BELENIOS":
            out += encode_member(name, content, mtime)
            continue
        old, suffix = name.split(".", 1)
        if suffix == "data.json":
            text = content.decode()
            for a, b in renamed.items():
                text = text.replace(a, b)
            content = text.encode()
        else:
            ev = json.loads(content)
            fields: dict[str, object] = {} if parent is None else {"parent": parent}
            fields["height"] = height
            fields["type"] = ev["type"]
            if "payload" in ev:
                fields["payload"] = renamed.get(ev["payload"], ev["payload"])
            content = json.dumps(fields, separators=(",", ":")).encode()
            parent = sha256_hex(content)
            height += 1
        renamed[old] = sha256_hex(content)
        out += encode_member(f"{renamed[old]}.{suffix}", content, mtime)
    return bytes(out)


def event_type(content: bytes) -> str:
    """The ``type`` of an event member."""
    return str(json.loads(content)["type"])
