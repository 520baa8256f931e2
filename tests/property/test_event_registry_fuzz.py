"""Nothing in a registry file crashes the import: any bytes give a stored registry or a
VicheError, and a refused import leaves no file behind."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from viche.errors import ConstituencyFileError, VicheError
from viche.event.constituencies import Constituencies
from viche.event.registry import COLUMNS, import_registry
from viche.event.synthetic import synthetic_constituencies, unit_code

CONS = synthetic_constituencies()
HEADER = ",".join(COLUMNS).encode() + b"\n"
GOOD = (
    f"V1,Шевченко,Тарас,,1990-03-09,resident,C001,{unit_code(1)},вул. Хрещатик 1,,,,,\n"
).encode()

fields = st.sampled_from(
    ["", "V1", "C001", "C999", "military", "resident", "abroad", "displaced", "A1234",
     "50.45,30.52", unit_code(1), unit_code(4), "DE", "DE-BERLIN", "1990-03-09", '"', "\x00",
     "Громада 1", "a\nb", "'", "ʼ"]
)  # fmt: skip


def _import(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        src = Path(d) / "r.csv"
        src.write_bytes(data)
        try:
            result = import_registry(src, CONS, out=Path(d) / "reg.sqlite", max_errors=5)
        except VicheError:
            assert sorted(p.name for p in Path(d).iterdir()) == ["r.csv"]
        else:
            result.registry.close()


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=400))
def test_any_bytes_after_a_header(body: bytes) -> None:
    _import(HEADER + body)


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes(data: bytes) -> None:
    _import(data)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(fields, min_size=12, max_size=15), max_size=6))
def test_rows_of_plausible_fields(rows: list[list[str]]) -> None:
    body = "".join(",".join(row) + "\n" for row in rows).encode()
    _import(HEADER + GOOD + body)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=100, deadline=None)
@given(st.fixed_dictionaries({}, optional={
    "regions": json_values, "constituencies": json_values, "units": json_values,
    "excluded_units": json_values, "extra": json_values,
}))  # fmt: skip
def test_any_constituency_json(value: dict[str, object]) -> None:
    mutated = {**CONS.to_json(), **value}
    try:
        parsed = Constituencies.from_json(mutated)
    except ConstituencyFileError as exc:
        assert exc.code == "V8005"
    else:
        assert Constituencies.from_json(parsed.to_json()) == parsed
