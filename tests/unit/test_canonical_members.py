"""One rule for every archive member written as a protocol message: it must be in canonical
form (compact JSON, keys in specification order, no escaped characters where the compact
form has none). Partial decryptions, their ``owned`` wrappers, trustees, setup_data, sized
tallies and results in another form used to be accepted while ballots and tallies were
refused. (belenios-tool 2.0's ``election verify`` accepts all of them but ballots.)"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from viche.errors import NonCanonicalError
from viche.protocol.tally import Owned, PartialDecryption, Result, SizedEncryptedTally
from viche.protocol.trustees import Trustees
from viche.testing.archive_edit import Members, event_type, rebuild, split
from viche.testing.factories import make_election, plan_for
from viche.verify import verify_record

#: the data members before each event, in order
PAYLOADS = {
    "Setup": ("election", "trustees", "credentials", "setup_data"),
    "Ballot": ("ballot",),
    "EncryptedTally": ("tally", "sized_tally"),
    "PartialDecryption": ("partial_decryption", "owned"),
    "Result": ("result",),
}


def label(members: Members) -> dict[str, int]:
    """The index of the first data member of each kind."""
    out: dict[str, int] = {}
    pending: list[int] = []
    for i, (name, content) in enumerate(members):
        if name.endswith(".data.json"):
            pending.append(i)
            continue
        if not name.endswith(".event.json"):
            continue
        for j, kind in zip(pending, PAYLOADS.get(event_type(content), ()), strict=False):
            out.setdefault(kind, j)
        pending = []
    return out


def reorder(raw: bytes) -> bytes:
    """The outermost object with its keys reversed (for trustees: the first key's object)."""
    value = json.loads(raw)
    target = value[0][1] if isinstance(value, list) else value
    reordered = dict(reversed(list(target.items())))
    if isinstance(value, list):
        value[0][1] = reordered
    else:
        value = reordered
    return json.dumps(value, separators=(",", ":")).encode()


def escape_digit(raw: bytes) -> bytes:
    """The first digit inside a string written as a JSON escape (same value)."""
    text = raw.decode()
    m = re.search(r'"(\d)', text)
    assert m is not None
    return (text[: m.start(1)] + f"\\u{ord(m.group(1)):04x}" + text[m.end(1) :]).encode()


def space(raw: bytes) -> bytes:
    return raw.replace(b":", b": ", 1)


EDITS: dict[str, Callable[[bytes], bytes]] = {
    "reorder": reorder,
    "escape": escape_digit,
    "space": space,
}
CASES = [
    (kind, edit)
    for kind in ("trustees", "setup_data", "sized_tally", "partial_decryption", "owned", "result")
    for edit in EDITS
    if (kind, edit) not in {("owned", "escape"), ("result", "reorder"), ("result", "escape")}
]


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run, _ = make_election(tmp_path_factory.mktemp("canon") / "e", plan_for(voters=1))
    return run.archive


def _verify(members: Members, mtime: int, directory: Path) -> list[str]:
    directory.mkdir()
    (directory / "x.bel").write_bytes(rebuild(members, mtime))
    return [str(f) for f in verify_record(directory, jobs=1).failures]


@pytest.mark.parametrize(("kind", "edit"), CASES)
def test_non_canonical_member_is_refused(
    archive: Path, tmp_path: Path, kind: str, edit: str
) -> None:
    members, mtime = split(archive)
    i = label(members)[kind]
    name, content = members[i]
    changed = EDITS[edit](content)
    assert changed != content and json.loads(changed) == json.loads(content)  # same value
    members[i] = (name, changed)
    failures = _verify(members, mtime, tmp_path / "a")
    assert any("not in canonical form" in f for f in failures), failures


def test_the_canonical_archive_passes(archive: Path, tmp_path: Path) -> None:
    members, mtime = split(archive)
    assert _verify(members, mtime, tmp_path / "a") == []


def test_the_public_credentials_are_kept_as_written(archive: Path, tmp_path: Path) -> None:
    """The exception: the administrator's credential list (like the election) is committed
    to by its fingerprint over the bytes as written."""
    members, mtime = split(archive)
    i = label(members)["credentials"]
    members[i] = (members[i][0], escape_digit(members[i][1]))
    assert _verify(members, mtime, tmp_path / "a") == []


PARSERS: dict[str, Callable[[bytes], object]] = {
    "trustees": Trustees.from_bytes,
    "sized_tally": SizedEncryptedTally.from_bytes,
    "partial_decryption": PartialDecryption.from_bytes,
    "owned": Owned.from_bytes,
    "result": Result.from_bytes,
}


@pytest.mark.parametrize("kind", sorted(PARSERS))
def test_every_message_parser_applies_the_rule(archive: Path, kind: str) -> None:
    members, _ = split(archive)
    raw = members[label(members)[kind]][1]
    parse = PARSERS[kind]
    parse(raw)  # canonical: accepted
    with pytest.raises(NonCanonicalError):
        parse(space(raw))
