"""``viche vote``'s client meets a server that answers wrongly or not at all (the audit of
2026-12-05): every case is a typed error naming what is wrong, never a KeyError or a
traceback, and a cast cut off mid-way says that the ballot may or may not be in."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from viche.errors import UsageError, VicheError
from viche.web.client import VotingClient

BASE = "http://server.test"


def _client(handler: Callable[[httpx.Request], httpx.Response]) -> VotingClient:
    http = httpx.Client(transport=httpx.MockTransport(handler), base_url=BASE)
    return VotingClient(BASE, http=http)


@pytest.mark.parametrize("url", ["notaurl", "ftp://x", "file:///etc/passwd", ""])
def test_an_address_that_is_not_http_is_named(url: str) -> None:
    with pytest.raises(UsageError, match="must start with http:// or https://"):
        VotingClient(url)


@pytest.mark.parametrize(
    "body", [{}, {"setup": 3}, {"setup": {}}, [], {"setup": {"election": None}}]
)
def test_a_malformed_election_detail_is_a_typed_error(body: object) -> None:
    client = _client(lambda _: httpx.Response(200, json=body))
    with pytest.raises(VicheError, match="unexpected answer"):
        client.setup("U" * 14)


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(201, json={}),
        httpx.Response(201, json={"receipt": 5}),
        httpx.Response(201, json=[1]),
        httpx.Response(201, content=b"<html>proxy</html>"),
    ],
)
def test_a_malformed_cast_answer_is_a_typed_error(answer: httpx.Response) -> None:
    client = _client(lambda _: answer)
    with pytest.raises(VicheError, match="unexpected answer"):
        client.cast("U" * 14, b"{}", "voter", "secret", published_key="k")


def test_a_cast_cut_off_says_the_ballot_may_be_in() -> None:
    def cut(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("Server disconnected", request=request)

    client = _client(cut)
    with pytest.raises(UsageError, match="may or may not have been recorded"):
        client.cast("U" * 14, b"{}", "voter", "secret", published_key="k")
