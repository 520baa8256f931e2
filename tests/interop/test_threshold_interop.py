"""The Pedersen key ceremony against belenios-tool, in both directions.

(a) every reference threshold setup that belenios-tool wrote passes all of Viche's checks,
    and Viche's deterministic steps (vinputs, threshold parameters) reproduce its files byte
    for byte; (b) a mixed ceremony where trustee 1 is Viche and trustees 2-3 are
    belenios-tool, each side checking the other's messages, ending in an election that
    belenios-tool builds from Viche's threshold.json; (c) tampering is caught.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESCCM
from gmpy2 import mpz

from support.belenios import tool
from viche.crypto.group import BELENIOS_2048, group_by_name
from viche.crypto.rng import SeededRandom
from viche.crypto.schnorr import Proof
from viche.crypto.trustee import generate_trustee_key
from viche.errors import DecryptionError, KeyCeremonyError, Location, ProofError
from viche.protocol.channels import derive_keys, encrypt, receive, send, sign
from viche.protocol.codec import dumps, loads
from viche.protocol.threshold import (
    check_cert,
    check_certs,
    check_polynomials,
    check_threshold_parameters,
    check_trustees,
    check_voutput,
    compute_vinputs,
    decrypt_share,
    generate_cert,
    make_polynomial,
    make_threshold_parameters,
    make_voutput,
)
from viche.protocol.trustees import (
    Cert,
    ChannelMsg,
    EncryptedMsg,
    Polynomial,
    RawPolynomial,
    SecretShare,
    ThresholdParameters,
    Trustees,
    VInput,
    VOutput,
    parse_lines,
    trustee_public_key_to_json,
)

pytestmark = pytest.mark.interop

THRESHOLD_REFS = ["threshold-noserver-2of3", "threshold-weighted-revotes"]


def _line(obj: object) -> str:
    return dumps(obj) + "\n"


def _cert_name(cert: Cert) -> str:
    return hashlib.sha256(cert.message.encode("utf-8")).hexdigest()


def _tool(belenios_tool: str, cwd: Path, *args: str, stdin: str | None = None) -> str:
    data = None if stdin is None else stdin.encode()
    return tool(belenios_tool, *args, cwd=cwd, stdin=data).stdout.decode()


def _tool_rc(belenios_tool: str, cwd: Path, *args: str, stdin: str | None = None) -> int:
    data = None if stdin is None else stdin.encode()
    return tool(belenios_tool, *args, cwd=cwd, stdin=data, ok=False).returncode


# ---------------------------------------------------------------------------- (a)


@pytest.mark.parametrize("name", THRESHOLD_REFS)
def test_reference_setup_passes_every_check(reference_dir: Path, name: str) -> None:
    d = reference_dir / name
    s = d / "secrets"
    group = group_by_name(json.loads((d / "setup" / "election.json").read_text())["group"])
    certs = parse_lines(
        (s / "certs.jsons").read_text(), Cert.from_json, Location(file="certs.jsons")
    )
    check_certs(group, certs)
    polys = parse_lines(
        (s / "polynomials.jsons").read_text(),
        Polynomial.from_json,
        Location(file="polynomials.jsons"),
    )
    threshold = check_polynomials(group, certs, polys)
    assert threshold == json.loads((d / "meta.json").read_text())["threshold"]
    # step 4 is deterministic routing: Viche's vinputs equal belenios-tool's files
    for cert, vinput in zip(certs, compute_vinputs(group, certs, polys), strict=True):
        assert _line(vinput.to_json()) == (s / f"{_cert_name(cert)}.vinput").read_text()
    voutputs = parse_lines(
        (s / "voutputs.jsons").read_text(), VOutput.from_json, Location(file="voutputs")
    )
    coefexps = tuple(p.coefexps for p in polys)
    for j, vo in enumerate(voutputs, start=1):
        check_voutput(group, coefexps, vo, j)
    # step 6 is deterministic assembly: Viche's threshold.json equals belenios-tool's
    params = make_threshold_parameters(group, certs, polys, voutputs)
    assert _line(params.to_json()) == (s / "threshold.json").read_text()
    check_threshold_parameters(group, params)
    check_trustees(group, Trustees.from_json(json.loads((d / "setup/trustees.json").read_text())))
    # each trustee's .dkey opens with its .key, and g^x_j is its verification key
    rng = SeededRandom(name)
    for cert, key in zip(certs, params.verification_keys, strict=True):
        seed = (s / f"{_cert_name(cert)}.key").read_text()
        x = decrypt_share(group, seed, (s / f"{_cert_name(cert)}.dkey").read_text())
        assert group.powg(x.value) == key.public_key
        # Viche as trustee re-runs step 5 on belenios-tool's vinput: same share
        vinput = VInput.from_json(loads((s / f"{_cert_name(cert)}.vinput").read_text()))
        mine = make_voutput(group, certs, seed, vinput, rng)
        assert mine.public_key.public_key == key.public_key


@pytest.mark.parametrize("name", THRESHOLD_REFS)
def test_reference_dkey_rejects_wrong_seed(reference_dir: Path, name: str) -> None:
    s = reference_dir / name / "secrets"
    certs = parse_lines(
        (s / "certs.jsons").read_text(), Cert.from_json, Location(file="certs.jsons")
    )
    other_seed = (s / f"{_cert_name(certs[1])}.key").read_text()
    with pytest.raises(Exception, match="cannot decrypt"):
        decrypt_share(BELENIOS_2048, other_seed, (s / f"{_cert_name(certs[0])}.dkey").read_text())


# ---------------------------------------------------------------------------- (b)


def test_mixed_ceremony_viche_and_belenios_tool(
    belenios_tool: str, templates_dir: Path, tmp_path: Path
) -> None:
    """Trustee 1 = Viche, trustees 2 and 3 = belenios-tool, threshold 2, plus a Viche
    Single key; servers on both sides accept each other's messages."""
    group = BELENIOS_2048
    rng = SeededRandom("mixed-ceremony")
    tk = ["setup", "generate-trustee-key-threshold", "--group", group.name]
    # step 1
    our_seed, our_cert = generate_cert(group, rng)
    check_cert(group, our_cert, Location(trustee=1, path=("step 1",)))
    (tmp_path / f"{_cert_name(our_cert)}.cert").write_text(_line(our_cert.to_json()))
    (tmp_path / f"{_cert_name(our_cert)}.key").write_text(our_seed + "\n")
    tool_certs: list[Cert] = []
    for _ in range(2):
        before = set(tmp_path.glob("*.cert"))
        _tool(belenios_tool, tmp_path, *tk, "--step", "1")
        (new,) = set(tmp_path.glob("*.cert")) - before
        tool_certs.append(Cert.from_json(loads(new.read_text()), Location(file=new.name)))
    certs = [our_cert, *tool_certs]
    (tmp_path / "certs.jsons").write_text("".join(_line(c.to_json()) for c in certs))
    # step 2: both servers accept all certs
    _tool(belenios_tool, tmp_path, *tk, "--certs", "certs.jsons", "--step", "2")
    check_certs(group, certs)
    # step 3
    polys = [make_polynomial(group, certs, our_seed, 2, rng)]
    for cert in tool_certs:
        out = _tool(
            belenios_tool, tmp_path, *tk, "--certs", "certs.jsons",
            "--key", f"{_cert_name(cert)}.key", "--step", "3", "--threshold", "2",
        )  # fmt: skip
        polys.append(Polynomial.from_json(loads(out), Location(path=("tool polynomial",))))
    (tmp_path / "polynomials.jsons").write_text("".join(_line(p.to_json()) for p in polys))
    assert check_polynomials(group, certs, polys) == 2
    # step 4: belenios-tool routes; Viche's routing is identical
    _tool(
        belenios_tool, tmp_path, *tk, "--certs", "certs.jsons",
        "--polynomials", "polynomials.jsons", "--step", "4",
    )  # fmt: skip
    vinputs = compute_vinputs(group, certs, polys)
    for cert, vinput in zip(certs, vinputs, strict=True):
        assert (tmp_path / f"{_cert_name(cert)}.vinput").read_text() == _line(vinput.to_json())
    # step 5: Viche for trustee 1, belenios-tool for 2 and 3 (both on the tool's vinputs)
    our_vinput = VInput.from_json(loads((tmp_path / f"{_cert_name(our_cert)}.vinput").read_text()))
    voutputs = [make_voutput(group, certs, our_seed, our_vinput, rng)]
    for cert in tool_certs:
        name = _cert_name(cert)
        out = _tool(
            belenios_tool, tmp_path, *tk, "--certs", "certs.jsons", "--key", f"{name}.key",
            "--step", "5", stdin=(tmp_path / f"{name}.vinput").read_text(),
        )  # fmt: skip
        voutputs.append(VOutput.from_json(loads(out), Location(path=("tool voutput",))))
    coefexps = tuple(p.coefexps for p in polys)
    for j, vo in enumerate(voutputs, start=1):
        check_voutput(group, coefexps, vo, j)
    # step 6: belenios-tool's threshold.json equals Viche's
    voutputs_text = "".join(_line(v.to_json()) for v in voutputs)
    tool_params = _tool(
        belenios_tool, tmp_path, *tk, "--certs", "certs.jsons",
        "--polynomials", "polynomials.jsons", "--step", "6", stdin=voutputs_text,
    )  # fmt: skip
    params = make_threshold_parameters(group, certs, polys, voutputs)
    assert tool_params == _line(params.to_json())
    check_threshold_parameters(group, ThresholdParameters.from_json(loads(tool_params)))
    # every trustee opens its share, whichever side produced it
    for cert, vo, key in zip(certs, voutputs, params.verification_keys, strict=True):
        seed = (tmp_path / f"{_cert_name(cert)}.key").read_text()
        assert group.powg(decrypt_share(group, seed, vo.private_key).value) == key.public_key
    # belenios-tool builds an election from Viche's threshold.json and a Viche Single key
    _, single = generate_trustee_key(group, rng)
    (tmp_path / "threshold.json").write_text(_line(params.to_json()))
    (tmp_path / "public_keys.jsons").write_text(_line(trustee_public_key_to_json(single)))
    _tool(belenios_tool, tmp_path, "setup", "make-trustees", "--dir", ".")
    uuid = _tool(belenios_tool, tmp_path, "setup", "generate-token").strip()
    template = templates_dir / "simple.json"
    _tool(
        belenios_tool, tmp_path, "setup", "make-election", "--dir", ".", "--uuid", uuid,
        "--group", group.name, "--template", str(template),
    )  # fmt: skip
    trustees = Trustees.from_json(loads((tmp_path / "trustees.json").read_text()))
    check_trustees(group, trustees)
    assert [t.trustee_id for t in trustees.flat()] == [1, 2, 3, 4]
    election = json.loads((tmp_path / "election.json").read_text())
    assert mpz(election["public_key"]) == trustees.public_key(group)
    assert trustees.public_key(group) == group.mul(single.public_key, params.public_key(group))


