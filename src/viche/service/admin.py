"""Setting an election up on the bulletin board, role by role, then running it.

An election is first a draft (its state a JSON document on the board, no secret in it):

1. the administrator creates it from a template (:func:`create_draft`), receiving the
   secrets of the administrator, the credential authority and each (Single) trustee —
   shown once, stored only as hashes;
2. the administrator imports the voter roll (:func:`import_roll`: ``address,login,weight``
   lines; every bad line is reported, nothing is stored unless all are good), receiving each
   voter's login secret for the post office;
3. the credential authority reads the roll, runs ``viche setup generate-credentials`` on its
   own machine and uploads ``T.pubcreds`` — public credentials only
   (:func:`upload_credentials`);
4. each trustee uploads her public key with its proof (:func:`upload_trustee_key`);
5. the administrator opens the vote (:func:`open_draft`): the Setup event is written and the
   draft is gone. Then :mod:`viche.service.cast`, and :mod:`viche.service.tally` to close,
   decrypt and publish the result.

A write in the wrong phase is a :class:`~viche.errors.PhaseError`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from viche.crypto.group import group_by_name
from viche.crypto.rng import RandomSource
from viche.crypto.trustee import check_trustee_public_key
from viche.errors import (
    BadRowsError,
    Location,
    NotFoundError,
    PhaseError,
    ProtocolError,
    RoleSecretError,
    UnknownElectionError,
    VicheError,
)
from viche.protocol import codec
from viche.protocol.election import ElectionTemplate
from viche.protocol.trustees import ThresholdParameters, trustee_public_key_from_json
from viche.record.sql import SqlBoard, SqlElectionStore
from viche.record.sql.accounts import (
    delete_draft,
    draft,
    put_draft,
    replace_draft,
    secret_hash,
    set_secret,
)
from viche.service.credentials import check_voters, parse_public_credentials
from viche.service.hosting import RollEntry, open_election
from viche.service.secrets import check_secret, hash_login_secret, hash_secret, new_secret
from viche.service.setup import build_trustees, make_election
from viche.service.tokens import generate_token

SERVER = "*"  # the "election" of server-wide secrets
SERVER_ADMIN = "server-admin"
ADMIN = "administrator"
AUTHORITY = "credential-authority"
MAX_TRUSTEES = 20
#: bad rows of a voter roll listed in the answer (as the voter registry's import)
MAX_LISTED_ROWS = 100
T = TypeVar("T")


def trustee_role(n: int) -> str:
    return f"trustee-{n}"


# ---------------------------------------------------------------------- secrets


def authorize(board: SqlBoard, uuid: str, role: str, secret: str | None) -> None:
    """Check the secret of ``role`` for election ``uuid`` (constant time)."""
    stored = secret_hash(board, uuid, role)
    if secret is None or not check_secret(stored, secret):
        raise RoleSecretError(
            f"the {role}'s secret is required", where=Location(path=("authorization",))
        )


def ensure_server_admin(board: SqlBoard, path: Path) -> bool:
    """The server administrator's secret, kept in ``path`` (0600; created on first use), its
    hash put on the board. Returns whether it was created."""
    from viche.service.files import read_text, write_text

    created = not path.exists()
    if created:
        write_text(path, new_secret() + "\n", secret=True)
    secret = read_text(path, "server administrator secret").strip()
    set_secret(board, SERVER, SERVER_ADMIN, hash_secret(secret))
    return created


# ---------------------------------------------------------------------- the draft


@dataclass
class Draft:
    uuid: str
    template: codec.JsonObject
    group: str
    trustees: int
    roll: list[dict[str, object]] = field(default_factory=list)
    keys: dict[str, str] = field(default_factory=dict)  # trustee number -> public key JSON
    pubcreds: str | None = None
    #: the Pedersen ceremony (:mod:`viche.service.ceremony`): trustees needed to decrypt, and
    #: each step's messages as uploaded (trustee number -> line), the vinputs of step 4 and
    #: the threshold parameters of step 6. ``None``: Single trustees.
    threshold: int | None = None
    certs: dict[str, str] = field(default_factory=dict)
    polynomials: dict[str, str] = field(default_factory=dict)
    vinputs: list[str] = field(default_factory=list)
    voutputs: dict[str, str] = field(default_factory=dict)
    parameters: str | None = None

    def to_bytes(self) -> bytes:
        return codec.to_bytes(
            {
                "uuid": self.uuid,
                "template": self.template,
                "group": self.group,
                "trustees": self.trustees,
                "roll": self.roll,
                "keys": self.keys,
                "pubcreds": self.pubcreds,
                "threshold": self.threshold,
                "certs": self.certs,
                "polynomials": self.polynomials,
                "vinputs": self.vinputs,
                "voutputs": self.voutputs,
                "parameters": self.parameters,
            }
        )

    @classmethod
    def from_bytes(cls, raw: bytes) -> Draft:
        obj = codec.loads(raw, Location(path=("draft",)))
        return cls(
            obj["uuid"],
            obj["template"],
            obj["group"],
            obj["trustees"],
            obj["roll"],
            obj["keys"],
            obj["pubcreds"],
            obj.get("threshold"),
            obj.get("certs", {}),
            obj.get("polynomials", {}),
            obj.get("vinputs", []),
            obj.get("voutputs", {}),
            obj.get("parameters"),
        )

    def voter_lines(self) -> str:
        out = []
        for v in self.roll:
            line = f"{v['address']},{v['login']}"
            if v.get("weight") is not None:
                line += f",{v['weight']}"
            out.append(line + "\n")
        return "".join(out)


def _raw_draft(board: SqlBoard, uuid: str) -> bytes:
    raw = draft(board, uuid)
    if raw is not None:
        return raw
    try:
        board.store(uuid)
    except UnknownElectionError:
        raise NotFoundError("no such election", where=Location(member=uuid)) from None
    raise PhaseError(
        "the election is already open: its setup cannot change", where=Location(member=uuid)
    )


def load_draft(board: SqlBoard, uuid: str) -> Draft:
    """The draft of ``uuid``; :class:`PhaseError` when the election is already open."""
    return Draft.from_bytes(_raw_draft(board, uuid))


def change_draft(board: SqlBoard, uuid: str, change: Callable[[Draft], T]) -> T:
    """Apply ``change`` to the draft and store it, atomically: when another write came
    between the read and the write, read again and apply ``change`` again (it raises to
    refuse; nothing is stored then)."""
    while True:
        raw = _raw_draft(board, uuid)
        d = Draft.from_bytes(raw)
        answer = change(d)
        if replace_draft(board, uuid, raw, d.to_bytes()):
            return answer


@dataclass(frozen=True)
class Created:
    uuid: str
    administrator: str = field(repr=False)
    credential_authority: str = field(repr=False)
    trustees: list[str] = field(repr=False)


def create_draft(
    board: SqlBoard,
    template_json: object,
    rng: RandomSource,
    *,
    group: str,
    trustees: int,
    threshold: int | None = None,
) -> Created:
    """A new election from ``template_json`` with ``trustees`` Single trustees, or with
    ``trustees`` threshold trustees of whom ``threshold`` are needed to decrypt."""
    where = Location(path=("template",))
    template = ElectionTemplate.from_json(template_json, where)
    grp = group_by_name(group)
    template.check_group(grp, where)
    if not 1 <= trustees <= MAX_TRUSTEES:
        raise ProtocolError(
            f"between 1 and {MAX_TRUSTEES} trustees, got {trustees}",
            where=Location(path=("trustees",)),
        )
    if threshold is not None and not 1 <= threshold <= trustees:
        raise ProtocolError(
            f"the threshold must be between 1 and {trustees}, got {threshold}",
            where=Location(path=("threshold",)),
        )
    uuid = generate_token(rng)
    assert isinstance(template_json, dict)  # ElectionTemplate.from_json checked it
    d = Draft(uuid, template_json, grp.name, trustees, threshold=threshold)
    put_draft(board, uuid, d.to_bytes(), new=True)
    secrets = {ADMIN: new_secret(), AUTHORITY: new_secret()}
    secrets.update({trustee_role(n): new_secret() for n in range(1, trustees + 1)})
    for role, secret in secrets.items():
        set_secret(board, uuid, role, hash_secret(secret))
    return Created(
        uuid,
        secrets[ADMIN],
        secrets[AUTHORITY],
        [secrets[trustee_role(n)] for n in range(1, trustees + 1)],
    )


def import_roll(board: SqlBoard, uuid: str, text: str) -> dict[str, str]:
    """The voter roll; returns each voter's login secret (for the post office, shown once)."""
    template = ElectionTemplate.from_json(load_draft(board, uuid).template)
    voters, errors = check_voters(
        text,
        Location(path=("voters",)),
        weights=not template.has_nh_questions,
        basic_auth=True,
    )
    if errors:
        rows: list[VicheError] = list(errors[:MAX_LISTED_ROWS])
        shown = f" (the first {len(rows)} listed)" if len(errors) > len(rows) else ""
        raise BadRowsError(
            f"{len(errors)} bad row(s) in the voter roll{shown}; nothing was stored",
            rows,
            where=Location(path=("voters",)),
        )
    secrets = {v.id: new_secret() for v in voters}
    roll: list[dict[str, object]] = [
        {
            "address": v.address,
            "login": v.id,
            "weight": v.weight,
            "secret_hash": hash_login_secret(secrets[v.id]),
        }
        for v in voters
    ]

    def change(d: Draft) -> None:
        if d.pubcreds is not None:
            raise PhaseError(
                "the credentials were issued for the current roll: it can no longer change",
                where=Location(member=uuid),
            )
        d.roll = roll

    change_draft(board, uuid, change)
    return secrets


