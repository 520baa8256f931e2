"""Election commands, one per role and step, mirroring ``belenios-tool``'s workflow.

* ``viche setup ...``   credential authority, trustees and administrator before the vote;
* ``viche archive ...`` the public archive: create it, add ballots, close the vote;
* ``viche ballot ...``  a voter's ballot;
* ``viche tally ...``   partial decryptions by the trustees and the result;
* ``viche demo``        a complete election, every role played, verified at the end.

Each command parses its arguments, calls :mod:`viche.service` and prints; errors are
:class:`~viche.errors.VicheError` that :func:`viche.cli.main.main` turns into one line and
exit code 2. File formats are those of ``belenios-tool``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from viche.cli.output import err, line, out, styled
from viche.cli.progress import progress as stage_progress
from viche.cli.progress import progress_bar
from viche.errors import Location

if TYPE_CHECKING:
    from viche.crypto.rng import RandomSource

setup_app = typer.Typer(
    name="setup",
    help="Before the vote: election token, credentials, trustee keys, election definition.",
    no_args_is_help=True,
)
archive_app = typer.Typer(
    name="archive",
    help="The public archive (.bel): create it, add ballots, close the vote.",
    no_args_is_help=True,
)
ballot_app = typer.Typer(name="ballot", help="A voter's ballot.", no_args_is_help=True)
tally_app = typer.Typer(
    name="tally", help="After the vote: partial decryptions and the result.", no_args_is_help=True
)

GroupOpt = Annotated[str, typer.Option("--group", help="Group: BELENIOS-2048 or RFC-3526-2048.")]
# readable=False: an unreadable archive is reported by the record layer (StorageError).
DirOpt = Annotated[
    Path,
    typer.Option(
        "--dir", readable=False, help="Election directory (holds exactly one .bel archive)."
    ),
]
#: Where an unknown group name comes from.
_GROUP_OPTION = Location(path=("--group",))

OutDirOpt = Annotated[Path, typer.Option("--dir", help="Directory where the files are written.")]


def random_source(seed: str | None) -> RandomSource:
    """The randomness of a command: the system's, or seeded (with a warning) for tests."""
    from viche.crypto.rng import DEFAULT_RANDOM, SeededRandom

    if seed is None:
        return DEFAULT_RANDOM
    err.print(
        line(
            ("warning", "yellow"),
            " seeded randomness: every secret can be recomputed from the seed",
        )
    )
    return SeededRandom(seed)


# ====================================================================== setup


@setup_app.command("generate-token")
def generate_token_cmd(
    length: Annotated[int, typer.Option("--length", help="Number of base58 characters.")] = 14,
) -> None:
    """Print a fresh election identifier (uuid): base58 characters, 14 by default."""
    from viche.crypto.rng import DEFAULT_RANDOM
    from viche.service.tokens import generate_token

    out.print(generate_token(DEFAULT_RANDOM, length))


@setup_app.command("generate-credentials")
def generate_credentials_cmd(
    uuid: Annotated[str, typer.Option("--uuid", help="The election uuid (generate-token).")],
    group: GroupOpt = "BELENIOS-2048",
    count: Annotated[
        int | None, typer.Option("--count", help="Generate N credentials with ids 1..N.")
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option("--file", help="Voter file: one line address[,login[,weight]] per voter."),
    ] = None,
    directory: OutDirOpt = Path("."),
) -> None:
    """Credential authority: write T.privcreds (secret) and T.pubcreds, print the fingerprint."""
    from viche.crypto.group import group_by_name
    from viche.crypto.rng import DEFAULT_RANDOM
    from viche.errors import UsageError
    from viche.service import credentials as svc
    from viche.service.files import read_text

    if (count is None) == (file is None):
        raise UsageError("give exactly one of --count N and --file VOTERS")
    grp = group_by_name(group, where=_GROUP_OPTION)
    if file is not None:
        voters = svc.parse_voters(read_text(file, "voter file"), Location(file=str(file)))
    else:
        assert count is not None
        voters = svc.counted_voters(count)
    with progress_bar("credentials", len(voters), console=err) as update:
        creds = svc.generate_credentials(grp, uuid, voters, DEFAULT_RANDOM, progress=update)
    files = svc.write_credentials(creds, directory)
    out.print(f"{files.count} private credentials with ids saved to {files.privcreds}")
    out.print(f"{files.count} public credentials saved to {files.pubcreds}")
    out.print(f"The fingerprint of public credentials is {files.fingerprint}")