def test_belenios_tool_rejects_a_forged_viche_cert(belenios_tool: str, tmp_path: Path) -> None:
    """Failure twin of step 2 acceptance: the tool does check what we send it."""
    group = BELENIOS_2048
    rng = SeededRandom("forged")
    _, good = generate_cert(group, rng)
    _, other = generate_cert(group, rng)
    forged = Cert(good.message, other.signature, good.keys)
    (tmp_path / "certs.jsons").write_text(_line(good.to_json()) + _line(forged.to_json()))
    rc = _tool_rc(
        belenios_tool, tmp_path, "setup", "generate-trustee-key-threshold",
        "--group", group.name, "--certs", "certs.jsons", "--step", "2",
    )  # fmt: skip
    assert rc != 0


def test_long_channel_message_from_belenios_tool(belenios_tool: str, tmp_path: Path) -> None:
    """A raw polynomial of 830 coefficients is a channel message over 64 KiB, where AES-CCM
    needs a 3-byte length field and a 12-byte nonce: Viche opens belenios-tool's."""
    group = BELENIOS_2048
    rng = SeededRandom("long")
    tk = ["setup", "generate-trustee-key-threshold", "--group", group.name]
    _tool(belenios_tool, tmp_path, *tk, "--step", "1")
    (cert_file,) = tmp_path.glob("*.cert")
    others = [_line(generate_cert(group, rng)[1].to_json()) for _ in range(829)]
    (tmp_path / "certs.jsons").write_text(cert_file.read_text() + "".join(others))
    out = _tool(
        belenios_tool, tmp_path, *tk, "--certs", "certs.jsons",
        "--key", cert_file.with_suffix(".key").name, "--step", "3", "--threshold", "830",
    )  # fmt: skip
    poly = Polynomial.from_json(loads(out), Location(path=("tool polynomial",)))
    keys = derive_keys(group, cert_file.with_suffix(".key").read_text())
    encrypted = EncryptedMsg.parse(poly.polynomial)
    assert len(encrypted.data) // 2 > 65536 + 8
    text = receive(
        group, keys, keys.verification_key, poly.polynomial, Location(path=("polynomial",))
    )
    raw = RawPolynomial.from_json(loads(text))
    assert tuple(group.powg(a) for a in raw.coefficients[:3]) == poly.coefexps.values[:3]
    assert len(raw.coefficients) == 830
    # failure twin: the 13-byte nonce of short messages does not open it
    gs = group.div(encrypted.beta, group.pow(encrypted.alpha, keys.decryption_key))
    aes_key = hashlib.sha256(f"key|{gs}".encode()).digest()
    nonce13 = hashlib.sha256(f"iv|{encrypted.alpha}".encode()).digest()[:13]
    with pytest.raises(ValueError, match="Data too long for nonce"):
        AESCCM(aes_key, tag_length=8).decrypt(nonce13, bytes.fromhex(encrypted.data), None)
    nonce12 = hashlib.sha256(f"iv|{encrypted.alpha}".encode()).digest()[:12]
    assert AESCCM(aes_key, tag_length=8).decrypt(nonce12, bytes.fromhex(encrypted.data), None)


