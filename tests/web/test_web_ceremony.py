"""A 2-of-3 threshold trustee set over the API: the Pedersen ceremony step by step (each
trustee with its own secret, running ``viche setup threshold`` on its own machine; each
message checked, refused with a typed error and its location when wrong, and refused in the
wrong step), then the vote, the tally decrypted by only two trustees, the result; the
archive passes belenios-tool and ``viche verify``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from json_mutation import ACTIONS, json_values, mutate_node
from support.belenios import tool_verifies
from support.cli import run_cli
from support.web import Drafted, bearer, download_archive, draft_over_api, vote_over_api
from viche.crypto.group import BELENIOS_2048
from viche.crypto.rng import SeededRandom
from viche.protocol import codec
from viche.protocol.threshold import generate_cert, make_polynomial, make_voutput
from viche.protocol.trustees import VInput
from viche.record.sql import SqlBoard
from viche.service.admin import (
    Draft,
    change_draft,
    create_draft,
    ensure_server_admin,
    load_draft,
)
from viche.service.demo import DEMO_TEMPLATE
from viche.service.hosting import Host
from viche.web.app import create_app
from viche.web.ops import OpsConfig

JSON = "application/json"


def _put(
    d: Drafted, n: int, what: str, body: str | bytes, secret: str | None = None
) -> httpx.Response:
    r = d.client.put(
        f"{d.base}/ceremony/trustees/{n}/{what}",
        content=body,
        headers=bearer(secret if secret is not None else d.trustees[n - 1], JSON),
    )
    return r


def _refused(
    r: httpx.Response, status: int, code: str, trustee: int | None = None
) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["code"] == code, body
    if trustee is not None:
        assert body["where"]["trustee"] == trustee, body
    assert isinstance(body, dict)
    return body


def _cli(*argv: str) -> str:
    run = run_cli(*argv)
    assert run.code == 0, run.stderr
    return run.stdout


@pytest.mark.interop
def test_two_of_three_trustees_over_the_api(
    board_url: str, tmp_path: Path, belenios_tool: str
) -> None:
    board = SqlBoard.open(board_url)
    host = Host(board, tmp_path / "keys")
    ensure_server_admin(board, tmp_path / "admin.secret")
    server = (tmp_path / "admin.secret").read_text().strip()
    rng = SeededRandom("ceremony-api")
    with TestClient(create_app(host, OpsConfig.unlimited())) as c:
        bad = {"template": DEMO_TEMPLATE, "trustees": 3, "threshold": 4}
        r = c.post("/api/v1/elections", json=bad, headers=bearer(server))
        _refused(r, 422, "V3000")
        spec = {"template": DEMO_TEMPLATE, "trustees": 3, "threshold": 2}
        d = draft_over_api(c, server, spec, ["ann", "ben", "cat"], rng)
        state = c.get(f"{d.base}/ceremony").json()
        assert state == {
            "threshold": 2, "trustees": 3, "step": 1,
            "certs": [], "polynomials": [], "voutputs": [],
        }  # fmt: skip
        # Single keys are not for this election
        _refused(
            c.put(f"{d.base}/trustees/1", content=b"{}", headers=bearer(d.trustees[0], JSON)),
            409, "V3005",
        )  # fmt: skip
        _refused(c.post(f"{d.base}/open", headers=bearer(d.administrator)), 409, "V3005")

        # step 1: each trustee makes its seed and certificate at home
        homes = [tmp_path / f"trustee{n}" for n in (1, 2, 3)]
        certs = []
        for n, home in enumerate(homes, start=1):
            home.mkdir()
            _cli("setup", "threshold", "step1", "--dir", str(home))
            (cert,) = home.glob("*.cert")
            certs.append(cert.read_text())
            if n == 1:
                _refused(_put(d, 1, "cert", certs[0], secret=d.trustees[1]), 401, "V9010")
                tampered = json.loads(certs[0])
                tampered["signature"]["challenge"] = tampered["signature"]["response"]
                body = _refused(_put(d, 1, "cert", json.dumps(tampered)), 422, "V2002", 1)
                assert body["where"]["path"][:2] == ["step 1", "cert"]
                _refused(_put(d, 1, "polynomial", "{}"), 409, "V3005", 1)
                _refused(c.get(f"{d.base}/ceremony/certs.jsons"), 409, "V3005")
            if n == 2:  # a trustee cannot pass another's certificate for its own
                _refused(_put(d, 2, "cert", certs[0]), 422, "V2004", 2)
            r = _put(d, n, "cert", certs[-1])
            assert r.status_code == 200, r.text
        assert r.json()["step"] == 3 and r.json()["certs"] == [1, 2, 3]
        _refused(_put(d, 3, "cert", certs[2]), 409, "V3005", 3)

        # step 3: polynomials, made from the published certs.jsons
        published = c.get(f"{d.base}/ceremony/certs.jsons").text
        assert published.splitlines() == [json.dumps(json.loads(x), separators=(",", ":"))
                                          for x in certs]  # fmt: skip
        polys = []
        for home in homes:
            (home / "certs.jsons").write_text(published)
            (key,) = home.glob("*.key")
            polys.append(_cli("setup", "threshold", "step3", "--certs", str(home / "certs.jsons"),
                              "--key", str(key), "--threshold", "2"))  # fmt: skip
        _refused(_put(d, 2, "polynomial", polys[0]), 422, "V2002", 2)  # trustee 1's signature
        _refused(c.get(f"{d.base}/ceremony/trustees/1/vinput",
                       headers=bearer(d.trustees[0])), 409, "V3005", 1)  # fmt: skip
        for n in (1, 2, 3):
            r = _put(d, n, "polynomial", polys[n - 1])
            assert r.status_code == 200, r.text
        assert r.json()["step"] == 5

        # step 5: each trustee checks its vinput, keeps its decryption key, uploads its voutput
        _refused(c.get(f"{d.base}/ceremony/trustees/2/vinput",
                       headers=bearer(d.trustees[0])), 401, "V9010")  # fmt: skip
        voutputs = []
        for n, home in enumerate(homes, start=1):
            r = c.get(f"{d.base}/ceremony/trustees/{n}/vinput", headers=bearer(d.trustees[n - 1]))
            assert r.status_code == 200, r.text
            (home / "mine.vinput").write_text(r.text)
            (key,) = home.glob("*.key")
            voutputs.append(_cli("setup", "threshold", "step5", "--certs",
                                 str(home / "certs.jsons"), "--key", str(key), "--vinput",
                                 str(home / "mine.vinput"), "--dir", str(home)))  # fmt: skip
        body = _refused(_put(d, 1, "voutput", voutputs[1]), 422, "V2004", 1)
        assert body["where"]["path"][:2] == ["step 5", "voutput"]
        _refused(c.get(f"{d.base}/ceremony/threshold.json"), 409, "V3005")
        for n in (1, 2, 3):
            r = _put(d, n, "voutput", voutputs[n - 1])
            assert r.status_code == 200, r.text
        assert r.json()["step"] == 7
        assert '"threshold":2' in c.get(f"{d.base}/ceremony/threshold.json").text
        _refused(_put(d, 1, "voutput", voutputs[0]), 409, "V3005", 1)

        r = c.post(f"{d.base}/open", headers=bearer(d.administrator))
        assert r.status_code == 200, r.text
        _refused(c.get(f"{d.base}/ceremony"), 409, "V3005")
        vote_over_api(d, host, "ann", [[0, 1, 0, 0, 0], [1, 0]], rng)
        vote_over_api(d, host, "ben", [[0, 1, 0, 0, 0], [0, 1]], rng)
        vote_over_api(d, host, "cat", [[0, 0, 0, 1, 0], [1, 0]], rng)
        assert c.post(f"{d.base}/close", headers=bearer(d.administrator)).status_code == 200

        # trustees 1 and 3 decrypt at home from the record as served; trustee 2 is away
        for n in (1, 3):
            home = homes[n - 1]
            download_archive(d, home / "record")
            (key,) = home.glob("*.key")
            (dkey,) = home.glob("*.dkey")
            lines = _cli("tally", "decrypt", "--dir", str(home / "record"), "--key", str(key),
                         "--decryption-key", str(dkey))  # fmt: skip
            r = c.post(f"{d.base}/trustees/{n}/decryption", content=lines,
                       headers=bearer(d.trustees[n - 1]))  # fmt: skip
            assert r.status_code == 200 and r.json()["count"] == n, r.text
        r = c.post(f"{d.base}/result", headers=bearer(d.administrator))
        assert r.status_code == 200, r.text
        assert r.json()[0]["counts"] == [2, 0, 1, 0] and r.json()[0]["blank"] == 0
        assert r.json()[1]["counts"] == [2, 1]

        archive = download_archive(d, tmp_path / "record")
        ok, err = tool_verifies(belenios_tool, archive.parent)
        assert ok, err
        verified = run_cli("verify", str(archive.parent), "--jobs", "1")
        assert verified.code == 0, verified.stdout + verified.stderr
    board.close()


# ---------------------------------------------------------------- bad messages, fuzzed

LEAVES = st.none() | st.booleans() | st.integers() | st.text(max_size=8)


@dataclass(frozen=True)
class Pending:
    """A draft whose ceremony waits for trustee 3's ``what`` (trustees 1 and 2 are in)."""

    draft: Drafted
    what: str
    message: bytes


