"""Bad input over HTTP: a mutated ballot (one JSON node replaced, deleted or duplicated) is
answered with a 4xx and the error's code, never a 5xx, and the board is left unchanged."""

from __future__ import annotations

import io
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from json_mutation import ACTIONS, json_values, mutate_node
from support.web import Served
from viche.crypto.rng import SeededRandom
from viche.protocol import codec
from viche.service.ballot import generate_ballot
from viche.service.election_run import random_choices

LEAVES = st.none() | st.booleans() | st.integers() | st.text(max_size=8)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data(), action=st.sampled_from(ACTIONS))
def test_mutated_ballots_get_a_4xx_and_change_nothing(
    served: Served, data: st.DataObject, action: str
) -> None:
    s = served
    rng = SeededRandom("fuzz")
    e = s.prepared.election
    raw = generate_ballot(
        e, s.prepared.credentials, s.credential(1), random_choices(e, rng), rng
    ).raw
    before = io.BytesIO()
    s.store.write_archive(before)
    mutated: Any = mutate_node(
        data, codec.loads(raw), action, json_values(LEAVES, key_size=4, max_leaves=4)
    )
    body = codec.to_bytes(mutated) if data.draw(st.booleans()) else codec.dumps(mutated).encode()
    r = s.client.post(
        f"/api/v1/elections/{s.uuid}/ballots",
        content=body,
        headers={"Content-Type": "application/json"},
        auth=s.login(1),
    )
    if r.status_code == 201:  # a mutation that left the ballot valid (e.g. duplicated equal)
        assert body == raw
        return
    assert 400 <= r.status_code < 500, r.text
    assert r.json()["code"].startswith("V")
    after = io.BytesIO()
    s.store.write_archive(after)
    assert after.getvalue() == before.getvalue()