# ---------------------------------------------------------------------------- (c)


def _reference(reference_dir: Path) -> tuple[Path, list[Cert], list[Polynomial], list[VOutput]]:
    s = reference_dir / "threshold-noserver-2of3" / "secrets"
    certs = parse_lines((s / "certs.jsons").read_text(), Cert.from_json, Location(file="certs"))
    polys = parse_lines(
        (s / "polynomials.jsons").read_text(), Polynomial.from_json, Location(file="polys")
    )
    vouts = parse_lines(
        (s / "voutputs.jsons").read_text(), VOutput.from_json, Location(file="voutputs")
    )
    return s, certs, polys, vouts


def _bump(p: Proof) -> Proof:
    return Proof(p.challenge, (p.response + 1) % BELENIOS_2048.q)


def test_tampered_reference_cert_is_rejected(reference_dir: Path) -> None:
    _, certs, polys, vouts = _reference(reference_dir)
    bad = [*certs]
    bad[1] = Cert(certs[1].message, _bump(certs[1].signature), certs[1].keys)
    with pytest.raises(ProofError) as err:
        check_certs(BELENIOS_2048, bad)
    assert err.value.where.trustee == 2 and err.value.where.path[:2] == ("step 2", "cert")
    with pytest.raises(ProofError, match="signature"):
        make_threshold_parameters(BELENIOS_2048, bad, polys, vouts)


