"""The cast route's own dispatch (:class:`viche.web.routers.ballots.CastRoute`) answers every
cast as the FastAPI route answers it, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.routing import APIRoute
from starlette.types import Receive, Scope, Send

from support.web import Served
from viche.web.routers import ballots

_IGNORED = {"date", "content-length"}


def _answers(s: Served, voter: int, other: int) -> list[tuple[int, dict[str, str], Any]]:
    """A cast accepted and the refusals a cast can meet (status, headers, the body's
    stable parts), voter ``voter`` casting (``other``: a voter who has not cast); and the
    cast path's GET (the record's ballots) and PUT (405), which are no casts."""
    url = f"/api/v1/elections/{s.uuid}/ballots"
    login = s.login(voter)
    json_type = {"Content-Type": "application/json"}
    raw = s.ballot(voter, "route")
    sent = [
        s.client.post(url, content=raw, headers=json_type, auth=login),
        s.client.post(url, content=raw, headers=json_type, auth=login),  # replayed
        s.client.post(url, content=s.ballot(other, "route"), headers=json_type, auth=login),
        s.client.post(url, content=raw.replace(b'{"', b'{ "', 1), headers=json_type, auth=login),
        s.client.post(url, content=raw, headers={"Content-Type": "text/plain"}, auth=login),
        s.client.post(url, content=b"[" + b"0," * 400_000 + b"0]", headers=json_type, auth=login),
        s.client.post(url, content=raw, headers=json_type, auth=(login[0], "wrong")),
        s.client.post(url, content=raw, headers=json_type),  # no login: the route's 401
        s.client.post(url, content=raw, headers={**json_type, "Authorization": "Basic %%"}),
        s.client.post(
            "/api/v1/elections/NoSuchElection123/ballots",
            content=raw,
            headers=json_type,
            auth=login,
        ),
        s.client.post(
            f"/api/v1/elections/{'x' * 65}/ballots", content=raw, headers=json_type, auth=login
        ),
        s.client.get(url, auth=login),
        s.client.put(url, content=raw, headers=json_type, auth=login),
    ]
    out: list[tuple[int, dict[str, str], Any]] = []
    for r in sent:
        headers = {k: v for k, v in r.headers.items() if k not in _IGNORED}
        body = r.json()
        kept: tuple[Any, ...]
        if r.status_code < 400:
            kept = (sorted(body), body.get("revote"))
        else:  # its location's parts (a ballot's tracker differs between voters)
            where = body["where"]
            kept = (body["code"], sorted(where), where.get("path"))
        out.append((r.status_code, headers, kept))
    return out


def test_the_casts_own_dispatch_answers_as_the_route(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each cast answered by the dispatch (accepted, replayed, another voter's ballot, not
    canonical, wrong media type, too large, wrong secret, unknown election, a uuid no
    route takes) gets the status, headers and error code and location that the FastAPI
    route gives, without the router: the route's handler is not reached. A cast without
    a readable login, a path the dispatch does not take and the other methods go on to the
    router (401, 404; 200, 405)."""
    routed: list[tuple[str, str]] = []
    handle = APIRoute.handle

    async def recorded(self: APIRoute, scope: Scope, receive: Receive, send: Send) -> None:
        routed.append((scope["method"], self.path))
        await handle(self, scope, receive, send)

    monkeypatch.setattr(APIRoute, "handle", recorded)
    own = _answers(served, 1, 3)
    cast_route = "/api/v1/elections/{uuid}/ballots"
    # only the casts without a readable login, the uuid of 65 characters and the GET
    assert [m for m, path in routed if path == cast_route] == ["POST", "POST", "POST", "GET"]
    assert own[0][0] == 201 and own[0][2][1] is False

    async def through_the_router(
        self: ballots.CastRoute, scope: Scope, receive: Receive, send: Send
    ) -> None:
        await self.app(scope, receive, send)

    monkeypatch.setattr(ballots.CastRoute, "__call__", through_the_router)
    routed.clear()
    by_route = _answers(served, 2, 4)
    assert [m for m, path in routed if path == cast_route].count("POST") == 11
    assert own == by_route
    assert [status for status, _, _ in own] == [
        201, 409, 422, 400, 415, 413, 401, 401, 401, 404, 404, 200, 405,
    ]  # fmt: skip