def upload_credentials(board: SqlBoard, uuid: str, raw: bytes) -> int:
    """The credential authority's ``T.pubcreds`` (ids = the roll's logins, same weights)."""
    change_draft(board, uuid, lambda d: _store_credentials(d, raw))
    return len(parse_public_credentials(raw, Location(path=("credentials",)))[0])


def _store_credentials(d: Draft, raw: bytes) -> None:
    if not d.roll:
        raise PhaseError("import the voter roll first", where=Location(member=d.uuid))
    where = Location(path=("credentials",))
    credentials, ids = parse_public_credentials(raw, where)
    if ids is None:
        raise ProtocolError(
            'expected T.pubcreds ("pub,weight,id" entries, as generate-credentials writes)',
            where=where,
        )
    credentials.check_members(group_by_name(d.group), where)
    roll = {str(v["login"]): v for v in d.roll}
    if sorted(ids) != sorted(roll):
        missing = sorted(set(roll) - set(ids))
        extra = sorted(set(ids) - set(roll))
        raise ProtocolError(
            "the credentials are not those of the roll: "
            + (f"no credential for {missing[0]!r}" if missing else f"{extra[0]!r} is not a voter"),
            where=where,
        )
    for ident, entry in zip(ids, credentials.entries, strict=True):
        expected = roll[ident].get("weight")
        if credentials.weighted and entry.effective_weight != (expected or 1):
            raise ProtocolError(f"voter {ident!r} has another weight on the roll", where=where)
    d.pubcreds = raw.decode()


