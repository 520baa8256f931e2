"""Exact JSON for the protocol: canonical compact form, strict parsing, typed field access.

Writing: every message's ``to_json()`` builds dicts *in the key order of the
specification*; :func:`dumps` writes them compactly (no spaces, UTF-8, no trailing
newline). That string is what gets hashed, so it must never be re-formatted.

Reading: :func:`loads` refuses duplicate keys, NaN/Infinity and trailing garbage, and the
``get_*`` helpers check types and name the offending field through ``where``.
A message is *canonical* when ``dumps(Message.from_json(loads(raw)).to_json()) == raw``.

One rule for every archive member that a party writes as a protocol message (ballot,
trustees, setup_data, encrypted and sized tally, shuffle, partial decryption, owned
wrapper, result): its ``from_bytes`` insists on the canonical form
(:func:`require_canonical`), so escaped digits, reordered keys or spaces are refused
wherever they appear. The election and the public credentials are the exception: their
fingerprints are over the bytes as the administrator wrote them, and they are kept as is.
"""

from __future__ import annotations

import json
import math
from typing import Any, TypeVar

from gmpy2 import mpz

from viche.crypto.group import canonical_number, parse_number
from viche.errors import NOWHERE, JsonFormatError, Location, NonCanonicalError

JsonObject = dict[str, Any]
T = TypeVar("T")


def dumps(value: object) -> str:
    """Canonical compact JSON (separators without spaces, non-ASCII kept as UTF-8)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def to_bytes(value: object) -> bytes:
    return dumps(value).encode("utf-8")


def require_canonical(raw: bytes, json_value: object, where: Location, what: str = "") -> None:
    """Raise :class:`NonCanonicalError` unless ``raw`` is ``dumps(json_value)`` (the
    message parsed from ``raw`` and written back)."""
    require_written(raw, to_bytes(json_value), where, what)


def require_written(raw: bytes, written: bytes, where: Location, what: str = "") -> None:
    """Raise :class:`NonCanonicalError` unless ``raw`` is ``written``, the canonical bytes
    of the message parsed from ``raw`` (:func:`require_canonical` with them already
    written, e.g. by a message's own text writer)."""
    if raw != written:
        raise NonCanonicalError(
            f"{what + ' ' if what else ''}not in canonical form (compact JSON, keys in the "
            "order of the specification)",
            where=where,
        )


def _no_duplicates(pairs: list[tuple[str, Any]]) -> JsonObject:
    out: JsonObject = dict(pairs)
    if len(out) != len(pairs):  # name the first key that comes again
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise JsonFormatError(f"duplicate key {key!r}")
            seen.add(key)
    return out


def _no_constants(name: str) -> Any:
    raise JsonFormatError(f"{name} is not allowed in protocol JSON")


def loads(data: bytes | str, where: Location = NOWHERE) -> Any:
    """Parse strict JSON; errors name ``where`` and the line/column."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise JsonFormatError(
                f"not UTF-8: {exc.reason} at byte {exc.start}", where=where
            ) from None
    try:
        return json.loads(
            data,
            object_pairs_hook=_no_duplicates,
            parse_constant=_no_constants,
            parse_int=_parse_int,
            parse_float=_parse_float,
        )
    except JsonFormatError as exc:
        raise JsonFormatError(exc.message, where=where) from None
    except json.JSONDecodeError as exc:
        raise JsonFormatError(
            f"invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})", where=where
        ) from None
    except RecursionError:
        raise JsonFormatError("JSON nested too deeply", where=where) from None


#: Small integers of the protocol (heights, min/max, weights, counts) are far shorter; big
#: numbers are JSON strings (:func:`viche.crypto.group.parse_number`).
MAX_INT_DIGITS = 40


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise JsonFormatError(f"JSON number with more than {MAX_INT_DIGITS} digits")
    return int(text)


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JsonFormatError("JSON number out of range")
    return value


def sub(where: Location, key: str | int) -> Location:
    """The location of field ``key`` or list item ``key`` inside ``where``: a field is one
    more part of the path, a list index is written after the last part (``credentials[3]``)."""
    if isinstance(key, str):
        return where.sub(key)
    if not where.path:
        return where.sub(f"[{key}]")
    return where.at(path=(*where.path[:-1], f"{where.path[-1]}[{key}]"))


def expect_object(
    value: object, where: Location, required: tuple[str, ...], optional: tuple[str, ...] = ()
) -> JsonObject:
    """``value`` must be an object with every required key, and no key outside both lists."""
    if not isinstance(value, dict):
        raise JsonFormatError(f"expected a JSON object, got {_kind(value)}", where=where)
    missing = [k for k in required if k not in value]
    if missing:
        raise JsonFormatError(f"missing field(s) {', '.join(missing)}", where=where)
    if len(value) == len(required):  # every required key and no other (keys are unique)
        return value
    extra = [k for k in value if k not in required and k not in optional]
    if extra:
        raise JsonFormatError(f"unexpected field(s) {', '.join(extra)}", where=where)
    return value


def expect_list(value: object, where: Location, length: int | None = None) -> list[Any]:
    if not isinstance(value, list):
        raise JsonFormatError(f"expected a JSON array, got {_kind(value)}", where=where)
    if length is not None and len(value) != length:
        raise JsonFormatError(f"expected {length} item(s), got {len(value)}", where=where)
    return value


def get_str(obj: JsonObject, key: str, where: Location) -> str:
    val = obj[key]
    if not isinstance(val, str):
        raise JsonFormatError(f"expected a string, got {_kind(val)}", where=sub(where, key))
    return val


def get_int(obj: JsonObject, key: str, where: Location, minimum: int | None = None) -> int:
    val = obj[key]
    if isinstance(val, bool) or not isinstance(val, int):
        raise JsonFormatError(f"expected an integer, got {_kind(val)}", where=sub(where, key))
    if minimum is not None and val < minimum:
        raise JsonFormatError(f"must be at least {minimum}, got {val}", where=sub(where, key))
    return val


def get_bool(obj: JsonObject, key: str, where: Location) -> bool:
    val = obj[key]
    if not isinstance(val, bool):
        raise JsonFormatError(f"expected a boolean, got {_kind(val)}", where=sub(where, key))
    return val


def get_number(obj: JsonObject, key: str, where: Location) -> mpz:
    """A big number (group element, exponent): a base-10 string."""
    text = obj[key]
    value = canonical_number(text)  # no location is built for a well-formed number
    return value if value is not None else parse_number(text, where=sub(where, key))


def number(value: object, where: Location) -> mpz:
    return parse_number(value, where=where)


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
