"""A served event with two worker processes (``viche serve --workers 2 --event``): the
station-lock log and the relay log are files of the event directory that both workers
append, and every channel's rule (no ballot of a credential after its station lock) must
hold across the processes. Online ballots, station ballots and relay batches of the same
voters are fired at the same moment, wave after wave; then the downloaded event must verify
(``viche verify`` and belenios-tool) and every acknowledged ballot must be in the record.
On SQLite the election's lock is an ``flock``, on PostgreSQL an advisory lock: both boards."""

from __future__ import annotations

import json
import random
import subprocess
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx

from support.belenios import tool_verifies
from support.cli import run_cli
from support.event import serve_event_process
from support.served import CLI, cli_env
from viche.crypto.hashing import sha256_hex
from viche.crypto.rng import SeededRandom
from viche.event.locks import lock_log, relay_log
from viche.event.manifest import read_manifest
from viche.event.published import BallotRef, channel_turnout
from viche.record.archive_store import ArchiveStore
from viche.record.events import EventType
from viche.web.client import retry_after

WAVES = 4
PER_STYLE = 8
STATION = "DE-BERLIN-1"


@dataclass(frozen=True)
class Answer:
    channel: str
    voter: str
    ballot_hash: str
    status: int
    body: str


def _post(url: str, **kwargs: object) -> httpx.Response:
    """POST as a client does when the server is full (503 V9016): the same request again
    after the wait it asks for (``retry_after_ms``; another 503: its Retry-After)."""
    for _ in range(100):
        r = httpx.post(url, timeout=300, **kwargs)  # type: ignore[arg-type]
        if r.status_code != 503:
            return r
        told = retry_after(r)
        time.sleep(told if told is not None else float(r.headers.get("Retry-After", "1")))
    return r


def _code(a: Answer) -> str:
    try:
        found = json.loads(a.body)
    except ValueError:
        return ""
    return str(found.get("code", "")) if isinstance(found, dict) else ""


