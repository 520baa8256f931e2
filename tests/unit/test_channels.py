"""The threshold PKI: key derivation, signed messages, encrypted messages, channels."""

from __future__ import annotations

from pathlib import Path

import pytest
from gmpy2 import mpz

from viche.crypto.group import BELENIOS_2048, RFC_3526_2048, Group
from viche.crypto.rng import SeededRandom
from viche.crypto.schnorr import Proof
from viche.errors import DecryptionError, FormatError, KeyCeremonyError, Location, ProofError
from viche.protocol.channels import (
    BASE58,
    check_seed,
    check_signed,
    decrypt,
    derive_keys,
    encrypt,
    generate_seed,
    receive,
    send,
    sign,
)
from viche.protocol.codec import dumps, loads
from viche.protocol.trustees import (
    Cert,
    ChannelMsg,
    EncryptedMsg,
    Polynomial,
    RawPolynomial,
    parse_lines,
)

G = BELENIOS_2048


CH = Location(path=("ch",))


def _reference_trustees(reference_dir: Path) -> list[tuple[str, Cert]]:
    """(seed, cert) of every Pedersen trustee of the reference setups."""
    out = []
    for cert_file in sorted(reference_dir.glob("threshold-*/secrets/*.cert")):
        cert = Cert.from_json(loads(cert_file.read_text()), Location(file=cert_file.name))
        out.append((cert_file.with_suffix(".key").read_text(), cert))
    return out


def test_seeds_derive_the_certified_keys(reference_dir: Path) -> None:
    trustees = _reference_trustees(reference_dir)
    assert len(trustees) == 6
    for seed, cert in trustees:
        assert derive_keys(G, seed).public == cert.keys
    # failure twin: another trustee's seed gives other keys
    assert derive_keys(G, trustees[0][0]).public != trustees[1][1].keys


def test_seed_format(rng: SeededRandom) -> None:
    seed = generate_seed(rng)
    assert len(seed) == 22
    assert set(seed) <= set(BASE58)
    assert check_seed(seed + "\n") == seed
    for bad in ["", seed[:21], seed + "1", seed[:21] + "0", seed[:21] + "l"]:
        with pytest.raises(FormatError):
            check_seed(bad)


def test_keys_repr_hides_secrets(rng: SeededRandom) -> None:
    keys = derive_keys(G, generate_seed(rng))
    assert str(keys.signing_key) not in repr(keys)
    assert str(keys.decryption_key) not in repr(keys)


@pytest.mark.parametrize("group", [BELENIOS_2048, RFC_3526_2048], ids=lambda g: g.name)
def test_sign_and_check(group: Group, rng: SeededRandom) -> None:
    keys = derive_keys(group, generate_seed(rng))
    signed = sign(group, keys.signing_key, '{"x":"1"}', rng)
    check_signed(group, keys.verification_key, signed, Location(path=("m",)))
    other = derive_keys(group, generate_seed(rng))
    with pytest.raises(ProofError) as err:
        check_signed(group, other.verification_key, signed, Location(path=("m",)))
    assert str(err.value.where) == "m / signature"


@pytest.mark.parametrize("group", [BELENIOS_2048, RFC_3526_2048], ids=lambda g: g.name)
def test_encrypt_decrypt(group: Group, rng: SeededRandom) -> None:
    keys = derive_keys(group, generate_seed(rng))
    msg = encrypt(group, keys.encryption_key, "bonjour — віче", rng)
    assert decrypt(group, keys.decryption_key, msg) == "bonjour — віче"
    assert EncryptedMsg.parse(msg.serialize()) == msg
    other = derive_keys(group, generate_seed(rng))
    with pytest.raises(DecryptionError):
        decrypt(group, other.decryption_key, msg)


