"""The trustees' and the credential authority's part of a served election, over its API.

* ``viche trustee key URL``       Single trustee: a key pair made here, the public key uploaded;
* ``viche trustee ceremony URL``  Pedersen trustee: the step the server says is due (1: cert,
  3: polynomial, 5: voutput), made here, checked here, uploaded; run it again for each step;
* ``viche trustee shuffle URL``   ranked questions: the record downloaded, shuffled here;
* ``viche trustee decrypt URL``   the record downloaded, the partial decryption made here;
* ``viche authority credentials URL``  the roll downloaded, credentials made here, the
  private ones kept in a folder, the public ones uploaded.

Every secret (private key, seed, share, private credential) is made and kept on this
machine, in files of mode 0600 (:mod:`viche.service.files`); only public messages are sent.
The role's secret is read from a file (never an argument, never printed) and sent as a
Bearer token. A message already accepted is not sent again, so a command interrupted or run
twice picks up where it stopped.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from viche.cli.output import err, line, out
from viche.errors import Location, UsageError

if TYPE_CHECKING:
    from viche.crypto.group import Group
    from viche.crypto.rng import RandomSource
    from viche.web.client import RoleClient

trustee_app = typer.Typer(
    name="trustee",
    help="A trustee's part of a served election: key, key ceremony, shuffle, decryption.",
    no_args_is_help=True,
)
authority_app = typer.Typer(
    name="authority",
    help="The credential authority's part of a served election.",
    no_args_is_help=True,
)

UrlArg = Annotated[str, typer.Argument(help="The server, e.g. http://127.0.0.1:8000")]
ElectionOpt = Annotated[str, typer.Option("--election", help="The election's uuid.")]
SecretOpt = Annotated[
    Path,
    typer.Option(
        "--secret-file", help="File holding this role's secret (as the server handed it out)."
    ),
]
TrusteeOpt = Annotated[
    int, typer.Option("--trustee", help="Your trustee number on this election (1-based).")
]
KeyDirOpt = Annotated[
    Path,
    typer.Option("--dir", help="Your trustee folder: keys kept here (secret files are 0600)."),
]


def _client(url: str, election: str, secret_file: Path) -> RoleClient:
    from viche.protocol.election import check_uuid
    from viche.service.files import read_text
    from viche.web.client import RoleClient

    check_uuid(election, Location(path=("--election",)))
    secret = read_text(secret_file, "role secret").strip()
    if not secret or len(secret.split()) != 1:
        raise UsageError(
            "expected the role's secret alone on one line", where=Location(file=str(secret_file))
        )
    return RoleClient(url, election, secret)


def _folder(path: Path) -> Path:
    from viche.service.files import make_dir

    return make_dir(path, "folder")


def _election_folder(path: Path, election: str) -> Path:
    """A role's folder for ``election``: one that holds another election's files (its
    ``election.uuid`` says which) is refused, so that no key or credential is reused across
    elections."""
    from viche.service.files import read_text

    folder = _folder(path)
    marker = folder / "election.uuid"
    if marker.exists():
        found = read_text(marker, "election marker").strip()
        if found != election:
            raise UsageError(
                f"this folder holds the files of election {found}", where=Location(file=str(marker))
            )
    return folder


def _claim(folder: Path, election: str) -> None:
    """Mark ``folder`` as ``election``'s (once the server has answered for that election)."""
    from viche.service.files import write_text

    if not (folder / "election.uuid").exists():
        write_text(folder / "election.uuid", election + "\n")


def _one(directory: Path, pattern: str, what: str) -> Path | None:
    """The one file of ``directory`` matching ``pattern``; None if there is none."""
    found = sorted(directory.glob(pattern))
    if len(found) > 1:
        raise UsageError(
            f"{len(found)} {what} files ({pattern}) in the folder: keep one per election",
            where=Location(file=str(directory)),
        )
    return found[0] if found else None


def _ok(message: str) -> None:
    out.print(line(("ok", "bold green"), f" {message}"))


# ====================================================================== Single trustee


@trustee_app.command("key")
def key_cmd(
    url: UrlArg,
    *,
    election: ElectionOpt,
    secret_file: SecretOpt,
    trustee: TrusteeOpt,
    directory: Annotated[
        Path, typer.Option("--out", help="Folder for ID.privkey (secret) and ID.pubkey.")
    ],
) -> None:
    """Single trustee: make a key pair here (or reuse the one in --out), upload its public key."""
    from viche.crypto.rng import DEFAULT_RANDOM
    from viche.service import setup as svc
    from viche.service.files import read_text

    client = _client(url, election, secret_file)
    try:
        folder = _election_folder(directory, election)
        grp = client.group()
        _claim(folder, election)
        pub = _one(folder, "*.pubkey", "public key")
        if pub is None:
            files = svc.new_trustee_key(grp, folder, DEFAULT_RANDOM)
            pub = files.pubkey
            err.print(f"private key saved to {files.privkey}")
        svc.read_public_key(pub, grp)  # checked here before it leaves
        client.put_trustee_key(trustee, read_text(pub, "trustee public key").strip())
    finally:
        client.close()
    _ok(f"public key {pub.name} uploaded as trustee {trustee}'s")


