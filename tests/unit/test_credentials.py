"""Private credentials: format, checksum, derivation, and interop with belenios-tool."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from viche.crypto.credentials import (
    ALPHABET,
    PrivateCredential,
    check_credential,
    checksum_char,
    credential_secret,
    generate_credential,
    public_credential,
)
from viche.crypto.group import BELENIOS_2048, group_by_name
from viche.crypto.rng import SeededRandom
from viche.errors import CredentialFormatError


def reference_credentials(reference_dir: Path) -> list[tuple[str, str, str, set[str]]]:
    """(group name, uuid, private credential, public credentials) for every reference voter."""
    out = []
    for edir in sorted(p for p in reference_dir.iterdir() if (p / "secrets").is_dir()):
        election = json.loads((edir / "setup" / "election.json").read_bytes())
        pubs = {
            entry.split(",")[0]
            for entry in json.loads((edir / "setup" / "public_creds.json").read_bytes())
        }
        for line in (edir / "secrets" / "private_creds.txt").read_text().splitlines():
            if line.strip():
                out.append((election["group"], election["uuid"], line.split()[-1], pubs))
    return out


def test_alphabet_is_base58() -> None:
    assert len(ALPHABET) == len(set(ALPHABET)) == 58
    assert not set("0OIl") & set(ALPHABET)


def test_generated_credentials_are_valid_and_distinct(rng: SeededRandom) -> None:
    creds = [generate_credential(rng) for _ in range(50)]
    assert len(set(creds)) == 50
    for cred in creds:
        assert len(cred) == 19 and cred.count("-") == 4
        assert check_credential(cred) == cred
        assert check_credential(cred.replace("-", "")) == cred
        assert check_credential(f"  {cred}\n") == cred


def test_checksum_is_53_minus_n_mod_53_never_reduced() -> None:
    assert checksum_char("11111111111111") == ALPHABET[53] == "v"  # n = 0
    assert checksum_char("11111111111112") == ALPHABET[52]  # n = 1
    assert checksum_char("1111111111111v") == "v"  # n = 53 ≡ 0
    assert checksum_char("1111111111111w") == ALPHABET[52]  # n = 54 ≡ 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("41g-8EN-ddK-DRp-KZ", "wrong length"),
        ("41g-8EN-ddK-DRp-KZtt", "wrong length"),
        ("41g+8EN-ddK-DRp-KZt", "wrong format"),
        ("41g-8EN-ddK-DRp-KZ0", "wrong alphabet"),
        ("41g-8EN-ddK-DRp-KZu", "wrong checksum"),
        ("41g-8EN-ddK-DRp-ZKt", "wrong checksum"),
    ],
)
def test_malformed_credentials_are_named(text: str, message: str) -> None:
    check_credential("41g-8EN-ddK-DRp-KZt")  # the unaltered credential is valid
    with pytest.raises(CredentialFormatError, match=message) as info:
        check_credential(text)
    assert "8EN" not in str(info.value)


def test_secret_uses_the_dashed_form_and_the_uuid() -> None:
    group = BELENIOS_2048
    cred = "41g-8EN-ddK-DRp-KZt"
    s = credential_secret(group, cred, "1a9mwK4EDQitEv")
    assert 0 <= s < group.q
    assert credential_secret(group, cred.replace("-", ""), "1a9mwK4EDQitEv") == s
    assert credential_secret(group, cred, "1a9mwK4EDQitEw") != s
    with pytest.raises(CredentialFormatError):
        credential_secret(group, "41g-8EN-ddK-DRp-KZu", "1a9mwK4EDQitEv")


def test_private_credential_hides_its_value(rng: SeededRandom) -> None:
    cred = PrivateCredential.generate(rng)
    assert cred.text not in repr(cred) and cred.text not in str(cred)
    assert cred.text[:3] not in repr(cred)
    assert cred == PrivateCredential(cred.text.replace("-", ""))
    assert cred != PrivateCredential.generate(rng)
    assert cred != cred.text
    assert hash(cred) == hash(PrivateCredential(cred.text))
    assert cred.public(BELENIOS_2048, "u") == public_credential(
        BELENIOS_2048, credential_secret(BELENIOS_2048, cred.text, "u")
    )
    with pytest.raises(CredentialFormatError):
        PrivateCredential("not a credential")


def test_reference_credentials_derive_the_public_ones(reference_dir: Path) -> None:
    creds = reference_credentials(reference_dir)
    assert creds
    assert any(cred.endswith("v") for _, _, cred, _ in creds)  # the n ≡ 0 mod 53 case
    for group_name, uuid, cred, pubs in creds:
        group = group_by_name(group_name)
        assert check_credential(cred) == cred
        secret = credential_secret(group, cred, uuid)
        assert str(public_credential(group, secret)) in pubs, cred
        # twin: the same derivation over the undashed string gives a key that is not listed
        undashed = hashlib.pbkdf2_hmac(
            "sha256", cred.replace("-", "").encode(), uuid.encode(), 1000, 32
        )
        wrong = int.from_bytes(undashed, "big") % int(group.q)
        assert str(group.powg(wrong)) not in pubs