@setup_app.command("generate-trustee-key")
def generate_trustee_key_cmd(
    group: GroupOpt = "BELENIOS-2048", directory: OutDirOpt = Path(".")
) -> None:
    """Trustee ("Single"): write a key pair ID.privkey (secret) and ID.pubkey."""
    from viche.crypto.group import group_by_name
    from viche.crypto.rng import DEFAULT_RANDOM
    from viche.service.setup import new_trustee_key

    files = new_trustee_key(group_by_name(group, where=_GROUP_OPTION), directory, DEFAULT_RANDOM)
    out.print(f"keypair {files.key_id} has been generated")
    out.print(f"public key saved to {files.pubkey}")
    out.print(f"private key saved to {files.privkey}")


@setup_app.command("make-trustees")
def make_trustees_cmd(
    directory: Annotated[
        Path,
        typer.Option("--dir", help="Directory with public_keys.jsons and/or threshold.json."),
    ] = Path("."),
) -> None:
    """Administrator: combine the trustees' public keys into trustees.json."""
    from viche.service.setup import make_trustees

    path = make_trustees(directory)
    out.print(f"trustees saved to {path}")


@setup_app.command("make-election")
def make_election_cmd(
    uuid: Annotated[str, typer.Option("--uuid", help="The election uuid (generate-token).")],
    template: Annotated[
        Path, typer.Option("--template", help="Template: description, name, questions (JSON).")
    ],
    group: GroupOpt = "BELENIOS-2048",
    directory: Annotated[
        Path,
        typer.Option("--dir", help="Directory with trustees.json; election.json is written there."),
    ] = Path("."),
) -> None:
    """Administrator: write election.json from a template and trustees.json."""
    from viche.crypto.group import group_by_name
    from viche.service import setup as svc

    grp = group_by_name(group, where=_GROUP_OPTION)
    trustees = svc.read_trustees(directory / "trustees.json")
    election = svc.make_election(grp, uuid, svc.read_template(template), trustees)
    path = directory / "election.json"
    svc.write_election(election, path)
    out.print(f"election saved to {path} (fingerprint {election.fingerprint})")


threshold_app = typer.Typer(
    name="threshold",
    help="Threshold (Pedersen) trustee keys, step by step like "
    "generate-trustee-key-threshold --step N.",
    no_args_is_help=True,
)
setup_app.add_typer(threshold_app)

CertsOpt = Annotated[Path, typer.Option("--certs", help="certs.jsons: every trustee's cert.")]
KeyOpt = Annotated[Path, typer.Option("--key", help="The trustee's NAME.key file (secret seed).")]
PolysOpt = Annotated[
    Path, typer.Option("--polynomials", help="polynomials.jsons: every trustee's step 3 output.")
]


@threshold_app.command("step1")
def threshold_step1_cmd(
    group: GroupOpt = "BELENIOS-2048", directory: OutDirOpt = Path(".")
) -> None:
    """Trustee: a fresh seed NAME.key (secret) and certificate NAME.cert."""
    from viche.crypto.group import group_by_name
    from viche.crypto.rng import DEFAULT_RANDOM
    from viche.service.threshold import step1

    key, cert = step1(group_by_name(group, where=_GROUP_OPTION), directory, DEFAULT_RANDOM)
    out.print(f"certificate saved to {cert}")
    out.print(f"private key saved to {key}")


@threshold_app.command("step2")
def threshold_step2_cmd(certs: CertsOpt, group: GroupOpt = "BELENIOS-2048") -> None:
    """Server: check every certificate."""
    from viche.crypto.group import group_by_name
    from viche.service.threshold import step2

    n = step2(group_by_name(group, where=_GROUP_OPTION), certs)
    out.print(f"{n} certificates are valid")


