"""The ballot box endpoint: every Ballot event's tracker, a page at a time."""

from __future__ import annotations

from support.web import Served
from viche.crypto.hashing import sha256_hex
from viche.protocol.ballot import smart_ballot_tracker


def _cast(s: Served, n: int, seed: str) -> dict[str, object]:
    raw, body = s.cast(n, seed)
    assert body["tracker"] == smart_ballot_tracker(raw)
    return {"height": body["height"], "tracker": body["tracker"], "hash": sha256_hex(raw),
            "event_hash": body["event_hash"]}  # fmt: skip


def test_the_ballot_box_lists_every_tracker_in_pages(served: Served) -> None:
    s = served
    url = f"/api/v1/elections/{s.uuid}/ballots"
    assert s.client.get(url).json() == {"ballots": [], "next": None}
    cast = [_cast(s, n, "box") for n in (1, 2, 3)] + [_cast(s, 1, "again")]  # a re-vote too
    assert s.client.get(url).json() == {"ballots": cast, "next": None}
    first = s.client.get(url, params={"limit": 3}).json()
    assert first == {"ballots": cast[:3], "next": 3}
    rest = s.client.get(url, params={"limit": 3, "after": first["next"]}).json()
    assert rest == {"ballots": cast[3:], "next": None}
    for bad in ({"limit": 0}, {"limit": 10_001}, {"after": -2}, {"after": "x"}):
        r = s.client.get(url, params=bad)
        assert r.status_code == 400 and r.json()["code"].startswith("V"), r.text
    assert s.client.get("/api/v1/elections/NoSuchElection123/ballots").status_code == 404
