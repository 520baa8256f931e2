"""``viche relay``: a unit's relay collects ballots offline and uploads them in one batch;
it can neither read nor alter them."""

from __future__ import annotations

import json
from pathlib import Path

from support.cli import run_cli
from support.event import small_event
from viche.crypto.rng import SeededRandom
from viche.event.locks import RELAY_LOG
from viche.event.relay import PENDING
from viche.event.verify_event import verify_event
from viche.protocol.ballot import smart_ballot_tracker


def test_a_relayed_batch_with_an_altered_ballot(tmp_path: Path, rng: SeededRandom) -> None:
    ev = small_event(tmp_path, rng)
    relay = tmp_path / "relay-A1234"
    files = []
    with ev.desk() as desk:
        raws = [ev.ballot(desk, v, choice=1) for v in ("c01-v0", "c01-v1", "c02-v2")]
    for n, raw in enumerate(raws):
        f = tmp_path / f"ballot-{n}.json"
        f.write_bytes(raw + b"\n")
        files.append(f)
    # the relay alters the last ballot's answer to another one of the same size
    altered = raws[2].replace(b'"choices":[{"alpha":"', b'"choices":[{"alpha":"1', 1)
    assert altered != raws[2]
    (tmp_path / "altered.json").write_bytes(altered + b"\n")

    collected = run_cli("relay", "collect", "--relay", str(relay), *map(str, files),
                        str(tmp_path / "altered.json"))  # fmt: skip
    assert collected.code == 0, collected.stderr
    assert collected.stdout.count("collected ") == 4
    assert len((relay / PENDING).read_bytes().splitlines()) == 4

    uploaded = run_cli("relay", "upload", "--relay", str(relay), "--event", str(ev.directory),
                       "--keys", str(ev.private), "--unit", "A1234")  # fmt: skip
    assert uploaded.code == 0, uploaded.stderr
    assert "3 of 4 accepted" in uploaded.stdout
    assert uploaded.stdout.count("refused [V") == 1
    assert not (relay / PENDING).exists()

    # each voter finds her receipt by her tracker; the altered ballot's "voter" finds why
    for raw in raws:
        found = run_cli("relay", "receipt", "--relay", str(relay), smart_ballot_tracker(raw))
        assert found.code == 0, found.stderr
        body = json.loads(found.stdout)
        assert body["accepted"]["receipt"]["tracker"] == smart_ballot_tracker(raw)
    refused = json.loads(
        run_cli("relay", "receipt", "--relay", str(relay), smart_ballot_tracker(altered)).stdout
    )
    assert refused["refused"]["code"].startswith("V")
    missing = run_cli("relay", "receipt", "--relay", str(relay), "no-such-tracker")
    assert missing.code == 2 and "V9011" in missing.stderr

    again = run_cli("relay", "upload", "--relay", str(relay), "--event", str(ev.directory),
                    "--keys", str(ev.private), "--unit", "A1234")  # fmt: skip
    assert again.code == 2 and "V8058" in again.stderr  # nothing pending

    assert len((ev.directory / RELAY_LOG).read_bytes().splitlines()) == 3
    report = verify_event(ev.directory, jobs=1)
    assert report.ok, [str(f) for f in report.failures]
    assert report.check("event.relay").count == 3


def test_collect_refuses_what_is_not_a_ballot(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_bytes(b'{"hello":"world"}\n')
    run = run_cli("relay", "collect", "--relay", str(tmp_path / "relay"), str(bad))
    assert run.code == 2 and "V8058" in run.stderr
    assert not (tmp_path / "relay" / PENDING).exists()
