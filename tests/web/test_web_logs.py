"""The server's log lines, written by a thread of their own (:class:`~viche.web.ops.LineWriter`):
a reader that does not read never holds a request, a line that finds the queue full is
dropped and counted, the others are written whole and in order, and none queued is lost
when the server stops."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from support.served import CLI, cli_env, free_port, wait_until_up
from support.web import Served
from viche.web.app import PAGE_CSP, SECURITY_HEADERS, _SecurityHeaders, create_app
from viche.web.ops import JsonLines, LineWriter, OpsConfig, QueuedLines, _Operations, access_log
from viche.web.serve import flush_logs_at_shutdown


class Stalled(io.StringIO):
    """A stream whose writes wait until ``release`` is set (a reader that stopped reading);
    ``entered`` is set when a write waits."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.entered = threading.Event()

    def write(self, text: str) -> int:
        self.entered.set()
        if not self.release.wait(30):
            raise AssertionError("never released")
        return super().write(text)


@contextmanager
def access_lines_to(writer: LineWriter) -> Iterator[None]:
    """The access log's lines to ``writer`` alone, as ``viche serve`` has them."""
    kept = (list(access_log.handlers), access_log.level, access_log.propagate)
    access_log.handlers[:] = [QueuedLines(writer, logging.Formatter("%(message)s"))]
    access_log.setLevel(logging.INFO)
    access_log.propagate = False
    try:
        yield
    finally:
        access_log.handlers[:] = kept[0]
        access_log.level, access_log.propagate = kept[1], kept[2]


def test_lines_are_written_whole_in_order_and_all_when_the_queue_has_room() -> None:
    stream = io.StringIO()
    writer = LineWriter(stream, capacity=100_000, linger=0.001)
    drops: list[str] = []
    writer.report = drops.append
    lines = [json.dumps({"n": n, "text": "é" * (n % 7)}) for n in range(20_000)]

    def put(part: list[str]) -> None:
        for line in part:
            writer.put(line + "\n")

    put(lines[:10_000])
    others = [threading.Thread(target=put, args=([f"{t}-{n}" for n in range(2000)],))
              for t in range(3)]  # fmt: skip
    for thread in others:
        thread.start()
    put(lines[10_000:])
    for thread in others:
        thread.join()
    assert writer.flush(10)
    got = stream.getvalue().splitlines()
    assert len(got) == 26_000 and drops == []
    assert [line for line in got if line.startswith("{")] == lines
    for t in range(3):  # each thread's lines in its own order
        assert [line for line in got if line.startswith(f"{t}-")] == [
            f"{t}-{n}" for n in range(2000)
        ]
    writer.close()


class Writes(io.StringIO):
    """A stream that keeps each write apart."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []

    def write(self, text: str) -> int:
        self.writes.append(text)
        return super().write(text)


def test_each_write_is_whole_lines_that_a_pipe_takes_at_once() -> None:
    """Two workers write to the same pipe: a write of more than PIPE_BUF bytes may be split
    between the other's writes when the reader is slow, so the writer never makes one,
    except for a single line that long; every write ends at a line's end."""
    stream = Writes()
    writer = LineWriter(stream, capacity=100_000, linger=0.05)
    lines = [json.dumps({"n": n, "text": "ї" * (n % 50)}) + "\n" for n in range(3000)]
    lines.insert(1500, json.dumps({"long": "x" * 3 * select.PIPE_BUF}) + "\n")
    for line in lines:
        writer.put(line)
    assert writer.flush(10)
    writer.close()
    assert "".join(stream.writes) == "".join(lines)
    assert len(stream.writes) < len(lines) / 10  # batched, not a write a line
    for text in stream.writes:
        assert text.endswith("\n")
        assert len(text.encode()) <= select.PIPE_BUF or text.count("\n") == 1