# ====================================================================== Pedersen ceremony


def _waiting(state: dict[str, object], field: str, step: int) -> str:
    done = state.get(field)
    count = len(done) if isinstance(done, list) else 0
    return f"step {step}: {count} of {state.get('trustees')} trustees are in; run this again later"


@trustee_app.command("ceremony")
def ceremony_cmd(
    url: UrlArg,
    *,
    election: ElectionOpt,
    secret_file: SecretOpt,
    trustee: TrusteeOpt,
    directory: KeyDirOpt,
) -> None:
    """Pedersen trustee: do the step of the key ceremony that is due (1 certificate,
    3 polynomial, 5 voutput), each message checked here before it is uploaded. Run it once
    per step; a step already done is not done again."""
    from viche.crypto.rng import DEFAULT_RANDOM

    client = _client(url, election, secret_file)
    try:
        folder = _election_folder(directory, election)
        grp = client.group()
        _claim(folder, election)
        ceremony_step(client, grp, trustee, folder, DEFAULT_RANDOM)
    finally:
        client.close()


def ceremony_step(
    client: RoleClient, grp: Group, trustee: int, folder: Path, rng: RandomSource
) -> None:
    """Trustee ``trustee``'s due step of the ceremony, its files in ``folder``: what the
    server sends (certs.jsons, the vinput) is checked before it is used, what is uploaded is
    checked before it leaves; nothing is uploaded when the step is done already."""
    from viche.protocol import codec
    from viche.protocol.threshold import check_cert, check_polynomial
    from viche.protocol.trustees import Cert, Polynomial
    from viche.service import threshold as svc
    from viche.service.ceremony import CERTS, DONE, POLYNOMIALS, VOUTPUTS
    from viche.service.files import read_json, write_text

    state = client.ceremony()
    step, threshold = state.get("step"), state.get("threshold")
    trustees = state.get("trustees")
    if not isinstance(trustees, int) or not isinstance(threshold, int):
        raise UsageError("unexpected answer", where=Location(path=("ceremony",)))
    if not 1 <= trustee <= trustees:
        raise UsageError(
            f"the election has {trustees} trustees", where=Location(path=("--trustee",))
        )
    key = _one(folder, "*.key", "trustee seed")
    where = Location(trustee=trustee)
    if step == DONE:
        if _one(folder, "*.dkey", "decryption key") is None:
            raise UsageError(
                "the ceremony is over but this folder holds no decryption key (.dkey)",
                where=Location(file=str(folder)),
            )
        _ok("the key ceremony is over; keep this folder for the decryption")
        return
    if step == CERTS:
        if trustee in _numbers(state, "certs"):
            out.print(_waiting(state, "certs", 1))
            return
        if key is None:
            key, _ = svc.step1(grp, folder, rng)
            err.print(f"seed saved to {key}")
        cert_path = key.with_suffix(".cert")
        cert = Cert.from_json(read_json(cert_path, "certificate"), Location(file=str(cert_path)))
        check_cert(grp, cert, where.sub("step 1", "cert"))
        message, what = codec.dumps(cert.to_json()), "cert"
    elif step in (POLYNOMIALS, VOUTPUTS):
        if key is None:
            raise UsageError(
                "no trustee seed (.key) in this folder: step 1 was done elsewhere",
                where=Location(file=str(folder)),
            )
        field = "polynomials" if step == POLYNOMIALS else "voutputs"
        if trustee in _numbers(state, field):
            out.print(_waiting(state, field, step))
            return
        certs_path = folder / "certs.jsons"
        write_text(certs_path, client.certs_jsons())
        certs = svc.read_certs(certs_path)
        svc.step2(grp, certs_path)  # every certificate, checked here too
        mine = codec.dumps(read_json(key.with_suffix(".cert"), "certificate"))
        if len(certs) != trustees or codec.dumps(certs[trustee - 1].to_json()) != mine:
            raise UsageError(
                f"certificate {trustee} on the server is not the one in this folder",
                where=where.sub("step 2", "certs.jsons"),
            )
        if step == POLYNOMIALS:
            message = svc.step3(grp, certs_path, key, threshold, rng).strip()
            poly = Polynomial.from_json(codec.loads(message), where)
            check_polynomial(grp, certs, poly, trustee, threshold=threshold)
            what = "polynomial"
        else:
            vinput = folder / f"{key.stem}.vinput"
            write_text(vinput, client.vinput(trustee))
            # step 5 checks the vinput (the shares sent to this trustee) before using it
            voutput, dkey = svc.step5(grp, certs_path, key, vinput, rng=rng, directory=folder)
            err.print(f"decryption key saved to {dkey}")
            message, what = voutput.strip(), "voutput"
    else:
        raise UsageError(f"unknown ceremony step {step!r}", where=Location(path=("step",)))
    after = client.put_ceremony_message(trustee, what, message)
    _ok(f"{what} of trustee {trustee} accepted; the ceremony is at step {after.get('step')}")


