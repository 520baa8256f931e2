"""Schemathesis against the served API's OpenAPI document, in process (ASGI, no network).

:func:`fuzz_api` draws requests for every operation of ``/api/v1/openapi.json`` — valid ones
(positive mode) and ones that break the schema (negative mode) — sends them to the app of a
served election, and checks each answer:

* never a server error (5xx), never an exception out of the app;
* every 4xx has the error body with a stable code (``V…``);
* a refused request leaves the board as it was (the chain head of the served election
  unchanged): nothing invalid was accepted; and no fuzzed ballot is ever accepted.

Four requests in five address an election of the server (its uuid in the path) with
the credentials the operation asks for, so that the checks behind the authentication run
too: the served (open) election with voter 1's login for casting, or an election being set
up (a draft made here) with its administrator's, credential authority's or trustee 1's
secret; requests to create an election carry the server administrator's secret.
``tests/web/test_web_schemathesis.py`` runs it with a few examples per operation;
``bench/schemathesis_api/run.py`` with many.
"""

from __future__ import annotations

import base64
import collections
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.core.result import Err
from schemathesis.generation import GenerationMode

from support.web import Served

#: whom a request addresses: nobody's election and no credentials, the served election, the
#: draft; an operation on the other kind of election is refused before it reads the body
TARGETS = ("none", "served", "draft", "served", "draft")
#: operations whose answer never ends on its own: the live stream is asked to stop early
STREAMS = {"/api/v1/elections/{uuid}/events"}


@dataclass
class FuzzStats:
    """What the run sent: requests per operation and statuses seen."""

    requests: collections.Counter[str] = field(default_factory=collections.Counter)
    statuses: collections.Counter[int] = field(default_factory=collections.Counter)

    @property
    def total(self) -> int:
        return sum(self.requests.values())


def _basic(login: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{login}:{secret}".encode()).decode()


@dataclass(frozen=True)
class _Targets:
    served: str
    draft: str
    voter: str
    server_admin: str
    admin: str
    authority: str
    trustee: str

    def auth(self, target: str, path: str, method: str) -> str | None:
        if target == "served":
            return self.voter if path.endswith("/ballots") and method == "POST" else None
        if path == "/api/v1/elections":
            return self.server_admin
        if "/trustees/" in path:
            return self.trustee
        if path.endswith("/credentials") or (path.endswith("/voters") and method == "GET"):
            return self.authority
        return self.admin


def fuzz_api(served: Served, admin_secret: str, examples: int, seed: int = 0) -> FuzzStats:
    """Run every operation ``examples`` times; raise AssertionError (with the request,
    shrunk by Hypothesis) on the first answer that breaks a rule."""
    from viche.crypto.rng import SeededRandom
    from viche.service.admin import create_draft
    from viche.service.demo import DEMO_TEMPLATE

    s = served
    draft = create_draft(s.host.board, DEMO_TEMPLATE, SeededRandom("fuzz"), group="BELENIOS-2048",
                         trustees=1)  # fmt: skip
    targets = _Targets(
        served=s.uuid,
        draft=draft.uuid,
        voter=_basic(*s.login(1)),
        server_admin=f"Bearer {admin_secret}",
        admin=f"Bearer {draft.administrator}",
        authority=f"Bearer {draft.credential_authority}",
        trustee=f"Bearer {draft.trustees[0]}",
    )
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", s.client.app)
    stats = FuzzStats()
    for result in schema.get_all_operations():
        if isinstance(result, Err):  # the document itself is broken
            raise result.err()
        operation = result.ok()
        strategy = st.one_of(
            operation.as_strategy(GenerationMode.POSITIVE),
            operation.as_strategy(GenerationMode.NEGATIVE),
        )
        _fuzz_operation(s, operation, strategy, stats, targets, examples, seed)
    return stats


def _fuzz_operation(
    s: Served,
    operation: schemathesis.APIOperation,  # type: ignore[type-arg]
    strategy: st.SearchStrategy[Any],
    stats: FuzzStats,
    targets: _Targets,
    examples: int,
    seed: int,
) -> None:
    label = f"{operation.method.upper()} {operation.path}"

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=seed == 0,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy, target=st.sampled_from(TARGETS), stop=st.integers(0, 2))
    def run(case: Any, target: str, stop: int) -> None:  # a schemathesis.Case
        path = case.operation.path
        params = case.path_parameters if isinstance(case.path_parameters, dict) else None
        headers: dict[str, str] = {}
        if target != "none":
            if params is not None and "uuid" in params:
                params["uuid"] = targets.served if target == "served" else targets.draft
            if params is not None and "n" in params and target == "draft":
                params["n"] = 1
            auth = targets.auth(target, path, case.method)
            if auth is not None:  # replaces the one drawn from the security scheme
                if isinstance(case.headers, dict):
                    case.headers.pop("Authorization", None)
                headers["Authorization"] = auth
        if path in STREAMS:
            case.query = {**(case.query if isinstance(case.query, dict) else {}), "until": stop}
        before = s.store.head()
        response = case.call(headers=headers)
        stats.requests[label] += 1
        stats.statuses[response.status_code] += 1
        where = f"{label}: {case.as_curl_command(headers=headers)}"
        assert response.status_code < 500, f"{response.status_code} {response.text} {where}"
        if response.status_code >= 400:
            body = response.json()
            assert isinstance(body, dict) and str(body.get("code", "")).startswith("V"), where
            assert s.store.head() == before, f"a refused request changed the board: {where}"
        if case.method == "POST" and path.endswith("/ballots"):
            assert response.status_code != 201, f"a fuzzed ballot was accepted: {where}"

    (hypothesis.seed(seed)(run) if seed else run)()
