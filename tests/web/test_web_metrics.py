"""The metrics that the worker processes of one server share (viche.web.metrics)."""

from __future__ import annotations

from pathlib import Path

import pytest

from viche.web.metrics import BUCKETS, EVENTS, Metrics, reset_shared


def _value(text: str, name: str) -> str:
    return next(line.split()[-1] for line in text.splitlines() if line.startswith(name + " "))


def test_each_worker_answers_the_sum_of_all(tmp_path: Path) -> None:
    folder = tmp_path / "metrics"
    reset_shared(folder)
    a = Metrics(folder, worker="a")
    b = Metrics(folder, worker="b")
    a.cast(0.02)
    a.cast(0.3, "V3002")
    b.cast(0.004)
    b.cast(2.0, "V3002")
    b.cast(0.1, "V3007")
    for text in (a.render(), b.render()):
        assert _value(text, "viche_ballots_accepted_total") == "2"
        assert 'viche_ballots_refused_total{code="V3002"} 2' in text
        assert 'viche_ballots_refused_total{code="V3007"} 1' in text
        assert _value(text, "viche_cast_seconds_count") == "5"
        assert 'viche_cast_seconds_bucket{le="0.01"} 1' in text
        assert 'viche_cast_seconds_bucket{le="0.5"} 4' in text
        assert 'viche_cast_seconds_bucket{le="+Inf"} 5' in text
        assert float(_value(text, "viche_cast_seconds_sum")) == 0.02 + 0.3 + 0.004 + 2.0 + 0.1


def test_a_strange_file_in_the_folder_is_ignored_and_a_restart_starts_at_zero(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "metrics"
    reset_shared(folder)
    Metrics(folder, worker="old").cast(0.1)
    (folder / "metrics-junk.bin").write_text('{"accepted": "many"')
    (folder / "metrics-short.bin").write_bytes(b"vicheMT2" + bytes(8))
    old = (folder / "metrics-old.bin").read_bytes()
    # where the refused codes start (after the buckets and the events): a code not text
    codes = 8 + 3 * 8 + len(BUCKETS) * 8 + len(EVENTS) * 8
    (folder / "metrics-codes.bin").write_bytes(old[:codes] + b"\xff" * 8 + old[codes + 8 :])
    fresh = Metrics(folder, worker="new")
    assert _value(fresh.render(), "viche_ballots_accepted_total") == "1"
    reset_shared(folder)  # what viche serve does when it starts
    again = Metrics(folder, worker="new")
    assert _value(again.render(), "viche_ballots_accepted_total") == "0"


def test_phases_are_gauges(tmp_path: Path) -> None:
    text = Metrics().render([("u2", "closed"), ("u1", "open")])
    lines = [line for line in text.splitlines() if line.startswith("viche_election_phase")]
    assert lines == [
        'viche_election_phase{election="u1",phase="open"} 1',
        'viche_election_phase{election="u2",phase="closed"} 1',
    ]


def test_counts_of_operations_are_summed_over_the_workers(tmp_path: Path) -> None:
    folder = tmp_path / "metrics"
    reset_shared(folder)
    a, b = Metrics(folder, worker="a"), Metrics(folder, worker="b")
    a.count("code_mail_failed")
    b.count("code_mail_failed")
    b.count("stream_refused_address")
    a.cast(0.1)
    for text in (a.render(), b.render()):
        assert _value(text, "viche_code_mails_failed_total") == "2"
        assert _value(text, "viche_code_requests_refused_total") == "0"
        assert 'viche_live_streams_refused_total{limit="address"} 1' in text
        assert 'viche_live_streams_refused_total{limit="server"} 0' in text
        assert _value(text, "viche_ballots_accepted_total") == "1"
    with pytest.raises(ValueError):
        a.count("no_such_event")