def test_tampered_reference_polynomial_is_rejected(reference_dir: Path) -> None:
    _, certs, polys, _ = _reference(reference_dir)
    bad = [*polys]
    c = polys[2].coefexps
    bad[2] = Polynomial(
        polys[2].polynomial, polys[2].secrets, type(c)(c.message, _bump(c.signature), c.values)
    )
    with pytest.raises(ProofError) as err:
        check_polynomials(BELENIOS_2048, certs, bad)
    where = err.value.where
    assert where.trustee == 3 and where.path[:3] == ("step 4", "polynomial", "coefexps")
    # a polynomial signed by another trustee is rejected too
    bad[2] = Polynomial(polys[2].polynomial, polys[2].secrets, polys[0].coefexps)
    with pytest.raises(ProofError):
        compute_vinputs(BELENIOS_2048, certs, bad)
    # a missing secret
    bad[2] = Polynomial(polys[2].polynomial, polys[2].secrets[:2], polys[2].coefexps)
    with pytest.raises(KeyCeremonyError, match="2 secrets for 3 trustees"):
        check_polynomials(BELENIOS_2048, certs, bad)


def test_tampered_vinput_is_rejected_by_the_trustee(reference_dir: Path) -> None:
    s, certs, polys, _ = _reference(reference_dir)
    group = BELENIOS_2048
    rng = SeededRandom("vinput")
    vinputs = compute_vinputs(group, certs, polys)
    seed = (s / f"{_cert_name(certs[1])}.key").read_text()
    sender = derive_keys(group, (s / f"{_cert_name(certs[0])}.key").read_text())
    me = certs[1].keys.encryption

    def with_first_secret(text: str) -> VInput:
        v = vinputs[1]
        return VInput(v.polynomial, (text, *v.secrets[1:]), v.coefexps)

    # the untampered vinput is accepted (success twin)
    make_voutput(group, certs, seed, vinputs[1], rng)
    # trustee 1 sends trustee 2 a share that does not match its coefexps
    wrong = send(group, sender.signing_key, me, dumps(SecretShare(mpz(12345)).to_json()), rng)
    with pytest.raises(KeyCeremonyError) as err:
        make_voutput(group, certs, seed, with_first_secret(wrong), rng)
    assert err.value.where == Location(trustee=2, path=("step 5", "vinput", "secrets[1]"))
    assert "does not match its coefexps" in err.value.message
    # a share signed by someone other than trustee 1
    impostor = derive_keys(group, (s / f"{_cert_name(certs[2])}.key").read_text())
    forged = send(group, impostor.signing_key, me, dumps(SecretShare(mpz(1)).to_json()), rng)
    with pytest.raises(ProofError) as err2:
        make_voutput(group, certs, seed, with_first_secret(forged), rng)
    assert err2.value.where.trustee == 2
    assert err2.value.where.path[:3] == ("step 5", "vinput", "secrets[1]")
    # a share encrypted to trustee 2 but addressed (inside) to trustee 3
    inner = dumps(
        ChannelMsg(certs[2].keys.encryption, dumps(SecretShare(mpz(1)).to_json())).to_json()
    )
    readdressed = encrypt(
        group, me, dumps(sign(group, sender.signing_key, inner, rng).to_json()), rng
    )
    with pytest.raises(KeyCeremonyError, match="another trustee"):
        make_voutput(group, certs, seed, with_first_secret(readdressed.serialize()), rng)
    # the secret meant for trustee 3 cannot even be opened by trustee 2
    with pytest.raises(DecryptionError):
        make_voutput(group, certs, seed, with_first_secret(polys[0].secrets[2]), rng)
    # a vinput whose own polynomial belongs to another trustee
    other = VInput(vinputs[0].polynomial, vinputs[1].secrets, vinputs[1].coefexps)
    with pytest.raises(DecryptionError, match="cannot decrypt"):
        make_voutput(group, certs, seed, other, rng)