def _numbers(state: dict[str, object], field: str) -> list[int]:
    found = state.get(field)
    return [n for n in found if isinstance(n, int)] if isinstance(found, list) else []


# ====================================================================== tally


def _download(client: RoleClient, folder: Path) -> Path:
    """The record as served now, alone in FOLDER/record (replacing an older copy)."""
    from viche.service.files import write_bytes

    record = _folder(folder / "record")
    for old in record.glob("*.bel"):
        if old.name != f"{client.uuid}.bel":
            raise UsageError(
                "another election's record is in this folder", where=Location(file=str(old))
            )
    write_bytes(record / f"{client.uuid}.bel", client.archive())
    _claim(folder, client.uuid)
    return record


@trustee_app.command("shuffle")
def shuffle_cmd(
    url: UrlArg,
    *,
    election: ElectionOpt,
    secret_file: SecretOpt,
    trustee: TrusteeOpt,
    directory: KeyDirOpt,
) -> None:
    """Ranked questions: download the record, re-check the shuffles in it, shuffle here,
    upload the shuffle and its proof."""
    from viche.crypto.rng import DEFAULT_RANDOM
    from viche.service import shuffle as svc
    from viche.service.archive import open_record

    client = _client(url, election, secret_file)
    try:
        record = _download(client, _election_folder(directory, election))
        with open_record(record) as state:
            done = [e.height for e in state.record.shuffles if e.owner == trustee]
            if done:  # a re-run: nothing is made or sent anew
                _ok(f"trustee {trustee}'s shuffle is already in the record (event {done[0]})")
                return
            lines = svc.shuffle(state, trustee, DEFAULT_RANDOM)
        owner = client.post_lines(trustee, "shuffle", lines.text())
    finally:
        client.close()
    _ok(f"shuffle of trustee {owner} accepted")


@trustee_app.command("decrypt")
def decrypt_cmd(
    url: UrlArg,
    *,
    election: ElectionOpt,
    secret_file: SecretOpt,
    trustee: TrusteeOpt,
    directory: KeyDirOpt,
) -> None:
    """Download the record, check its encrypted tally, decrypt your part here with the key in
    --dir (ID.privkey, or the ceremony's .key and .dkey), upload the partial decryption."""
    from viche.crypto.rng import DEFAULT_RANDOM
    from viche.service import tally as svc
    from viche.service.archive import open_record

    client = _client(url, election, secret_file)
    try:
        folder = _election_folder(directory, election)
        privkey = _one(folder, "*.privkey", "private key")
        seed, dkey = _one(folder, "*.key", "trustee seed"), _one(folder, "*.dkey", "share")
        if (privkey is None) == (seed is None or dkey is None):
            raise UsageError(
                "expected in the folder either one ID.privkey (Single trustee) or one .key "
                "and one .dkey (key ceremony)",
                where=Location(file=str(folder)),
            )
        record = _download(client, folder)
        with open_record(record) as state:
            done = [e.height for e in state.record.partial_decryptions if e.owner == trustee]
            if done:  # a re-run: nothing is made or sent anew
                _ok(
                    f"trustee {trustee}'s partial decryption is already in the record "
                    f"(event {done[0]})"
                )
                return
            if privkey is not None:
                secret = svc.single_key(privkey)
            else:
                assert seed is not None and dkey is not None
                secret = svc.threshold_key(state.election.group, seed, dkey)
            lines = svc.partial_decryption(state, secret, trustee, DEFAULT_RANDOM)
        owner = client.post_lines(trustee, "decryption", lines.text())
    finally:
        client.close()
    _ok(f"partial decryption of trustee {owner} accepted")


# ====================================================================== credential authority


@authority_app.command("credentials")
def credentials_cmd(
    url: UrlArg,
    *,
    election: ElectionOpt,
    secret_file: SecretOpt,
    directory: Annotated[
        Path,
        typer.Option(
            "--out", help="Folder for T.privcreds (secret: hand each voter hers) and T.pubcreds."
        ),
    ],
) -> None:
    """Credential authority: download the roll, make the credentials here (the private ones
    stay in --out), upload the public ones. Run again, it uploads the same ones."""
    from viche.crypto.rng import DEFAULT_RANDOM
    from viche.service import credentials as svc
    from viche.service.files import read_bytes

    client = _client(url, election, secret_file)
    try:
        folder = _election_folder(directory, election)
        grp = client.group()
        _claim(folder, election)
        pub = _one(folder, "*.pubcreds", "public credentials")
        if pub is None:
            voters = svc.parse_voters(client.voters(), Location(file=f"{url} voters"))
            creds = svc.generate_credentials(grp, election, voters, DEFAULT_RANDOM)
            files = svc.write_credentials(creds, folder)
            pub = files.pubcreds
            err.print(f"{files.count} private credentials saved to {files.privcreds}")
        svc.read_public_credentials(pub)  # well-formed before it leaves
        count = client.put_credentials(read_bytes(pub, "public credentials"))
    finally:
        client.close()
    _ok(f"{count} public credentials uploaded from {pub}")


def register(app: typer.Typer) -> None:
    app.add_typer(trustee_app)
    app.add_typer(authority_app)
