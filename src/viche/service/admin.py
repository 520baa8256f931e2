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

from dataclasses import dataclass, field
from pathlib import Path

from viche.crypto.group import group_by_name
from viche.crypto.rng import RandomSource
from viche.crypto.trustee import check_trustee_public_key
from viche.errors import (
    AuthenticationError,
    BadRowsError,
    Location,
    NotFoundError,
    PhaseError,
    ProtocolError,
    UnknownElectionError,
    VicheError,
)
from viche.protocol import codec
from viche.protocol.election import ElectionTemplate
from viche.protocol.trustees import trustee_public_key_from_json
from viche.record.sql import SqlBoard, SqlElectionStore
from viche.record.sql.accounts import delete_draft, draft, put_draft, secret_hash, set_secret
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


def trustee_role(n: int) -> str:
    return f"trustee-{n}"


# ---------------------------------------------------------------------- secrets


def authorize(board: SqlBoard, uuid: str, role: str, secret: str | None) -> None:
    """Check the secret of ``role`` for election ``uuid`` (constant time)."""
    stored = secret_hash(board, uuid, role)
    if secret is None or not check_secret(stored, secret):
        raise AuthenticationError(
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
        )

    def voter_lines(self) -> str:
        out = []
        for v in self.roll:
            line = f"{v['address']},{v['login']}"
            if v.get("weight") is not None:
                line += f",{v['weight']}"
            out.append(line + "\n")
        return "".join(out)


def load_draft(board: SqlBoard, uuid: str) -> Draft:
    """The draft of ``uuid``; :class:`PhaseError` when the election is already open."""
    raw = draft(board, uuid)
    if raw is not None:
        return Draft.from_bytes(raw)
    try:
        board.store(uuid)
    except UnknownElectionError:
        raise NotFoundError("no such election", where=Location(member=uuid)) from None
    raise PhaseError(
        "the election is already open: its setup cannot change", where=Location(member=uuid)
    )


@dataclass(frozen=True)
class Created:
    uuid: str
    administrator: str = field(repr=False)
    credential_authority: str = field(repr=False)
    trustees: list[str] = field(repr=False)


def create_draft(
    board: SqlBoard, template_json: object, rng: RandomSource, *, group: str, trustees: int
) -> Created:
    """A new election from ``template_json`` with ``trustees`` Single trustees."""
    ElectionTemplate.from_json(template_json, Location(path=("template",)))
    grp = group_by_name(group)
    if not 1 <= trustees <= MAX_TRUSTEES:
        raise ProtocolError(
            f"between 1 and {MAX_TRUSTEES} trustees, got {trustees}",
            where=Location(path=("trustees",)),
        )
    uuid = generate_token(rng)
    assert isinstance(template_json, dict)  # ElectionTemplate.from_json checked it
    d = Draft(uuid, template_json, grp.name, trustees)
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
    d = load_draft(board, uuid)
    if d.pubcreds is not None:
        raise PhaseError(
            "the credentials were issued for the current roll: it can no longer change",
            where=Location(member=uuid),
        )
    voters, errors = check_voters(text, Location(path=("voters",)))
    if errors:
        rows: list[VicheError] = list(errors)
        raise BadRowsError(
            f"{len(errors)} bad row(s) in the voter roll; nothing was stored",
            rows,
            where=Location(path=("voters",)),
        )
    secrets = {v.id: new_secret() for v in voters}
    d.roll = [
        {
            "address": v.address,
            "login": v.id,
            "weight": v.weight,
            "secret_hash": hash_login_secret(secrets[v.id]),
        }
        for v in voters
    ]
    put_draft(board, uuid, d.to_bytes())
    return secrets


def upload_credentials(board: SqlBoard, uuid: str, raw: bytes) -> int:
    """The credential authority's ``T.pubcreds`` (ids = the roll's logins, same weights)."""
    d = load_draft(board, uuid)
    if not d.roll:
        raise PhaseError("import the voter roll first", where=Location(member=uuid))
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
    put_draft(board, uuid, d.to_bytes())
    return len(credentials)


def upload_trustee_key(board: SqlBoard, uuid: str, n: int, raw: bytes) -> None:
    """Trustee ``n``'s public key with its proof of knowledge (checked)."""
    d = load_draft(board, uuid)
    where = Location(trustee=n)
    if not 1 <= n <= d.trustees:
        raise NotFoundError(f"the election has {d.trustees} trustee(s)", where=where)
    tpk = trustee_public_key_from_json(codec.loads(raw, where), where)
    check_trustee_public_key(group_by_name(d.group), tpk, where)
    d.keys[str(n)] = raw.decode().strip()
    put_draft(board, uuid, d.to_bytes())


def open_draft(board: SqlBoard, keys_dir: Path, uuid: str) -> SqlElectionStore:
    """Write the Setup event: every trustee key and the credentials must be in."""
    d = load_draft(board, uuid)
    missing = [n for n in range(1, d.trustees + 1) if str(n) not in d.keys]
    if missing:
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
    ]
    trustees = build_trustees(singles, None)
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