def test_two_workers_keep_every_channel_rule_under_concurrent_casts(
    tmp_path: Path, belenios_tool: str, board_url: str
) -> None:
    rng = SeededRandom("served-workers")
    order = random.Random(20261204)
    unlimited = {"VICHE_RATE_LIMITS": "off"}
    with serve_event_process(tmp_path, rng, voters=PER_STYLE, workers=2, env=unlimited,
                             database=board_url) as s:  # fmt: skip
        detail = httpx.get(f"{s.base}/api/v1/events/test-event").json()
        election = {st["id"]: st["election"] for st in detail["styles"]}
        voters = sorted(s.ev.credentials)
        station_bearer = {"Authorization": f"Bearer {s.station_secret.read_text().strip()}"}
        relay_bearer = {"Authorization": f"Bearer {s.relay_secret.read_text().strip()}"}
        # each wave, three voters not yet locked go to the station (two kiosks at once)
        station_voters = order.sample(voters, 3 * WAVES)
        answers: list[Answer] = []
        done = threading.Lock()

        def online(voter: str, raw: bytes) -> Callable[[], None]:
            def send() -> None:
                uuid = election[s.ev.credentials[voter][0]]
                r = _post(f"{s.base}/api/v1/elections/{uuid}/ballots", content=raw,
                          headers={"Content-Type": "application/json"},
                          auth=s.login(voter))  # fmt: skip
                with done:
                    answers.append(Answer("online", voter, sha256_hex(raw), r.status_code,
                                          r.text))  # fmt: skip

            return send

        def station(voter: str, raw: bytes) -> Callable[[], None]:
            def send() -> None:
                r = _post(
                    f"{s.base}/api/v1/events/test-event/stations/{STATION}/ballots",
                    content=raw,
                    headers={**station_bearer, "Viche-Voter": voter,
                             "Content-Type": "application/json"},
                )  # fmt: skip
                with done:
                    answers.append(Answer("station", voter, sha256_hex(raw), r.status_code,
                                          r.text))  # fmt: skip

            return send

        def batch(batch_voters: list[str], raws: list[bytes]) -> Callable[[], None]:
            def send() -> None:
                r = _post(
                    f"{s.base}/api/v1/events/test-event/relays/A1234/batches",
                    content=b"".join(raw + b"\n" for raw in raws),
                    headers={**relay_bearer, "Content-Type": "text/plain"},
                )
                with done:
                    if r.status_code != 201:
                        for v, raw in zip(batch_voters, raws, strict=True):
                            answers.append(Answer("relay", v, sha256_hex(raw), r.status_code,
                                                  r.text))  # fmt: skip
                        return
                    outcomes = r.json()["outcomes"]
                    assert len(outcomes) == len(raws)
                    for v, raw, o in zip(batch_voters, raws, outcomes, strict=True):
                        assert o["ballot_hash"] == sha256_hex(raw)
                        ok = o["accepted"] is not None
                        body = json.dumps(o["accepted"] if ok else o["refused"])
                        answers.append(Answer("relay", v, o["ballot_hash"],
                                              201 if ok else 409, body))  # fmt: skip

            return send

        for wave in range(WAVES):
            jobs: list[Callable[[], None]] = []
            at_station = station_voters[3 * wave : 3 * wave + 3]
            with s.ev.desk() as desk:
                for v in voters:
                    for n in range(2):
                        jobs.append(online(v, s.ev.ballot(desk, v, choice=(wave + n) % 2)))
                for v in at_station:
                    for n in range(2):
                        jobs.append(station(v, s.ev.ballot(desk, v, choice=n)))
                relayed = order.sample(voters, len(voters))
                halves = (relayed[::2], relayed[1::2])
                for half in halves:
                    jobs.append(batch(half, [s.ev.ballot(desk, v, choice=1) for v in half]))
            order.shuffle(jobs)
            start = threading.Barrier(len(jobs))

            def fire(job: Callable[[], None], start: threading.Barrier = start) -> None:
                start.wait()
                job()

            with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
                for f in [pool.submit(fire, job) for job in jobs]:
                    f.result()

        # every request was answered: accepted, or refused with a reason (never a 5xx)
        assert all(a.status < 500 for a in answers), [
            (a.channel, a.status, a.body[:300]) for a in answers if a.status >= 500
        ]
        accepted = [a for a in answers if a.status == 201]
        for channel in ("online", "station", "relay"):
            assert any(a.channel == channel for a in accepted), channel
        # a voter locked at a station: exactly one of her station ballots was accepted
        for v in station_voters:
            mine = [a for a in accepted if a.channel == "station" and a.voter == v]
            assert len(mine) == 1, (v, [(a.status, _code(a)) for a in answers if a.voter == v])
        refused = [a for a in answers if a.status != 201]
        assert refused and {_code(a) for a in refused} <= {"V8050"}, {_code(a) for a in refused}

        # the live turnout, asked several times (either worker may answer)
        live = [httpx.get(f"{s.base}/api/v1/events/test-event").json()["turnout"]
                for _ in range(6)]  # fmt: skip
        mirror = tmp_path / "mirror"
        got = run_cli("event", "download", s.base, "--event", "test-event", "--out", str(mirror))
        assert got.code == 0, got.stderr
    verified = subprocess.run([*CLI, "verify", str(mirror), "--jobs", "1"], capture_output=True,
                              env=cli_env(), timeout=900, check=False)  # fmt: skip
    assert verified.returncode == 0, verified.stdout.decode() + verified.stderr.decode()
    for bel in sorted(mirror.glob("styles/*/*.bel")):
        ok, err = tool_verifies(belenios_tool, bel.parent)
        assert ok, err

    # the record, ballot by ballot: (position, hash, credential) in each style's chain
    manifest, genesis = read_manifest(mirror)
    chain: dict[str, list[tuple[str, str]]] = {}
    for st in manifest.styles:
        with ArchiveStore.open(mirror / st.archive, sidecar=False) as store:
            chain[st.election] = [
                (sha256_hex(raw), str(json.loads(raw)["credential"]))
                for kind, members in store.events()
                if kind == EventType.BALLOT
                for raw in members
            ]
    in_record = {h for rows in chain.values() for h, _ in rows}
    # each acknowledged receipt is in the record
    missing = [(a.channel, a.voter) for a in accepted if a.ballot_hash not in in_record]
    assert missing == []
    locks = lock_log(mirror, genesis, manifest.key).read_all()
    relayed_log = relay_log(mirror, genesis, manifest.key).read_all()
    # one lock per station voter, each her station ballot, and her last ballot: no ballot of
    # hers (online, relayed or at a station) after it
    assert len(locks) == len(station_voters)
    assert len({(e.election, e.credential) for e in locks}) == len(locks)
    station_hashes = {a.ballot_hash for a in accepted if a.channel == "station"}
    assert {e.ballot_hash for e in locks} == station_hashes
    for e in locks:
        rows = chain[e.election]
        at = [i for i, (h, _) in enumerate(rows) if h == e.ballot_hash]
        assert len(at) == 1
        later = [h for h, c in rows[at[0] + 1 :] if c == e.credential]
        assert later == [], f"ballot(s) of a locked credential after its lock: {later}"
    # the relay log names exactly the relayed ballots acknowledged
    assert sorted(e.ballot_hash for e in relayed_log) == sorted(
        a.ballot_hash for a in accepted if a.channel == "relay"
    )
    # every voter has a ballot in the record
    assert sum(len({c for _, c in rows}) for rows in chain.values()) == len(voters)
    # the live per-channel turnout every worker answered is the record's
    expected = {
        st.id: channel_turnout(
            [BallotRef(n, h, c) for n, (h, c) in enumerate(chain[st.election])],
            {e.credential for e in locks if e.election == st.election},
            {e.ballot_hash for e in relayed_log if e.election == st.election},
        )
        for st in manifest.styles
    }
    assert sum(counts["station"] for counts in expected.values()) == len(station_voters)
    for seen in live:
        assert {t["id"]: {c: t[c] for c in ("online", "station", "relay")}
                for t in seen["styles"]} == expected  # fmt: skip