def test_a_stalled_reader_never_holds_the_caller_and_the_dropped_lines_are_told() -> None:
    stream = Stalled()
    writer = LineWriter(stream, capacity=10, linger=0.0)
    drops: list[str] = []
    writer.report = drops.append
    writer.put("line 0\n")
    assert stream.entered.wait(10)  # the thread waits in the write of line 0
    start = time.monotonic()
    for n in range(1, 51):
        writer.put(f"line {n}\n")
    assert time.monotonic() - start < 1.0
    assert not writer.flush(timeout=0.2)  # the reader does not read: the flush gives up
    assert drops == ["log_line_dropped"] * 40  # the queue held 10 of the 50
    stream.release.set()
    assert writer.flush(10)
    deadline = time.monotonic() + 10  # the warning comes once the queue has room again
    while '"dropped"' not in stream.getvalue() and time.monotonic() < deadline:
        time.sleep(0.01)
    got = stream.getvalue().splitlines()
    assert got[:11] == [f"line {n}" for n in range(11)]
    warning = json.loads(got[11])
    assert warning["level"] == "warning" and warning["logger"] == "viche.log"
    assert warning["dropped"] == 40 and "dropped" in warning["message"]
    assert len(got) == 12
    writer.put("line 51\n")  # the writer goes on as before
    assert writer.flush(10) and stream.getvalue().splitlines()[12:] == ["line 51"]
    writer.close()


def test_a_stalled_reader_holds_no_request_and_the_drops_are_counted(served: Served) -> None:
    s = served
    stream = Stalled()
    writer = LineWriter(stream, capacity=5, linger=0.0)
    app = create_app(s.host, OpsConfig.unlimited())
    writer.report = app.state.metrics.count
    with access_lines_to(writer), TestClient(app) as client:
        assert client.get("/api/v1/health").status_code == 200
        assert stream.entered.wait(10)
        start = time.monotonic()
        for _ in range(40):
            assert client.get(f"/api/v1/elections/{s.uuid}").status_code == 200
        assert time.monotonic() - start < 20
        text = client.get("/metrics").text
        dropped = [line for line in text.splitlines()
                   if line.startswith("viche_log_lines_dropped_total ")]  # fmt: skip
        assert dropped == ["viche_log_lines_dropped_total 35"]  # 40 lines, room for 5
        stream.release.set()
        assert writer.flush(10)
    writer.close()
    got = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [e.get("route") for e in got[:6]] == [
        "/api/v1/health",
        *["/api/v1/elections/{uuid}"] * 5,
    ]
    assert got[6]["dropped"] == 36  # and the line of /metrics


def test_the_lifespan_of_a_served_app_ends_with_its_lines_written(served: Served) -> None:
    """A lingering writer (an hour) writes what it holds when the app's lifespan ends."""
    stream = io.StringIO()
    writer = LineWriter(stream, linger=3600)
    app = create_app(served.host, OpsConfig.unlimited())
    flush_logs_at_shutdown(app, writer)
    with access_lines_to(writer):
        with TestClient(app) as client:
            for _ in range(3):
                assert client.get("/api/v1/health").status_code == 200
            time.sleep(0.05)
            assert stream.getvalue() == ""  # still lingering
        lines = stream.getvalue().splitlines()
    assert [json.loads(line)["route"] for line in lines] == ["/api/v1/health"] * 3
    writer.close(timeout=0.1)


def test_a_sigtermed_server_whose_reader_stalled_answers_and_loses_no_queued_line(
    tmp_path: Path,
) -> None:
    """``viche serve`` with 2 workers, its output on a pipe nobody reads: past the pipe's
    64 KiB the lines wait in the workers' queues, every request is still answered (on main
    the worker's event loop stopped on the full pipe). Then SIGTERM, and the pipe is read
    only a second later: each worker, ending, waits for its lines to be written (uvicorn
    kills it with the signal right after its lifespan, without exit handlers)."""
    port = free_port()
    proc = subprocess.Popen(
        [*CLI, "serve", "--demo", "--voters", "2", "--data", str(tmp_path / "data"),
         "--port", str(port), "--workers", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=cli_env(),
    )  # fmt: skip
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    chunks: list[bytes] = []
    reader = threading.Thread(target=lambda: chunks.extend(iter(lambda: os.read(fd, 1 << 16), b"")))
    try:
        wait_until_up(proc, port)
        with httpx.Client(timeout=10) as client:
            for _ in range(1500):  # ~110 bytes of log each: twice what the pipe holds
                assert client.get(f"http://127.0.0.1:{port}/api/v1/health").status_code == 200
        proc.send_signal(signal.SIGTERM)
        time.sleep(1.0)
    finally:
        reader.start()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        reader.join(30)
        proc.stdout.close()
    out = b"".join(chunks).decode(errors="replace")
    health = [line for line in out.splitlines() if '"route":"/api/v1/health"' in line]
    assert len(health) >= 1500  # wait_until_up's, and all of ours
    assert all(json.loads(line)["status"] == 200 for line in health)
    assert '"dropped"' not in out


def _asgi_call(app: Any, scope: dict[str, Any]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


def _answer(headers: list[tuple[bytes, bytes]]) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 201, "headers": list(headers)})
        await send({"type": "http.response.body", "body": b"{}"})

    return app


