"""Review fix: a hostile BELENIOS header member is a JsonFormatError, never a ValueError."""

from __future__ import annotations

import pytest

from viche.errors import JsonFormatError
from viche.record.events import ArchiveHeader


@pytest.mark.parametrize("stamp", ["9" * 5000, "9" * 11, str(8**11), "01", ""])
def test_bad_timestamps_are_format_errors(stamp: str) -> None:
    raw = b'{"version":1,"timestamp":"' + stamp.encode() + b'"}'
    with pytest.raises(JsonFormatError) as info:
        ArchiveHeader.from_bytes(raw)
    assert str(info.value.where) == "BELENIOS / timestamp"
    assert len(str(info.value)) < 200


@pytest.mark.parametrize("stamp", [0, 1795345065, 8**11 - 1])
def test_timestamps_that_fit_a_tar_mtime_parse(stamp: int) -> None:
    raw = b'{"version":1,"timestamp":"' + str(stamp).encode() + b'"}'
    assert ArchiveHeader.from_bytes(raw).timestamp == stamp
