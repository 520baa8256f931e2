"""Trustee keys ("Single"), the trustees structure and the election definition.

Files as ``belenios-tool setup`` writes them: ``ID.privkey`` (a JSON string and a newline,
mode 0600), ``ID.pubkey`` (the trustee public key and a newline), ``public_keys.jsons`` (one
public key per line), ``threshold.json`` (the Pedersen parameters of step 6),
``trustees.json`` and ``election.json`` (one compact JSON line and a newline).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from viche.crypto.elgamal import PublicKey
from viche.crypto.group import Group
from viche.crypto.hashing import sha256_hex
from viche.crypto.rng import RandomSource
from viche.crypto.trustee import (
    TrusteePrivateKey,
    TrusteePublicKey,
    check_trustee_public_key,
    generate_trustee_key,
)
from viche.errors import Location, UsageError
from viche.protocol import codec
from viche.protocol.election import Election, ElectionTemplate, check_uuid
from viche.protocol.threshold import check_trustees
from viche.protocol.trustees import (
    PedersenItem,
    SingleItem,
    ThresholdParameters,
    TrusteeItem,
    Trustees,
    private_key_from_file,
    private_key_to_file,
    trustee_public_key_from_json,
    trustee_public_key_to_json,
)
from viche.service.files import read_bytes, read_json, read_json_lines, write_text


@dataclass(frozen=True)
class TrusteeKeyFiles:
    key_id: str
    privkey: Path
    pubkey: Path


def pubkey_line(tpk: TrusteePublicKey) -> str:
    return codec.dumps(trustee_public_key_to_json(tpk))


def write_trustee_key(
    private: TrusteePrivateKey, public: TrusteePublicKey, directory: Path
) -> TrusteeKeyFiles:
    line = pubkey_line(public)
    key_id = sha256_hex(line.encode())[:8].upper()
    priv, pub = directory / f"{key_id}.privkey", directory / f"{key_id}.pubkey"
    for p in (priv, pub):
        if p.exists():
            raise UsageError("refusing to overwrite an existing file", where=Location(file=str(p)))
    write_text(pub, line + "\n")
    write_text(priv, private_key_to_file(private), secret=True)
    return TrusteeKeyFiles(key_id, priv, pub)


def new_trustee_key(group: Group, directory: Path, rng: RandomSource) -> TrusteeKeyFiles:
    """``setup generate-trustee-key``: a Single trustee's key pair, written as two files."""
    private, public = generate_trustee_key(group, rng)
    return write_trustee_key(private, public, directory)


def read_private_key(path: Path) -> TrusteePrivateKey:
    return private_key_from_file(
        read_bytes(path, "trustee private key").strip(), Location(file=str(path))
    )


def read_public_key(path: Path, group: Group) -> TrusteePublicKey:
    tpk = trustee_public_key_from_json(
        read_json(path, "trustee public key"), Location(file=str(path))
    )
    check_trustee_public_key(group, tpk, Location(file=str(path)))
    return tpk


# ---------------------------------------------------------------------- trustees


def build_trustees(
    singles: list[TrusteePublicKey], threshold: ThresholdParameters | None
) -> Trustees:
    items: list[TrusteeItem] = [SingleItem(k) for k in singles]
    if threshold is not None:
        items.append(PedersenItem(threshold))
    if not items:
        raise UsageError("no trustee: give Single public keys or threshold parameters")
    return Trustees(tuple(items))


def make_trustees(directory: Path, group: Group | None = None) -> Path:
    """``setup make-trustees``: ``public_keys.jsons`` (Single keys, may be empty) and the
    optional ``threshold.json`` of ``directory`` become ``trustees.json``."""
    keys_path = directory / "public_keys.jsons"
    singles: list[TrusteePublicKey] = []
    if keys_path.exists():
        for n, v in enumerate(read_json_lines(keys_path, "Single public keys"), start=1):
            tpk = trustee_public_key_from_json(v, Location(file=str(keys_path), line=n))
            if group is not None:
                check_trustee_public_key(group, tpk, Location(file=str(keys_path), line=n))
            singles.append(tpk)
    th_path = directory / "threshold.json"
    threshold = (
        ThresholdParameters.from_json(
            read_json(th_path, "threshold parameters"), Location(file=str(th_path))
        )
        if th_path.exists()
        else None
    )
    if not singles and threshold is None:
        raise UsageError(
            "no trustee: public_keys.jsons and threshold.json are both missing or empty",
            where=Location(file=str(directory)),
        )
    trustees = build_trustees(singles, threshold)
    out = directory / "trustees.json"
    write_text(out, codec.dumps(trustees.to_json()) + "\n")
    return out


def read_trustees(path: Path) -> Trustees:
    return Trustees.from_json(read_json(path, "trustees"), Location(file=str(path)))


# ---------------------------------------------------------------------- election


def make_election(
    group: Group, uuid: str, template: ElectionTemplate, trustees: Trustees
) -> Election:
    """``setup make-election``: the election of ``template`` under the trustees' key, after
    checking every trustee key and proof in ``group`` (keys made for another group, or a
    tampered trustees.json, would give an election nobody can decrypt)."""
    check_uuid(uuid, Location(path=("--uuid",)))
    check_trustees(group, trustees)
    return Election.from_template(template, PublicKey(group, trustees.public_key(group)), uuid)


def read_template(path: Path) -> ElectionTemplate:
    return ElectionTemplate.from_bytes(
        read_bytes(path, "election template").strip(), Location(file=str(path))
    )


def write_election(election: Election, path: Path) -> None:
    write_text(path, election.raw.decode("utf-8") + "\n")


def read_election(path: Path) -> Election:
    return Election.from_bytes(read_bytes(path, "election").strip(), Location(file=str(path)))