@pytest.fixture()
def pending(board_url: str, tmp_path: Path) -> Iterator[list[Pending]]:
    """Three drafts (2-of-3), waiting for trustee 3's cert, polynomial and voutput."""
    board = SqlBoard.open(board_url)
    host = Host(board, tmp_path / "keys")
    ensure_server_admin(board, tmp_path / "admin.secret")
    server = (tmp_path / "admin.secret").read_text().strip()
    rng = SeededRandom("ceremony-fuzz")
    spec = {"template": DEMO_TEMPLATE, "trustees": 3, "threshold": 2}
    with TestClient(create_app(host, OpsConfig.unlimited())) as c:
        made = []
        for what in ("cert", "polynomial", "voutput"):
            d = draft_over_api(c, server, spec, ["ann"], rng)
            seeds, certs = zip(*(generate_cert(BELENIOS_2048, rng) for _ in range(3)), strict=True)
            cert_lines = [codec.to_bytes(x.to_json()) for x in certs]
            for n in (1, 2, 3) if what != "cert" else (1, 2):
                assert _put(d, n, "cert", cert_lines[n - 1]).status_code == 200
            if what == "cert":
                made.append(Pending(d, what, cert_lines[2]))
                continue
            polys = [
                codec.to_bytes(make_polynomial(BELENIOS_2048, certs, seed, 2, rng).to_json())
                for seed in seeds
            ]
            for n in (1, 2, 3) if what != "polynomial" else (1, 2):
                assert _put(d, n, "polynomial", polys[n - 1]).status_code == 200
            if what == "polynomial":
                made.append(Pending(d, what, polys[2]))
                continue
            voutputs = []
            for n in (1, 2, 3):
                vin = c.get(
                    f"{d.base}/ceremony/trustees/{n}/vinput", headers=bearer(d.trustees[n - 1])
                ).text
                vinput = VInput.from_json(codec.loads(vin))
                vo = make_voutput(BELENIOS_2048, certs, seeds[n - 1], vinput, rng)
                voutputs.append(codec.to_bytes(vo.to_json()))
            for n in (1, 2):
                assert _put(d, n, "voutput", voutputs[n - 1]).status_code == 200
            made.append(Pending(d, what, voutputs[2]))
        yield made
    board.close()


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data(), action=st.sampled_from(ACTIONS), which=st.integers(0, 2))
def test_mutated_ceremony_messages_get_a_4xx_and_change_nothing(
    pending: list[Pending], data: st.DataObject, action: str, which: int
) -> None:
    p = pending[which]
    before = p.draft.client.get(f"{p.draft.base}/ceremony").json()
    mutated: Any = mutate_node(
        data, codec.loads(p.message), action, json_values(LEAVES, key_size=4, max_leaves=4)
    )
    body = codec.to_bytes(mutated)
    assume(body != p.message)  # the drafts are shared by the examples: keep them pending
    r = _put(p.draft, 3, p.what, body)
    assert 400 <= r.status_code < 500, r.text
    assert r.json()["code"].startswith("V")
    assert p.draft.client.get(f"{p.draft.base}/ceremony").json() == before


def test_a_draft_change_is_redone_over_a_write_that_came_between(
    board_url: str, tmp_path: Path
) -> None:
    """Two roles writing a draft at once: the later write reads again and keeps the other's
    change (compare and swap), rather than overwriting it."""
    board = SqlBoard.open(board_url)
    made = create_draft(board, DEMO_TEMPLATE, SeededRandom("cas"), group="BELENIOS-2048",
                        trustees=3, threshold=2)  # fmt: skip
    calls = []

    def mine(d: Draft) -> None:
        calls.append(dict(d.certs))
        if len(calls) == 1:  # another trustee's upload lands between our read and write
            change_draft(board, made.uuid, lambda other: other.certs.update({"2": "theirs"}))
        d.certs["1"] = "mine"

    change_draft(board, made.uuid, mine)
    assert calls == [{}, {"2": "theirs"}]
    assert load_draft(board, made.uuid).certs == {"1": "mine", "2": "theirs"}
    board.close()
