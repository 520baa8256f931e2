"""Election, template, public credentials and setup data: exact bytes and every validation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gmpy2 import mpz

from viche.crypto.elgamal import PublicKey
from viche.crypto.group import BELENIOS_2048, RFC_3526_2048
from viche.crypto.hashing import b64_sha256, sha256_hex
from viche.errors import (
    GroupMembershipError,
    JsonFormatError,
    Location,
    NonCanonicalError,
    NumberFormatError,
    ProtocolError,
    UnknownCredentialError,
    UnsupportedError,
)
from viche.protocol.codec import dumps, require_canonical
from viche.protocol.election import (
    Election,
    ElectionTemplate,
    HomomorphicQuestion,
    NonHomomorphicQuestion,
    PublicCredentials,
    SetupData,
    check_uuid,
)

TEMPLATES = {
    "simple-plain-BELENIOS": "simple",
    "nh-mixnet-RFC": "nh",
    "large-10x10-BELENIOS": "large",
}


def _election_bytes(reference_dir: Path, name: str) -> bytes:
    return (reference_dir / name / "setup" / "election.json").read_bytes().rstrip(b"\n")


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_template_gives_the_tools_exact_election(
    name: str, reference_dir: Path, templates_dir: Path
) -> None:
    """make-election --template: same template, key and uuid give the same bytes."""
    ref = _election_bytes(reference_dir, name)
    data = json.loads(ref)
    template = ElectionTemplate.from_bytes((templates_dir / f"{TEMPLATES[name]}.json").read_bytes())
    group = BELENIOS_2048 if data["group"] == "BELENIOS-2048" else RFC_3526_2048
    e = Election.from_template(template, PublicKey(group, mpz(data["public_key"])), data["uuid"])
    assert e.raw == ref
    assert e.fingerprint == b64_sha256(ref)
    assert e.hex_hash == sha256_hex(ref)
    parsed = Election.from_bytes(ref)
    assert parsed.raw is ref and parsed.to_json() == e.to_json()
    # Failure twin: another uuid gives other bytes and another fingerprint.
    other = Election.from_template(template, e.public_key, data["uuid"][:-1] + "z")
    assert other.fingerprint != e.fingerprint


def test_optional_fields_in_key_order() -> None:
    q = HomomorphicQuestion(("a", "b"), True, 0, 1, "Q?")
    e = Election(
        1,
        "d",
        "n",
        BELENIOS_2048,
        PublicKey(BELENIOS_2048, BELENIOS_2048.g),
        (q,),
        "ABCDEFGHJKLMNPQ",
        administrator="adm",
        credential_authority="ca",
    )
    assert list(json.loads(e.raw)) == [
        "version",
        "description",
        "name",
        "group",
        "public_key",
        "questions",
        "uuid",
        "administrator",
        "credential_authority",
    ]
    assert list(json.loads(e.raw)["questions"][0]) == ["answers", "blank", "min", "max", "question"]
    no_blank = HomomorphicQuestion(("a", "b"), False, 0, 1, "Q?")
    assert "blank" not in no_blank.to_json()
    assert Election.from_bytes(e.raw).to_json() == e.to_json()


def test_explicit_blank_false_parses_but_is_not_reemitted() -> None:
    """`"blank":false` is legal input; the canonical form omits it (so raw bytes are kept)."""
    q = HomomorphicQuestion.from_json(
        {"answers": ["a"], "blank": False, "min": 0, "max": 1, "question": "q"},
        Location(path=("q",)),
    )
    assert q.blank is False and "blank" not in q.to_json()


def _base(**over: object) -> dict[str, object]:
    d: dict[str, object] = {
        "version": 1,
        "description": "d",
        "name": "n",
        "group": "BELENIOS-2048",
        "public_key": str(BELENIOS_2048.g),
        "questions": [{"answers": ["a", "b"], "min": 1, "max": 2, "question": "q"}],
        "uuid": "ABCDEFGHJKLMNPQ",
    }
    d.update(over)
    return d


def test_valid_base_parses() -> None:
    e = Election.from_bytes(dumps(_base()).encode())
    assert e.uuid == "ABCDEFGHJKLMNPQ" and not e.has_nh_questions


@pytest.mark.parametrize(
    ("override", "error", "where"),
    [
        ({"uuid": "short"}, ProtocolError, "election / uuid"),
        ({"uuid": "ABCDEFGHJKLMN0P"}, ProtocolError, "election / uuid"),  # 0 is not base58
        ({"version": 2}, UnsupportedError, "election / version"),
        ({"group": "Ed25519"}, ProtocolError, "election / group"),
        ({"public_key": "0"}, GroupMembershipError, "election / public_key"),
        ({"public_key": "007"}, NumberFormatError, "election / public_key"),
        ({"public_key": 7}, NumberFormatError, "election / public_key"),
        ({"questions": []}, ProtocolError, "election"),
        (
            {"questions": [{"answers": ["a"], "min": 1, "max": 2, "question": "q"}]},
            ProtocolError,
            "election / questions[0]",
        ),
        (
            {"questions": [{"answers": ["a", "b"], "min": 2, "max": 1, "question": "q"}]},
            ProtocolError,
            "election / questions[0]",
        ),
        (
            {"questions": [{"answers": [], "min": 0, "max": 0, "question": "q"}]},
            ProtocolError,
            "election / questions[0]",
        ),
        (
            {"questions": [{"answers": ["a"], "min": -1, "max": 1, "question": "q"}]},
            JsonFormatError,
            "election / questions[0] / min",
        ),
        (
            {"questions": [{"answers": ["a"], "min": 0, "max": 1, "question": "q", "x": 1}]},
            JsonFormatError,
            "election / questions[0]",
        ),
        (
            {
                "questions": [
                    {"type": "NonHomomorphic", "value": {"answers": ["a"], "question": "q"}}
                ]
            },
            ProtocolError,
            "election / questions[0]",
        ),
        (
            {"questions": [{"type": "Majority", "value": {"answers": ["a"], "question": "q"}}]},
            UnsupportedError,
            "election / questions[0] / type",
        ),
        ({"extra": 1}, JsonFormatError, "election"),
    ],
)
def test_invalid_elections_are_rejected(
    override: dict[str, object], error: type[Exception], where: str
) -> None:
    with pytest.raises(error) as err:
        Election.from_bytes(dumps(_base(**override)).encode())
    assert str(getattr(err.value, "where", "")) == where


def test_missing_field_is_rejected() -> None:
    d = _base()
    del d["uuid"]
    with pytest.raises(JsonFormatError, match="missing field"):
        Election.from_bytes(dumps(d).encode())


def test_nh_question_needs_embedding_and_fits() -> None:
    nh = {"type": "NonHomomorphic", "value": {"answers": ["a", "b", "c"], "question": "rank"}}
    e = Election.from_bytes(
        dumps(_base(group="RFC-3526-2048", public_key="4", questions=[nh])).encode()
    )
    assert isinstance(e.questions[0], NonHomomorphicQuestion) and e.has_nh_questions
    assert e.questions[0].to_json() == nh
    too_many = {"type": "NonHomomorphic", "value": {"answers": ["x"] * 300, "question": "q"}}
    with pytest.raises(ProtocolError, match="do not fit"):
        Election.from_bytes(
            dumps(_base(group="RFC-3526-2048", public_key="4", questions=[too_many])).encode()
        )


def test_check_uuid() -> None:
    assert check_uuid("123456789ABCDEFG") == "123456789ABCDEFG"
    with pytest.raises(ProtocolError):
        check_uuid("123456789ABCDEFGl")


# ---------------------------------------------------------------------- credentials


def test_public_credentials_weights_and_lookup() -> None:
    g = BELENIOS_2048
    a, b = g.powg(5), g.powg(7)
    raw = dumps([f"{a},3", f"{b},1"]).encode()
    creds = PublicCredentials.from_bytes(raw)
    assert creds.raw is raw and creds.weighted and creds.total_weight == 4
    assert creds.weight(str(a)) == 3 and str(b) in creds and len(creds) == 2
    assert creds.fingerprint == b64_sha256(raw) and creds.hex_hash == sha256_hex(raw)
    creds.check_members(g)
    with pytest.raises(UnknownCredentialError):
        creds.lookup(str(g.powg(6)), where=Location(path=("ballot x", "credential")))
    plain = PublicCredentials.build([a, b])
    assert not plain.weighted and plain.raw == dumps([str(a), str(b)]).encode()
    assert plain.weight(str(a)) == 1


@pytest.mark.parametrize(
    ("entries", "error"),
    [
        (["5", "5"], ProtocolError),
        (["5,0"], ProtocolError),
        (["5,1,x"], JsonFormatError),
        (["5,01"], NumberFormatError),
        ([5], JsonFormatError),
        ({"a": 1}, JsonFormatError),
    ],
)
def test_invalid_credentials_are_rejected(entries: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        PublicCredentials.from_bytes(dumps(entries).encode())


def test_non_member_credential_is_named() -> None:
    creds = PublicCredentials.from_bytes(
        dumps([str(BELENIOS_2048.g), str(BELENIOS_2048.p - 1)]).encode()
    )
    with pytest.raises(GroupMembershipError) as err:
        creds.check_members(BELENIOS_2048)
    assert str(err.value.where) == "credentials[1]"


# ---------------------------------------------------------------------- setup data


def test_setup_data_roundtrip_and_validation() -> None:
    h = "ab" * 32
    raw = dumps({"election": h, "trustees": h, "credentials": h}).encode()
    assert dumps(SetupData.from_bytes(raw).to_json()).encode() == raw
    with pytest.raises(JsonFormatError):
        SetupData.from_bytes(
            dumps({"election": "AB" * 32, "trustees": h, "credentials": h}).encode()
        )
    with pytest.raises(JsonFormatError):
        SetupData.from_bytes(dumps({"trustees": h, "election": h}).encode())


def test_canonical_form_is_reported() -> None:
    raw = dumps(_base()).encode()
    e = Election.from_bytes(raw)
    assert e.is_canonical
    require_canonical(e.raw, e.to_json(), Location(path=("election",)))
    spaced = json.dumps(_base()).encode()
    s = Election.from_bytes(spaced)
    assert not s.is_canonical and s.fingerprint != e.fingerprint
    with pytest.raises(NonCanonicalError) as err:
        require_canonical(s.raw, s.to_json(), Location(event=0, path=("election",)))
    assert str(err.value.where) == "event 0 / election"
    creds = PublicCredentials.from_bytes(b'["5", "7"]')
    assert not creds.is_canonical
    assert PublicCredentials.from_bytes(b'["5","7"]').is_canonical