def upload_trustee_key(board: SqlBoard, uuid: str, n: int, raw: bytes) -> None:
    """Trustee ``n``'s public key with its proof of knowledge (checked)."""
    where = Location(trustee=n)
    d = load_draft(board, uuid)
    check_trustee_number(d, n)
    if d.threshold is not None:
        raise PhaseError(
            "this election's trustees hold threshold keys: take part in the key ceremony",
            where=where,
        )
    tpk = trustee_public_key_from_json(codec.loads(raw, where), where)
    check_trustee_public_key(group_by_name(d.group), tpk, where)

    def change(d: Draft) -> None:
        d.keys[str(n)] = raw.decode().strip()

    change_draft(board, uuid, change)


def check_trustee_number(d: Draft, n: int) -> None:
    if not 1 <= n <= d.trustees:
        raise NotFoundError(f"the election has {d.trustees} trustee(s)", where=Location(trustee=n))


def open_draft(board: SqlBoard, keys_dir: Path, uuid: str) -> SqlElectionStore:
    """Write the Setup event: every trustee key and the credentials must be in."""
    d = load_draft(board, uuid)
    missing = [n for n in range(1, d.trustees + 1) if str(n) not in d.keys]
    if d.threshold is not None and d.parameters is None:
        raise PhaseError("the trustees' key ceremony is not over", where=Location(member=uuid))
    if d.threshold is None and missing:
        raise PhaseError(
            f"trustee {missing[0]} has not uploaded a key", where=Location(member=uuid)
        )
    if d.pubcreds is None:
        raise PhaseError(
            "the credential authority has not uploaded the credentials", where=Location(member=uuid)
        )
    group = group_by_name(d.group)
    singles = [
        trustee_public_key_from_json(
            codec.loads(d.keys[str(n)], Location(trustee=n)), Location(trustee=n)
        )
        for n in range(1, d.trustees + 1)
        if d.threshold is None
    ]
    parameters = (
        None
        if d.parameters is None
        else ThresholdParameters.from_json(
            codec.loads(d.parameters, Location(path=("threshold_parameters",)))
        )
    )
    trustees = build_trustees(singles, parameters)
    template = ElectionTemplate.from_json(d.template, Location(path=("template",)))
    election = make_election(group, uuid, template, trustees)
    credentials, ids = parse_public_credentials(
        d.pubcreds.encode(), Location(path=("credentials",))
    )
    assert ids is not None
    roll = {
        str(v["login"]): RollEntry(
            str(v["login"]),
            str(v["address"]),
            str(v["secret_hash"]) if v.get("secret_hash") else None,
        )
        for v in d.roll
    }
    store = open_election(
        board,
        keys_dir,
        election=election,
        trustees=trustees,
        credentials=credentials,
        ids=ids,
        roll=roll,
    )
    delete_draft(board, uuid)
    return store
