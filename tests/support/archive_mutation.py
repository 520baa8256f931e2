"""Shared by the archive-mutation property test and its longer campaign in
``bench/fuzz_verify``: draw one well-formed edit of an archive (a JSON node of a member
replaced, deleted or duplicated; an event type changed; a member dropped, duplicated or
swapped with the next; a member's text replaced), then re-hash and re-chain it with
:func:`viche.testing.archive_edit.rebuild`, so that only the edit itself is left for the
verifier to find."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

from json_mutation import ACTIONS, json_values, mutate_node
from viche.testing.archive_edit import Members

EVENT_TYPES = (
    "Setup",
    "Ballot",
    "EndBallots",
    "EncryptedTally",
    "Shuffle",
    "EndShuffles",
    "PartialDecryption",
    "Result",
)
#: text an attacker would try: markup, escapes, digits, very long numbers
TRICKY_TEXT = st.sampled_from(
    ["[/]", "[/x]", "[bold]", ":smile:", "0", "01", "-1", "1" * 400, "\u0000", "é", "\ud7ff"]
)
LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**50), max_value=10**50)
    | st.text(max_size=8)
    | TRICKY_TEXT
    | st.integers(min_value=0, max_value=10**30).map(str)
)
EDITS = ("node", "event type", "drop", "duplicate", "swap", "text")


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _is_event(name: str) -> bool:
    return name.endswith(".event.json")


def mutate(data: st.DataObject, members: Members) -> tuple[Members, str]:
    """One edit of ``members`` (the header member is left alone); returns the new member
    list and a description of the edit."""
    out = list(members)
    edit = data.draw(st.sampled_from(EDITS), label="edit")
    i = data.draw(st.integers(min_value=1, max_value=len(out) - 1), label="member")
    name, content = out[i]
    if edit == "node" and not _is_event(name):
        action = data.draw(st.sampled_from(ACTIONS), label="action")
        values = json_values(LEAVES, key_size=6, max_leaves=6)
        root = mutate_node(data, json.loads(content), action, values)
        out[i] = (name, _dumps(root))
        return out, f"{action} a node of member {i}"
    if edit in {"node", "event type"}:
        j = data.draw(st.sampled_from([k for k, (n, _) in enumerate(out) if _is_event(n)]))
        ev = json.loads(out[j][1])
        ev["type"] = data.draw(st.sampled_from(EVENT_TYPES) | LEAVES, label="type")
        out[j] = (out[j][0], _dumps(ev))
        return out, f"event {j} type {ev['type']!r}"
    if edit == "drop":
        del out[i]
        return out, f"drop member {i}"
    if edit == "duplicate":
        out.insert(i, out[i])
        return out, f"duplicate member {i}"
    if edit == "swap" and i + 1 < len(out):
        out[i], out[i + 1] = out[i + 1], out[i]
        return out, f"swap members {i} and {i + 1}"
    if _is_event(name):  # an event's text must stay an object with a type (re-chaining)
        del out[i]
        return out, f"drop member {i}"
    text = data.draw(st.text(max_size=40) | TRICKY_TEXT, label="text")
    out[i] = (name, text.encode())
    return out, f"member {i} replaced by {text!r}"
