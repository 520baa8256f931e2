"""Schemathesis against the OpenAPI document (tests/support/api_fuzz.py): no server error,
every refusal typed, and nothing refused changes the board. A few examples per operation
here; bench/schemathesis_api/run.py runs many more."""

from __future__ import annotations

from pathlib import Path

from support.api_fuzz import fuzz_api
from support.web import Served
from viche.service.admin import ensure_server_admin

EXAMPLES = 10


def test_schemathesis_finds_no_server_error(served: Served, tmp_path: Path) -> None:
    secret_file = tmp_path / "admin.secret"
    ensure_server_admin(served.host.board, secret_file)
    stats = fuzz_api(served, secret_file.read_text().strip(), EXAMPLES)
    assert len(stats.requests) >= 15  # every operation of the document was exercised
    assert all(status < 500 for status in stats.statuses)
    assert any(400 <= status < 500 for status in stats.statuses)


def test_a_body_that_does_not_fit_the_model_is_a_typed_400(served: Served, tmp_path: Path) -> None:
    """Found by the campaign: a creation body of the wrong shape was a server error."""
    secret_file = tmp_path / "admin.secret"
    ensure_server_admin(served.host.board, secret_file)
    headers = {
        "Authorization": f"Bearer {secret_file.read_text().strip()}",
        "Content-Type": "application/json",
    }
    before = served.client.get("/api/v1/elections").json()
    for body, path in (
        (b'{"template": 5}', ["body", "template"]),
        (b"[]", ["body"]),
        (b'{"template": {}, "trustees": "x"}', ["body", "trustees"]),
    ):
        r = served.client.post("/api/v1/elections", content=body, headers=headers)
        assert r.status_code == 400, r.text
        assert r.json()["code"] == "V1001" and r.json()["where"]["path"] == path, r.text
    assert served.client.get("/api/v1/elections").json() == before
