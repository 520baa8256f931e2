"""Review: every parser of outside data raises only VicheError on mutated input.

Valid samples come from belenios-tool's reference archives (threshold with weights and
re-votes, and a mixnet election); each example replaces, deletes or duplicates one node of
one sample's JSON, or cuts its bytes, and parses the result."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from json_mutation import json_values, mutate_node
from viche.crypto.group import BELENIOS_2048
from viche.errors import Location, VicheError
from viche.protocol.codec import loads
from viche.protocol.election import Election, PublicCredentials, SetupData
from viche.protocol.shuffle import Shuffle
from viche.protocol.tally import (
    EncryptedTally,
    Owned,
    PartialDecryption,
    Result,
    SizedEncryptedTally,
)
from viche.protocol.threshold import decrypt_share
from viche.protocol.trustees import Cert, Trustees, VInput
from viche.record import read_archive
from viche.record.events import ArchiveHeader

Parser = Callable[[bytes], object]


def _trustees(raw: bytes) -> object:
    return Trustees.from_json(loads(raw, Location(path=("trustees",))))


def _cert(raw: bytes) -> object:
    return Cert.from_json(loads(raw, Location(path=("cert",))))


def _vinput(raw: bytes) -> object:
    return VInput.from_json(loads(raw, Location(path=("vinput",))))


def _dkey(raw: bytes) -> object:
    """A trustee opens its .dkey with its seed (decryption, signature, JSON inside)."""
    text = raw.decode("utf-8", errors="replace")
    return decrypt_share(BELENIOS_2048, _SEED[0], text, Location(path=("dkey",)))


_SEED: list[str] = []


PARSERS: dict[str, Parser] = {
    "election": Election.from_bytes,
    "trustees": _trustees,
    "credentials": PublicCredentials.from_bytes,
    "setup_data": SetupData.from_bytes,
    "tally": EncryptedTally.from_bytes,
    "sized": SizedEncryptedTally.from_bytes,
    "owned": Owned.from_bytes,
    "partial_decryption": PartialDecryption.from_bytes,
    "shuffle": Shuffle.from_bytes,
    "result": Result.from_bytes,
    "header": ArchiveHeader.from_bytes,
    "cert": _cert,
    "vinput": _vinput,
    "dkey": _dkey,
}


@pytest.fixture(scope="module")
def samples(reference_dir: Path) -> list[tuple[str, bytes]]:
    out: list[tuple[str, bytes]] = []
    for name in ("threshold-weighted-revotes", "nh-mixnet-RFC"):
        (bel,) = (reference_dir / name).glob("*.bel")
        rec = read_archive(bel)
        out += [
            ("election", rec.election),
            ("trustees", rec.trustees),
            ("credentials", rec.public_credentials),
            ("setup_data", rec.setup.setup_data.raw),
            ("header", rec.header.to_bytes()),
        ]
        assert rec.encrypted_tally is not None and rec.result is not None
        out += [("tally", rec.encrypted_tally.tally_raw), ("sized", rec.encrypted_tally.sized_raw)]
        for e in (*rec.shuffles, *rec.partial_decryptions):
            out.append(("owned", e.owned_raw))
        out += [("shuffle", e.payload_raw) for e in rec.shuffles[:1]]
        out += [("partial_decryption", e.payload_raw) for e in rec.partial_decryptions[:1]]
        out.append(("result", rec.result.raw))
    secrets = reference_dir / "threshold-noserver-2of3" / "secrets"
    key = sorted(secrets.glob("*.key"))[0]
    _SEED[:] = [key.read_text().strip()]
    for kind in ("cert", "vinput", "dkey"):
        path = key.with_suffix(f".{kind}")
        out.append((kind, path.read_bytes().strip()))
    for kind, raw in out:  # every sample parses before it is mutated
        PARSERS[kind](raw)
    return out


_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**45), max_value=10**45),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=6),
    st.sampled_from(["0", "-1", "01", "1" * 3000, "Single", "Pedersen", "NonHomomorphic"]),
)
_JSON = json_values(_LEAVES, key_size=5, max_leaves=5)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_parsers_raise_only_viche_errors(samples: list[tuple[str, bytes]], data: Any) -> None:
    kind, raw = data.draw(st.sampled_from(samples))
    mode = data.draw(st.sampled_from(["replace", "delete", "duplicate", "cut"]))
    if mode == "cut":
        mutated = raw[: data.draw(st.integers(min_value=0, max_value=len(raw) - 1))]
    else:
        obj = mutate_node(data, json.loads(raw), mode, _JSON)
        mutated = json.dumps(obj, separators=(",", ":")).encode()
    try:
        PARSERS[kind](mutated)
    except VicheError as exc:
        assert exc.code.startswith("V")
    else:  # a mutation may keep the input valid; then it must parse again identically
        PARSERS[kind](mutated)
