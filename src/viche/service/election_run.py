"""A complete election, every role played in one process, through the same use cases as the
command line: credential authority, trustees (Single keys and/or a Pedersen t-of-n
ceremony), administrator, voters, tally, partial decryptions, result.

Each role keeps its files in its own directory, in ``belenios-tool``'s formats::

    DIR/credential-authority/   T.privcreds, T.pubcreds
    DIR/trustees/               ID.privkey/ID.pubkey, NAME.key/.cert/.dkey, threshold.json
    DIR/administrator/          public_keys.jsons, trustees.json, election.json, template.json
    DIR/voters/                 NNN.cred, NNN-K.choices.json, NNN-K.ballot.json
    DIR/trustees/decryptions/   ID.partial (two lines each)
    DIR/archive/<uuid>.bel      the public record

Used by ``viche demo`` and by the tests (:mod:`viche.testing.factories`).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from viche.crypto.group import Group
from viche.crypto.rng import RandomSource
from viche.errors import Location, UsageError
from viche.protocol import codec
from viche.protocol.election import Election, ElectionTemplate, HomomorphicQuestion
from viche.service import archive as arch
from viche.service import ballot as ballots
from viche.service import credentials as creds
from viche.service import setup, tally
from viche.service import shuffle as mixnet
from viche.service import threshold as pedersen
from viche.service.cast import cast_ballot
from viche.service.files import write_text
from viche.service.tokens import generate_token

#: ``progress(stage, done, total)``
Progress = Callable[[str, int, int], None]
#: ``say(message)``: one line about what a role just did
Say = Callable[[str], None]


class Stop(enum.Enum):
    """How far to run the election."""

    SETUP = "setup"
    BALLOTS = "ballots"
    CLOSED = "closed"
    DECRYPTED = "decrypted"
    RESULT = "result"


@dataclass(frozen=True)
class Vote:
    """Voter ``voter`` (0-based) casts ``choices`` (one list per question, belenios-tool's
    ``--ballot`` convention)."""

    voter: int
    choices: list[list[int]]


@dataclass(frozen=True)
class ElectionPlan:
    template: ElectionTemplate
    group: Group
    voters: list[creds.Voter]
    votes: list[Vote]
    singles: int = 1
    threshold: tuple[int, int] | None = None  # (needed, trustees)
    #: trustee ids (1-based, flattened) that decrypt; None: every Single trustee and the
    #: first ``needed`` Pedersen trustees
    decrypting: Sequence[int] | None = None
    stop: Stop = Stop.RESULT


@dataclass
class ElectionRun:
    directory: Path
    uuid: str
    election: Election
    archive: Path
    private_credentials: list[str] = field(repr=False)
    single_keys: list[Path] = field(default_factory=list)
    pedersen_keys: list[tuple[Path, Path]] = field(default_factory=list)
    ballot_files: list[Path] = field(default_factory=list)
    decryption_files: list[Path] = field(default_factory=list)
    result: list[tally.QuestionResult] | None = None

    def expected(self, plan: ElectionPlan) -> list[list[int]]:
        return expected_result(self.election, plan)


def expected_result(election: Election, plan: ElectionPlan) -> list[list[int]]:
    """The result the plaintext votes give: last vote per voter, weighted, blank first."""
    last: dict[int, Vote] = {}
    for v in plan.votes:
        last.pop(v.voter, None)
        last[v.voter] = v
    rows: list[list[int]] = []
    for qi, q in enumerate(election.questions):
        if not isinstance(q, HomomorphicQuestion):
            raise UsageError("expected results are computed for homomorphic questions only")
        row = [0] * q.n_choices
        for v in last.values():
            w = plan.voters[v.voter].weight or 1
            for j, x in enumerate(v.choices[qi]):
                row[j] += w * x
        rows.append(row)
    return rows


def _nothing(*_: object) -> None:
    return None


def run_election(
    directory: Path,
    plan: ElectionPlan,
    rng: RandomSource,
    *,
    say: Say = _nothing,
    progress: Progress = _nothing,
) -> ElectionRun:
    """Play every role of ``plan`` in ``directory`` (created; must be empty)."""
    with ExitStack() as stack:
        return _run(directory, plan, rng=rng, say=say, progress=progress, stack=stack)


def _run(
    directory: Path,
    plan: ElectionPlan,
    *,
    rng: RandomSource,
    say: Say,
    progress: Progress,
    stack: ExitStack,
) -> ElectionRun:
    """:func:`run_election`; the archive's store is closed by ``stack``."""
    where = Location(file=str(directory))
    if directory.exists() and not directory.is_dir():
        raise UsageError("the demo directory is not a directory", where=where)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        empty = not any(directory.iterdir())
    except OSError as exc:
        raise UsageError(f"cannot use the demo directory: {exc.strerror}", where=where) from None
    if not empty:
        raise UsageError("the demo directory must be empty", where=where)
    ca, tr, adm, vot, pub = (
        directory / n
        for n in ("credential-authority", "trustees", "administrator", "voters", "archive")
    )
    for d in (ca, tr, adm, vot, pub):
        d.mkdir()
    group = plan.group

    # ---------------------------------------------------------------- administrator: uuid
    uuid = generate_token(rng)
    say(f"administrator: new election {uuid}")

    # ---------------------------------------------------------------- credential authority
    def cred_progress(done: int) -> None:
        progress("credentials", done, len(plan.voters))

    cset = creds.generate_credentials(group, uuid, plan.voters, rng, progress=cred_progress)
    files = creds.write_credentials(cset, ca)
    say(f"credential authority: {files.count} credentials, public fingerprint {files.fingerprint}")

    # ---------------------------------------------------------------- trustees
    single_keys: list[Path] = []
    pedersen_keys: list[tuple[Path, Path]] = []
    keys_lines = []
    for _ in range(plan.singles):
        key_files = setup.new_trustee_key(group, tr, rng)
        single_keys.append(key_files.privkey)
        keys_lines.append(key_files.pubkey.read_text())
    write_text(adm / "public_keys.jsons", "".join(keys_lines))
    if plan.singles:
        say(f"trustees: {plan.singles} Single key(s) generated")
    if plan.threshold is not None:
        needed, n = plan.threshold
        pedersen_keys = pedersen.run_ceremony(group, n, needed, tr / "pedersen", rng)
        write_text(adm / "threshold.json", (tr / "pedersen" / "threshold.json").read_text())
        say(f"trustees: Pedersen ceremony done, {needed} of {n} trustees needed to decrypt")

    # ---------------------------------------------------------------- administrator
    trustees = setup.read_trustees(setup.make_trustees(adm, group))
    write_text(adm / "template.json", codec.dumps(_template_json(plan.template)) + "\n")
    election = setup.make_election(group, uuid, plan.template, trustees)
    setup.write_election(election, adm / "election.json")
    store = stack.enter_context(
        arch.init_archive(pub, adm / "election.json", adm / "trustees.json", files.pubcreds)
    )
    state = arch.ElectionRecord(store)
    run = ElectionRun(
        directory,
        uuid,
        election,
        store.path,
        list(cset.private),
        single_keys=single_keys,
        pedersen_keys=pedersen_keys,
    )
    say(f"administrator: archive {run.archive.name} opened (fingerprint {election.fingerprint})")
    if plan.stop is Stop.SETUP:
        return run

    # ---------------------------------------------------------------- voters
    for n, cred in enumerate(cset.private, start=1):
        write_text(vot / f"{n:03d}.cred", cred + "\n", secret=True)
    revotes = 0
    seen: set[int] = set()
    for count, vote in enumerate(plan.votes, start=1):
        cred = creds.read_private_credential(vot / f"{vote.voter + 1:03d}.cred")
        made = ballots.generate_ballot(state.election, state.credentials, cred, vote.choices, rng)
        bfile = vot / f"{vote.voter + 1:03d}-{count}.ballot.json"
        write_text(bfile, made.raw.decode() + "\n")
        write_text(  # the plaintext vote: as secret as the credential
            vot / f"{vote.voter + 1:03d}-{count}.choices.json",
            codec.dumps(vote.choices) + "\n",
            secret=True,
        )
        run.ballot_files.append(bfile)
        cast_ballot(state, arch.ballot_from_file(bfile))
        revotes += vote.voter in seen
        seen.add(vote.voter)
        progress("ballots", count, len(plan.votes))
    say(
        f"voters: {len(plan.votes)} ballots cast by {len(seen)} voters "
        f"({revotes} re-vote(s)), each checked and appended"
    )
    if plan.stop is Stop.BALLOTS:
        return run

    # ---------------------------------------------------------------- close
    def close_progress(done: int) -> None:
        progress("tally", done, len(plan.votes))

    closed = tally.close(state, progress=close_progress)
    say(
        f"administrator: vote closed, {closed.num_tallied} ballots counted, encrypted tally "
        "published"
    )
    if plan.stop is Stop.CLOSED:
        return run

    # ---------------------------------------------------------------- trustees decrypt
    flat = trustees.flat()
    n_single = plan.singles
    if plan.decrypting is None:
        decrypting = list(range(1, n_single + 1))
        if plan.threshold is not None:
            decrypting += list(range(n_single + 1, n_single + 1 + plan.threshold[0]))
    else:
        decrypting = list(plan.decrypting)
    if election.has_nh_questions:  # ranked or graded questions: each trustee shuffles first
        for tid in decrypting:
            mixed = mixnet.shuffle(state, tid, rng)
            f = tr / f"{tid}.shuffle"
            write_text(f, mixed.text())
            mixnet.add_shuffle(state, mixnet.read_shuffle_lines(f))
        mixnet.end_shuffles(state)
        say(f"trustees: {len(decrypting)} shuffle(s) of the non-homomorphic questions")
    out = tr / "decryptions"
    out.mkdir()
    for tid in decrypting:
        t = flat[tid - 1]
        if t.index == 0:
            secret = tally.single_key(run.single_keys[tid - 1])
        else:
            key, dkey = run.pedersen_keys[t.index - 1]
            secret = tally.threshold_key(group, key, dkey)
        lines = tally.partial_decryption(state, secret, tid, rng)
        f = out / f"{tid}.partial"
        write_text(f, lines.text())
        run.decryption_files.append(f)
        tally.add_decryption(state, tally.read_decryption_lines(f))
    absent = [t.trustee_id for t in flat if t.trustee_id not in decrypting]
    say(
        f"trustees: partial decryptions by trustee(s) {', '.join(map(str, decrypting))}"
        + (f" (absent: {', '.join(map(str, absent))})" if absent else "")
    )
    if plan.stop is Stop.DECRYPTED:
        return run

    # ---------------------------------------------------------------- result
    _, rows = tally.publish_result(state)
    run.result = rows
    say("administrator: result computed from the partial decryptions and published")
    return run


def _template_json(t: ElectionTemplate) -> codec.JsonObject:
    out: codec.JsonObject = {
        "description": t.description,
        "name": t.name,
        "questions": [q.to_json() for q in t.questions],
    }
    if t.administrator is not None:
        out["administrator"] = t.administrator
    if t.credential_authority is not None:
        out["credential_authority"] = t.credential_authority
    return out


# ---------------------------------------------------------------------- random votes


def random_choices(
    election_or_template: Election | ElectionTemplate, rng: RandomSource, *, blank: bool = False
) -> list[list[int]]:
    """A valid random vote (a blank vote on questions that allow it when ``blank``)."""
    rows: list[list[int]] = []
    for q in election_or_template.questions:
        if not isinstance(q, HomomorphicQuestion):
            raise UsageError("random votes are made for homomorphic questions only")
        n = len(q.answers)
        if blank and q.blank:
            rows.append([1] + [0] * n)
            continue
        k = q.min + rng.randbelow(q.max - q.min + 1)
        picked: set[int] = set()
        while len(picked) < k:
            picked.add(rng.randbelow(n))
        row = [1 if i in picked else 0 for i in range(n)]
        rows.append(([0, *row]) if q.blank else row)
    return rows
