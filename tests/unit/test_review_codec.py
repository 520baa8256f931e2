"""Review fixes: hostile JSON never escapes as a bare Python exception."""

from __future__ import annotations

import pytest

from viche.errors import JsonFormatError, Location
from viche.protocol import codec


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000,  # RecursionError in the json module
        '{"a":' * 50_000 + "1" + "}" * 50_000,
        "1" * 5_000,  # ValueError: int max str digits
        '{"min":' + "9" * 41 + "}",  # a "small" integer that is not small
        "1e400",  # float overflow to inf
        "[-1e999]",
    ],
)
def test_hostile_json_is_a_format_error(text: str) -> None:
    with pytest.raises(JsonFormatError) as info:
        codec.loads(text, where=Location(path=("input",)))
    assert str(info.value.where) == "input"


@pytest.mark.parametrize(
    ("text", "value"),
    [("[1,2]", [1, 2]), ('{"a":' + "9" * 40 + "}", {"a": int("9" * 40)}), ("-3", -3), ("1.5", 1.5)],
)
def test_ordinary_json_still_parses(text: str, value: object) -> None:
    assert codec.loads(text) == value


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('{"a":1,"b":2,"b":3,"a":4}', "b"),  # the first key that comes again
        ('{"a":1,"a":1}', "a"),
        ('{"x":[{"c":2,"d":1,"c":3}]}', "c"),
    ],
)
def test_a_duplicate_key_is_named(text: str, key: str) -> None:
    with pytest.raises(JsonFormatError, match=f"duplicate key '{key}'") as info:
        codec.loads(text, where=Location(path=("input",)))
    assert str(info.value.where) == "input"