@threshold_app.command("step3")
def threshold_step3_cmd(
    certs: CertsOpt,
    key: KeyOpt,
    threshold: Annotated[int, typer.Option("--threshold", help="Trustees needed to decrypt.")],
    group: GroupOpt = "BELENIOS-2048",
) -> None:
    """Trustee: print its polynomial (one line for polynomials.jsons)."""
    import sys

    from viche.crypto.group import group_by_name
    from viche.crypto.rng import DEFAULT_RANDOM
    from viche.service.threshold import step3

    sys.stdout.write(
        step3(
            group_by_name(group, where=_GROUP_OPTION),
            certs,
            key,
            threshold,
            DEFAULT_RANDOM,
        )
    )


@threshold_app.command("step4")
def threshold_step4_cmd(
    certs: CertsOpt,
    polynomials: PolysOpt,
    group: GroupOpt = "BELENIOS-2048",
    directory: OutDirOpt = Path("."),
) -> None:
    """Server: check the polynomials and write one NAME.vinput per trustee."""
    from viche.crypto.group import group_by_name
    from viche.service.threshold import step4

    for p in step4(group_by_name(group, where=_GROUP_OPTION), certs, polynomials, directory):
        out.print(f"wrote {p}")


@threshold_app.command("step5")
def threshold_step5_cmd(
    certs: CertsOpt,
    key: KeyOpt,
    vinput: Annotated[
        Path, typer.Option("--vinput", help="The trustee's NAME.vinput (step 4); - for stdin.")
    ] = Path("-"),
    group: GroupOpt = "BELENIOS-2048",
    directory: OutDirOpt = Path("."),
) -> None:
    """Trustee: check its vinput, write NAME.dkey (secret) and print its voutput line."""
    import sys

    from viche.crypto.group import group_by_name
    from viche.crypto.rng import DEFAULT_RANDOM
    from viche.service.threshold import step5

    voutput, dkey = step5(
        group_by_name(group, where=_GROUP_OPTION),
        certs,
        key,
        vinput,
        rng=DEFAULT_RANDOM,
        directory=directory,
    )
    sys.stdout.write(voutput)
    err.print(f"wrote {dkey}")


@threshold_app.command("step6")
def threshold_step6_cmd(
    certs: CertsOpt,
    polynomials: PolysOpt,
    voutputs: Annotated[
        Path,
        typer.Option("--voutputs", help="voutputs.jsons: every step 5 output; - for stdin."),
    ] = Path("-"),
    group: GroupOpt = "BELENIOS-2048",
) -> None:
    """Server: check everything and print the threshold parameters (threshold.json)."""
    import sys

    from viche.crypto.group import group_by_name
    from viche.service.threshold import line, step6

    params = step6(group_by_name(group, where=_GROUP_OPTION), certs, polynomials, voutputs)
    sys.stdout.write(line(params.to_json()))


# ====================================================================== archive


@archive_app.command("init")
def archive_init_cmd(
    election: Annotated[Path, typer.Option("--election", help="election.json (make-election).")],
    trustees: Annotated[Path, typer.Option("--trustees", help="trustees.json (make-trustees).")],
    public_creds: Annotated[
        Path,
        typer.Option("--public-creds", help="Public credentials (T.pubcreds or the archive list)."),
    ],
    directory: Annotated[
        Path, typer.Option("--dir", help="Election directory; DIR/<uuid>.bel is created.")
    ] = Path("."),
) -> None:
    """Administrator: create the archive with the Setup event (after checking the setup)."""
    from viche.service.archive import init_archive

    with init_archive(directory, election, trustees, public_creds) as store:
        out.print(f"archive created: {store.name}")


@archive_app.command("add-ballot")
def archive_add_ballot_cmd(
    ballot: Annotated[Path, typer.Argument(help="The ballot file (generate-ballot's output).")],
    directory: DirOpt = Path("."),
) -> None:
    """Voting server: check a ballot fully and append it (refused ballots change nothing)."""
    from viche.service.archive import ballot_from_file, open_record
    from viche.service.cast import cast_ballot

    raw = ballot_from_file(ballot)
    with open_record(directory) as state:
        accepted = cast_ballot(state, raw, Location(file=str(ballot)))
    kind = (
        "re-vote (replaces the earlier ballot of this credential)" if accepted.revote else "ballot"
    )
    out.print(
        f"accepted {kind} at height {accepted.height}; smart ballot tracker {accepted.tracker}"
    )