def _scope(path: str, headers: list[tuple[bytes, bytes]], client: Any) -> dict[str, Any]:
    return {"type": "http", "method": "POST", "path": path, "headers": headers,
            "client": client, "query_string": b""}  # fmt: skip


def test_an_access_line_is_json_whatever_the_client_address_says(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The client's address may come from a proxy's header (uvicorn trusts X-Forwarded-For
    from 127.0.0.1): the line stays one JSON object with the address as sent."""
    caplog.set_level(logging.INFO, logger="viche.access")
    app = _Operations(_answer([]), by_address=None, by_voter=None, origins=frozenset())
    odd = 'a"b\\c\n{"status":200}'
    for client in (None, (odd, 1)):
        path = "/api/v1/elections/Xb2f/ballots"
        _asgi_call(app, _scope(path, [(b"authorization", b"Basic x")], client))
    lines = [r.getMessage() for r in caplog.records if r.name == "viche.access"]
    entries = [json.loads(line) for line in lines]
    assert [e["client"] for e in entries] == ["-", odd]
    for e in entries:
        assert e["route"] == "/api/v1/elections/{uuid}/ballots" and e["method"] == "POST"
        assert e["status"] == 201 and isinstance(e["time"], float) and e["ms"] >= 0
    assert all("\n" not in line for line in lines)


def test_the_security_headers_keep_the_answers_own_and_replace_its_cache_control() -> None:
    own = [(b"content-type", b"text/html"), (b"x-frame-options", b"SAMEORIGIN"),
           (b"cache-control", b"max-age=60")]  # fmt: skip
    app = _SecurityHeaders(_answer(own))
    for secret, path in ((True, "/api/v1/x"), (False, "/booth/")):
        headers = [(b"authorization", b"Basic x")] if secret else []
        start = _asgi_call(app, _scope(path, headers, None))[0]
        got = start["headers"]
        names = [name for name, _ in got]
        assert len(names) == len(set(names))  # each once
        answer = dict(got)
        assert answer[b"x-frame-options"] == b"SAMEORIGIN"  # the answer's own, kept
        assert answer[b"x-content-type-options"] == b"nosniff"
        assert answer[b"referrer-policy"] == b"no-referrer"
        assert answer[b"cache-control"] == (b"no-store" if secret else b"max-age=60")
        csp = answer[b"content-security-policy"].decode()
        assert csp == (SECURITY_HEADERS["Content-Security-Policy"] if secret else PAGE_CSP)


def test_a_log_record_with_an_exception_is_one_json_line_with_its_traceback() -> None:
    """uvicorn logs an exception that escaped the app with its traceback: one JSON line,
    the traceback's text in ``exception`` (no line of plain text in the log)."""
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.getLogger("uvicorn.error").makeRecord(
            "uvicorn.error", logging.ERROR, __file__, 1, "Exception in ASGI application", (),
            sys.exc_info(),
        )  # fmt: skip
    line = JsonLines().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "error" and entry["logger"] == "uvicorn.error"
    assert entry["exception"].startswith("Traceback (most recent call last):")
    assert entry["exception"].rstrip().endswith("ValueError: boom")


def test_uvicorns_own_lines_are_json_too(tmp_path: Path) -> None:
    """``viche serve`` with 2 workers: a request that is not HTTP makes uvicorn's worker
    warn "Invalid HTTP request received."; that line, like every line on standard error
    (the supervisor's and the workers', through SIGTERM), is a JSON object."""
    port = free_port()
    proc = subprocess.Popen(
        [*CLI, "serve", "--demo", "--voters", "2", "--data", str(tmp_path / "data"),
         "--port", str(port), "--workers", "2"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=cli_env(),
    )  # fmt: skip
    assert proc.stderr is not None
    try:
        wait_until_up(proc, port)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"NOT HTTP \x01\x02\r\n\r\n")
            assert s.recv(100).startswith(b"HTTP/1.1 400")
        time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
    lines = [line for line in err.decode().splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]  # every line: JSON, or this fails
    assert {
        "level": "warning", "logger": "uvicorn.error", "message": "Invalid HTTP request received."
    }.items() <= next(e for e in entries if e["logger"] == "uvicorn.error").items()  # fmt: skip
