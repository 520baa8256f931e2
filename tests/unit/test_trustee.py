"""Single trustee keys and the trustee JSON codecs."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from gmpy2 import mpz
from hypothesis import given, settings
from hypothesis import strategies as st

from viche.crypto.group import BELENIOS_2048, RFC_3526_2048, Group, group_by_name
from viche.crypto.rng import SeededRandom
from viche.crypto.schnorr import Proof
from viche.crypto.trustee import (
    TrusteePrivateKey,
    TrusteePublicKey,
    check_trustee_public_key,
    generate_trustee_key,
)
from viche.errors import (
    GroupMembershipError,
    JsonFormatError,
    Location,
    NumberFormatError,
    ProofError,
    ProtocolError,
)
from viche.protocol.codec import dumps, loads
from viche.protocol.trustees import (
    Cert,
    CertKeys,
    Coefexps,
    EncryptedMsg,
    PedersenItem,
    Polynomial,
    SingleItem,
    ThresholdParameters,
    Trustees,
    VInput,
    VOutput,
    parse_lines,
    private_key_from_file,
    private_key_to_file,
    trustee_public_key_from_json,
    trustee_public_key_to_json,
)


@pytest.mark.parametrize("group", [BELENIOS_2048, RFC_3526_2048], ids=lambda g: g.name)
def test_generated_key_checks(group: Group, rng: SeededRandom) -> None:
    sk, pk = generate_trustee_key(group, rng)
    assert pk.public_key == group.powg(sk.value)
    check_trustee_public_key(group, pk, where=Location(trustee=1))


@pytest.mark.parametrize("group", [BELENIOS_2048, RFC_3526_2048], ids=lambda g: g.name)
def test_tampered_key_is_rejected(group: Group, rng: SeededRandom) -> None:
    _, pk = generate_trustee_key(group, rng)
    other = TrusteePublicKey(group.mul(pk.public_key, group.g), pk.pok)
    with pytest.raises(ProofError) as err:
        check_trustee_public_key(group, other, where=Location(trustee=1))
    assert str(err.value.where) == "trustee 1 / pok"
    bad_proof = TrusteePublicKey(
        pk.public_key, Proof(pk.pok.challenge, (pk.pok.response + 1) % group.q)
    )
    with pytest.raises(ProofError):
        check_trustee_public_key(group, bad_proof)
    with pytest.raises(GroupMembershipError):
        check_trustee_public_key(
            group, TrusteePublicKey(group.p + 1, pk.pok), where=Location(path=("t",))
        )


def test_private_key_repr_hides_value(rng: SeededRandom) -> None:
    sk, _ = generate_trustee_key(BELENIOS_2048, rng)
    assert str(sk.value) not in repr(sk)
    assert "secret" in repr(sk)
    assert sk == TrusteePrivateKey(mpz(sk.value))
    assert sk != TrusteePrivateKey(mpz(sk.value) + 1)
    with pytest.raises(TypeError):
        hash(sk)


def test_key_files_roundtrip(rng: SeededRandom) -> None:
    sk, pk = generate_trustee_key(BELENIOS_2048, rng)
    text = private_key_to_file(sk)
    assert text == f'"{sk.value}"\n'
    assert private_key_from_file(text) == sk
    obj = trustee_public_key_to_json(pk)
    assert list(obj) == ["pok", "public_key"]
    assert trustee_public_key_from_json(loads(dumps(obj))) == pk


def test_key_file_rejects_bad_shapes() -> None:
    with pytest.raises(JsonFormatError):
        trustee_public_key_from_json({"public_key": "5"}, Location(path=("k",)))
    with pytest.raises(JsonFormatError):
        trustee_public_key_from_json(
            {"pok": {"challenge": "1", "response": "2"}, "public_key": "5", "x": 1},
            Location(path=("k",)),
        )
    with pytest.raises(Exception, match="canonical"):
        private_key_from_file('"0123"\n')


def _roundtrip_file(path: Path, parse: Callable[[Any, Location], Any]) -> None:
    raw = path.read_text()
    assert dumps(parse(loads(raw), Location(file=str(path))).to_json()) + "\n" == raw


def test_reference_files_roundtrip_byte_for_byte(reference_dir: Path) -> None:
    """Every trustee message belenios-tool wrote re-serializes to the same bytes."""
    seen = 0
    for d in sorted(reference_dir.iterdir()):
        raw = (d / "setup" / "trustees.json").read_bytes()
        trustees = Trustees.from_json(loads(raw), Location(path=("trustees",)))
        assert dumps(trustees.to_json()).encode() in {raw, raw.rstrip(b"\n")}
        for f in (d / "secrets").glob("*.pubkey"):
            assert (
                dumps(
                    trustee_public_key_to_json(trustee_public_key_from_json(loads(f.read_text())))
                )
                + "\n"
                == f.read_text()
            )
        for f in (d / "secrets").glob("*.privkey"):
            assert private_key_to_file(private_key_from_file(f.read_text())) == f.read_text()
        for pattern, parse in [
            ("*.cert", Cert.from_json),
            ("*.vinput", VInput.from_json),
            ("*.voutput", VOutput.from_json),
            ("*.dkey", EncryptedMsg.from_json),
            ("threshold.json", ThresholdParameters.from_json),
        ]:
            for f in (d / "secrets").glob(pattern):
                _roundtrip_file(f, parse)
                seen += 1
        poly = d / "secrets" / "polynomials.jsons"
        if poly.exists():
            items = parse_lines(poly.read_text(), Polynomial.from_json, Location(file=str(poly)))
            assert "".join(dumps(p.to_json()) + "\n" for p in items) == poly.read_text()
    assert seen >= 2 * (3 * 4 + 1)


def test_reference_election_public_keys(reference_dir: Path) -> None:
    """y = Π Single keys × Π_Pedersen Π_z A_z0 matches every reference election."""
    kinds = set()
    for d in sorted(reference_dir.iterdir()):
        election = json.loads((d / "setup" / "election.json").read_text())
        group = group_by_name(election["group"])
        trustees = Trustees.from_json(json.loads((d / "setup" / "trustees.json").read_text()))
        assert trustees.public_key(group) == mpz(election["public_key"])
        kinds |= {type(i).__name__ for i in trustees.items}
        # failure twin: dropping one item changes the key
        if len(trustees.items) > 1:
            assert Trustees(trustees.items[1:]).public_key(group) != mpz(election["public_key"])
    assert kinds == {"SingleItem", "PedersenItem"}


def test_flattened_ids_follow_the_list(reference_dir: Path) -> None:
    d = reference_dir / "threshold-weighted-revotes"
    trustees = Trustees.from_json(json.loads((d / "setup" / "trustees.json").read_text()))
    assert isinstance(trustees.items[0], SingleItem)
    assert isinstance(trustees.items[1], PedersenItem)
    flat = trustees.flat()
    assert [(t.trustee_id, t.item, t.index) for t in flat] == [
        (1, 0, 0),
        (2, 1, 1),
        (3, 1, 2),
        (4, 1, 3),
    ]
    assert trustees.trustee(3).key == trustees.items[1].params.verification_keys[1]
    with pytest.raises(ProtocolError):
        trustees.trustee(5)
    # a Pedersen item listed first comes first
    swapped = Trustees((trustees.items[1], trustees.items[0]))
    assert [(t.item, t.index) for t in swapped.flat()] == [(0, 1), (0, 2), (0, 3), (1, 0)]


def test_trustees_rejects_bad_shapes() -> None:
    with pytest.raises(JsonFormatError, match="unknown trustee kind"):
        Trustees.from_json([["Triple", {}]], Location(path=("trustees",)))
    with pytest.raises(JsonFormatError, match="empty"):
        Trustees.from_json([], Location(path=("trustees",)))
    with pytest.raises(JsonFormatError):
        Trustees.from_json([["Single"]], Location(path=("trustees",)))


_numbers = st.integers(min_value=0, max_value=2**2048)


@settings(max_examples=30, deadline=None)
@given(
    a=_numbers, b=_numbers, c=_numbers, d=_numbers, data=st.binary(max_size=40), t=st.integers(1, 4)
)
def test_codecs_roundtrip_any_numbers(a: int, b: int, c: int, d: int, data: bytes, t: int) -> None:
    proof = Proof(mpz(c), mpz(d))
    keys = CertKeys(mpz(a), mpz(b))
    cert = Cert(dumps(keys.to_json()), proof, keys)
    values = tuple(mpz(x) for x in (a, b, c, d)[:t])
    coefexps = Coefexps(Coefexps.message_of(values), proof, values)
    params = ThresholdParameters(
        t, (cert,) * 4, (coefexps,) * 4, (TrusteePublicKey(mpz(a), proof),) * 4
    )
    pairs: list[tuple[Any, Any]] = [
        (cert, Cert),
        (coefexps, Coefexps),
        (EncryptedMsg(mpz(a), mpz(b), data.hex()), EncryptedMsg),
        (params, ThresholdParameters),
        (VOutput(cert.message, TrusteePublicKey(mpz(c), proof)), VOutput),
    ]
    for value, cls in pairs:
        text = dumps(value.to_json())
        back = cls.from_json(loads(text), Location(path=("x",)))
        assert back == value
        assert dumps(back.to_json()) == text
    # failure twin: a number with a leading zero is not canonical
    bad = cert.to_json()
    bad["signature"]["challenge"] = "0" + bad["signature"]["challenge"]
    with pytest.raises(NumberFormatError):
        Cert.from_json(bad, Location(path=("x",)))