@archive_app.command("close")
def archive_close_cmd(directory: DirOpt = Path(".")) -> None:
    """Administrator: close the vote (EndBallots) and append the encrypted tally."""
    from viche.service import archive as arch
    from viche.service import tally as svc

    with arch.open_record(directory) as state:
        svc.check_can_close(state)
        with progress_bar("checking ballots", state.store.ballot_count(), console=err) as update:
            closed = svc.close(state, progress=update)
    out.print(
        f"vote closed: {closed.ballots} ballot(s) in the archive, {closed.num_tallied} counted "
        f"(last ballot per credential), total weight {closed.total_weight}"
    )


# ====================================================================== ballot


@ballot_app.command("generate")
def ballot_generate_cmd(
    privcred: Annotated[
        Path, typer.Option("--privcred", help="File with the voter's private credential.")
    ],
    choices: Annotated[
        Path,
        typer.Option(
            "--ballot",
            help="Choices (JSON): one list per question, e.g. [[0,1,0],[1,0,0,0]]; with blank "
            "allowed the list starts with the blank flag.",
        ),
    ],
    directory: DirOpt = Path("."),
) -> None:
    """Voter: print an encrypted, signed ballot; the smart ballot tracker goes to stderr."""
    import sys

    from viche.crypto.rng import DEFAULT_RANDOM
    from viche.service import archive as arch
    from viche.service import ballot as svc
    from viche.service.credentials import read_private_credential

    with arch.open_record(directory) as state:
        election, credentials = state.election, state.credentials
    cred = read_private_credential(privcred)
    plain = svc.read_choices(choices, election)
    made = svc.generate_ballot(election, credentials, cred, plain, DEFAULT_RANDOM)
    sys.stdout.write(made.raw.decode("utf-8") + "\n")
    sys.stdout.flush()
    err.print(f"smart ballot tracker: {made.tracker}")


@ballot_app.command("audit")
def ballot_audit_cmd(
    audit_file: Annotated[
        Path, typer.Argument(help="An audit file saved by the booth's 'Audit' button.")
    ],
    election: Annotated[
        Path | None,
        typer.Option("--election", help="The election's public record (.bel or its directory)."),
    ] = None,
    server: Annotated[
        str | None,
        typer.Option("--server", help="Or the voting server, e.g. https://vote.example.org"),
    ] = None,
) -> None:
    """Check an audited ballot: encrypt its choices again with the revealed randomness, and
    print them. Exit 0 it encrypts them; 1 it does not; 2 bad input."""
    from viche.errors import AuditMismatchError, UsageError
    from viche.service import archive as arch
    from viche.service.audit import audit_ballot, parse_audit
    from viche.service.files import read_bytes

    if (election is None) == (server is None):
        raise UsageError(
            "name the election with --election ARCHIVE or --server URL (one of them)",
            where=Location(path=("--election",)),
        )
    where = Location(file=str(audit_file))
    parsed = parse_audit(read_bytes(audit_file, "audit file"), where)
    if election is not None:
        with arch.open_record(election) as state:
            setup, credentials = state.election, state.credentials
    else:
        from viche.web.client import VotingClient

        assert server is not None
        client = VotingClient(server)
        try:
            _, setup, credentials = client.setup(parsed.election)
        finally:
            client.close()
    try:
        report = audit_ballot(setup, credentials, parsed, where)
    except AuditMismatchError as exc:
        err.print(line(("FAILED", "bold red"), f" {exc} ({exc.where})"))
        raise typer.Exit(1) from None
    out.print(line(("ok", "bold green"), f" ballot {report.tracker} encrypts these choices:"))
    for i, answer in enumerate(report.answers, 1):
        out.print(f"question {i}: {answer.question}")
        if answer.values:
            out.print("  values: " + ", ".join(str(v) for v in answer.values))
        elif answer.blank:
            out.print("  (blank vote)")
        elif not answer.chosen:
            out.print("  (no answer chosen)")
        for choice in answer.chosen:
            out.print(f"  - {choice}")
    out.print("An audited ballot is never cast: vote with a fresh encryption.")


# ====================================================================== tally