def test_tampered_ciphertext_is_rejected(rng: SeededRandom) -> None:
    keys = derive_keys(G, generate_seed(rng))
    msg = encrypt(G, keys.encryption_key, "secret share", rng)
    flipped = format(int(msg.data[:2], 16) ^ 1, "02x") + msg.data[2:]
    with pytest.raises(DecryptionError):
        decrypt(G, keys.decryption_key, EncryptedMsg(msg.alpha, msg.beta, flipped))
    # another alpha changes the nonce
    with pytest.raises(DecryptionError):
        decrypt(G, keys.decryption_key, EncryptedMsg(G.mul(msg.alpha, G.g), msg.beta, msg.data))
    with pytest.raises(DecryptionError, match="not hexadecimal"):
        decrypt(G, keys.decryption_key, EncryptedMsg(msg.alpha, msg.beta, "zz" + msg.data))
    with pytest.raises(DecryptionError, match="shorter"):
        decrypt(G, keys.decryption_key, EncryptedMsg(msg.alpha, msg.beta, "00"))


def test_long_messages_roundtrip(rng: SeededRandom) -> None:
    """Beyond 64 KiB the CCM length field grows and the nonce shrinks (not seen from the tool)."""
    keys = derive_keys(G, generate_seed(rng))
    text = "0123456789" * 7000
    assert decrypt(G, keys.decryption_key, encrypt(G, keys.encryption_key, text, rng)) == text


def test_decrypt_belenios_tool_polynomials(reference_dir: Path) -> None:
    """Each trustee opens the raw polynomial that belenios-tool encrypted to itself."""
    opened = 0
    for setup in sorted(reference_dir.glob("threshold-*/secrets")):
        certs = parse_lines(
            (setup / "certs.jsons").read_text(), Cert.from_json, Location(path=("certs",))
        )
        polys = parse_lines(
            (setup / "polynomials.jsons").read_text(), Polynomial.from_json, Location(path=("p",))
        )
        seeds = {
            c.keys: (setup / f"{p.stem}.key").read_text()
            for p in setup.glob("*.cert")
            for c in [Cert.from_json(loads(p.read_text()))]
        }
        for cert, poly in zip(certs, polys, strict=True):
            keys = derive_keys(G, seeds[cert.keys])
            text = receive(
                G, keys, cert.keys.verification, poly.polynomial, Location(path=("polynomial",))
            )
            raw = RawPolynomial.from_json(loads(text))
            assert tuple(G.powg(a) for a in raw.coefficients) == poly.coefexps.values
            assert str(raw.coefficients[0]) not in repr(raw)
            opened += 1
    assert opened == 6


def test_channel_roundtrip_and_checks(rng: SeededRandom) -> None:
    alice = derive_keys(G, generate_seed(rng))
    bob = derive_keys(G, generate_seed(rng))
    carol = derive_keys(G, generate_seed(rng))
    text = send(G, alice.signing_key, bob.encryption_key, '{"secret":"42"}', rng)
    assert receive(G, bob, alice.verification_key, text, CH) == '{"secret":"42"}'
    # wrong reader
    with pytest.raises(DecryptionError):
        receive(G, carol, alice.verification_key, text, CH)
    # wrong claimed sender
    with pytest.raises(ProofError):
        receive(G, bob, carol.verification_key, text, CH)
    # encrypted to bob, but addressed to carol inside
    inner = dumps(ChannelMsg(carol.encryption_key, "m").to_json())
    signed = dumps(sign(G, alice.signing_key, inner, rng).to_json())
    readdressed = encrypt(G, bob.encryption_key, signed, rng).serialize()
    with pytest.raises(KeyCeremonyError, match="another trustee"):
        receive(G, bob, alice.verification_key, readdressed, CH)
    # a broken signature inside an intact encryption
    obj = loads(decrypt(G, bob.decryption_key, EncryptedMsg.parse(text)))
    sig = Proof(mpz(obj["signature"]["challenge"]), mpz(obj["signature"]["response"]) + 1)
    obj["signature"] = {"challenge": str(sig.challenge), "response": str(sig.response)}
    resealed = encrypt(G, bob.encryption_key, dumps(obj), rng).serialize()
    with pytest.raises(ProofError):
        receive(G, bob, alice.verification_key, resealed, CH)