def test_tampered_reference_voutput_is_rejected(reference_dir: Path) -> None:
    _, certs, polys, vouts = _reference(reference_dir)
    rng = SeededRandom("voutput")
    coefexps = tuple(p.coefexps for p in polys)
    # trustee 2 submits trustee 3's output
    with pytest.raises(KeyCeremonyError) as err:
        check_voutput(BELENIOS_2048, coefexps, vouts[2], 2)
    assert err.value.where == Location(trustee=2, path=("step 6", "voutput", "public_key"))
    # a right public key with a broken proof of knowledge
    pk = vouts[1].public_key
    broken = VOutput(vouts[1].private_key, type(pk)(pk.public_key, _bump(pk.pok)))
    with pytest.raises(ProofError):
        make_threshold_parameters(BELENIOS_2048, certs, polys, [vouts[0], broken, vouts[2]])
    # a fresh key with a valid proof that is not the share
    _, fresh = generate_trustee_key(BELENIOS_2048, rng)
    with pytest.raises(KeyCeremonyError):
        check_voutput(BELENIOS_2048, coefexps, VOutput(vouts[1].private_key, fresh), 2)
    # seeds still derive the certified keys (sanity of the fixture used above)
    seed = reference_dir / "threshold-noserver-2of3" / "secrets" / f"{_cert_name(certs[0])}.key"
    assert derive_keys(BELENIOS_2048, seed.read_text()).public == certs[0].keys