def print_result(rows: list[object], title: str) -> None:
    """The result as Rich tables, one per question."""
    from rich.table import Table

    from viche.service.tally import QuestionResult

    # Question and answer texts come from the election file: `out` prints them verbatim.
    for n, row in enumerate(rows, start=1):
        assert isinstance(row, QuestionResult)
        table = Table(title=f"{title} — question {n}: {row.question}", title_justify="left")
        if row.ballots is not None:  # non-homomorphic: one line per ballot (shuffled order)
            for answer in row.answers:
                table.add_column(answer, justify="right")
            for vector in row.ballots:
                table.add_row(*(str(v) for v in vector))
            out.print(table)
            continue
        table.add_column("answer")
        table.add_column("votes", justify="right")
        for answer, count in zip(row.answers, row.counts, strict=True):
            table.add_row(answer, str(count))
        if row.blank is not None:
            table.add_row(styled("blank", "italic"), str(row.blank))
        out.print(table)


@tally_app.command("decrypt")
def tally_decrypt_cmd(
    directory: DirOpt = Path("."),
    privkey: Annotated[
        Path | None, typer.Option("--privkey", help="Single trustee: the ID.privkey file.")
    ] = None,
    key: Annotated[
        Path | None, typer.Option("--key", help="Threshold trustee: the .key file (seed).")
    ] = None,
    decryption_key: Annotated[
        Path | None,
        typer.Option("--decryption-key", help="Threshold trustee: the .dkey file (step 5)."),
    ] = None,
    trustee_id: Annotated[
        int | None,
        typer.Option("--trustee-id", help="1-based trustee id (default: found from the key)."),
    ] = None,
) -> None:
    """Trustee: print a partial decryption of the tally (two lines, as belenios-tool)."""
    import sys

    from viche.crypto.rng import DEFAULT_RANDOM
    from viche.errors import UsageError
    from viche.service import archive as arch
    from viche.service import tally as svc

    if privkey is not None and (key is not None or decryption_key is not None):
        raise UsageError("give either --privkey, or --key and --decryption-key")
    if privkey is None and (key is None or decryption_key is None):
        raise UsageError("give --privkey (Single trustee) or --key and --decryption-key")
    with arch.open_record(directory) as state:
        if privkey is not None:
            secret = svc.single_key(privkey)
        else:
            assert key is not None and decryption_key is not None
            secret = svc.threshold_key(state.election.group, key, decryption_key)
        lines = svc.partial_decryption(state, secret, trustee_id, DEFAULT_RANDOM)
    sys.stdout.write(lines.text())


@tally_app.command("add-decryption")
def tally_add_decryption_cmd(
    file: Annotated[Path, typer.Argument(help="The two lines printed by 'tally decrypt'.")],
    directory: DirOpt = Path("."),
) -> None:
    """Administrator: check a trustee's partial decryption and append it."""
    from viche.service import archive as arch
    from viche.service import tally as svc

    lines = svc.read_decryption_lines(file)
    with arch.open_record(directory) as state:
        owner = svc.add_decryption(state, lines)
    out.print(f"partial decryption of trustee {owner} accepted")


def _ranking(groups: list[list[int]], answers: tuple[str, ...]) -> str:
    return "; ".join(
        f"{rank}. " + " = ".join(answers[i] for i in group)
        for rank, group in enumerate(groups, start=1)
    )


def print_outcomes(rows: list[object], found: dict[str, Any]) -> None:
    """Each non-homomorphic question's outcome by every method computed, one line each."""
    from viche.service.tally import QuestionResult

    for q in found["questions"]:
        row = rows[q["question"] - 1]
        assert isinstance(row, QuestionResult)
        out.print(line((f"Outcome — question {q['question']}: {row.question}", "bold")))
        if "schulze" in q:
            out.print(f"  Condorcet-Schulze: {_ranking(q['schulze']['winners'], row.answers)}")
        if "stv" in q:
            stv = q["stv"]
            elected = ", ".join(row.answers[i] for i in stv["winners"]) or "nobody"
            out.print(
                f"  single transferable vote ({stv['seats']} seat(s)): elected {elected}"
                f" ({len(stv['invalid'])} invalid ballot(s))"
            )
        if "majority-judgment" in q:
            mj = q["majority-judgment"]
            out.print(
                f"  majority judgment ({mj['grades']} grades, 1 best): "
                f"{_ranking(mj['winners'], row.answers)} ({len(mj['invalid'])} invalid ballot(s))"
            )


OutcomesOpt = Annotated[
    str,
    typer.Option(
        "--outcomes",
        help="Counting methods of the ranked/graded questions: schulze, stv, mj (comma list).",
    ),
]
SeatsOpt = Annotated[
    list[str] | None,
    typer.Option("--seats", help="STV seats: N (every question) or QUESTION=N (default 1)."),
]
GradesOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--grades",
        help="Majority-judgment grades: N or QUESTION=N (default: the highest grade given).",
    ),
]


@tally_app.command("result")
def tally_result_cmd(
    directory: DirOpt = Path("."),
    *,
    outcomes: OutcomesOpt = "schulze,stv,mj",
    seats: SeatsOpt = None,
    grades: GradesOpt = None,
    save_outcomes: Annotated[
        Path | None,
        typer.Option("--save-outcomes", help="Write the outcomes as JSON (outcomes.json)."),
    ] = None,
) -> None:
    """Administrator: combine the partial decryptions, append the Result, print it (and
    the outcomes of the questions tallied through shuffles). When the record holds its
    Result already (a served election's, downloaded): print that one, append nothing."""
    from viche.protocol import codec
    from viche.service import archive as arch
    from viche.service import outcomes as counting
    from viche.service import tally as svc
    from viche.service.files import write_text

    methods = counting.parse_methods(outcomes)
    params = counting.CountingParameters.parse(seats or [], grades or [])
    with arch.open_record(directory) as state:
        published = state.record.result
        if published is None:
            _, rows = svc.publish_result(state)
        else:
            _, rows = svc.read_result(state)
            err.print(
                f"the result is already in the record (event {published.height}): "
                "shown as published, nothing appended"
            )
    print_result(list(rows), "Result")
    found = counting.outcomes(rows, params, methods)
    if found["questions"]:
        print_outcomes(list(rows), found)
    if save_outcomes is not None:
        write_text(save_outcomes, codec.dumps(found) + "\n")


# ====================================================================== demo


def demo_cmd(
    voters: Annotated[int, typer.Option("--voters", help="Number of voters.")] = 5,
    directory: Annotated[
        Path | None,
        typer.Option(
            "--dir", help="Empty directory for every role's files (default: a new temp dir)."
        ),
    ] = None,
    threshold: Annotated[
        str,
        typer.Option(
            "--threshold",
            help="T/N: N Pedersen trustees, T needed to decrypt; 'none': 2 Single trustees.",
        ),
    ] = "2/3",
    seed: Annotated[
        str | None,
        typer.Option("--seed", help="Seeded randomness (reproducible; never for real elections)."),
    ] = None,
    template: Annotated[
        Path | None, typer.Option("--template", help="Election template (default: built in).")
    ] = None,
) -> None:
    """A complete election on the command line: every role played, then a full verification."""
    import tempfile

    from rich.panel import Panel

    from viche.service import demo
    from viche.service.setup import read_template

    rng = random_source(seed)
    th = demo.parse_threshold(threshold)
    tpl = read_template(template) if template is not None else None
    plan = demo.demo_plan(voters, th, rng, tpl)
    target = directory or Path(tempfile.mkdtemp(prefix="viche-demo-"))
    with stage_progress(console=err) as progress:

        def say(message: str) -> None:
            role, _, rest = message.partition(": ")
            out.print(line((role, "bold cyan"), f": {rest}") if rest else message)

        outcome = demo.run_demo(target, plan, rng, say=say, progress=progress)
    out.print(
        line(
            ("verified", "bold green"),
            f": {outcome.checks_passed} checks passed on the public record, none failed",
        )
    )
    print_result(list(outcome.verified), "Verified result")
    if not outcome.expected_matches:
        from viche.errors import VerificationError

        raise VerificationError("the verified result differs from the plaintext votes")
    out.print("The verified result matches the plaintext votes (last ballot of each voter).")
    out.print(Panel(str(outcome.archive), title=styled("public archive", ""), expand=False))


def register(app: typer.Typer) -> None:
    """Add the election commands to ``app``."""
    app.add_typer(setup_app)
    app.add_typer(archive_app)
    app.add_typer(ballot_app)
    app.add_typer(tally_app)
    app.command("demo")(demo_cmd)
