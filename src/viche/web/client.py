"""A client of the voting server's API: what ``viche vote``, ``viche trustee`` and
``viche authority`` use.

The ballot is made locally (the server never sees the private credential nor the choices);
the setup objects are fetched by hash and their hashes checked, the receipt's signature and
key are checked against the election's published key before it is saved. A role (trustee N,
the credential authority) sends only public messages made on its own machine
(:class:`RoleClient`); its secret goes in the Authorization header, never in a URL.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import httpx

from viche.crypto.group import Group, group_by_name
from viche.crypto.hashing import sha256_hex
from viche.crypto.rng import RandomSource
from viche.errors import (
    NOWHERE,
    HashMismatchError,
    Location,
    NotOpenYetError,
    ProofError,
    ServerBusyError,
    UsageError,
    VicheError,
)
from viche.event.relay import Outcome
from viche.protocol import codec
from viche.protocol.election import Election, PublicCredentials
from viche.service.ballot import generate_ballot
from viche.service.files import write_bytes
from viche.service.mirror import http_address
from viche.service.receipts import SignedReceipt, parse_receipt

TIMEOUT = httpx.Timeout(60.0, connect=10.0)
#: seconds ``cast`` keeps sending a ballot again while the server answers that it is full
BUSY_PATIENCE = 600.0
#: the share of the wait a full server asks for that a client adds, at random, and its cap
JITTER = 0.2
JITTER_CAP = 1.0
#: a ``retry_after_ms`` beyond this (an hour) is not a wait the client takes
MAX_WAIT_MS = 3_600_000
_jitter = secrets.SystemRandom()


def busy_wait(status: int, retry_after: str, body: bytes) -> float | None:
    """The seconds to wait before sending the same request again, when the server answered
    that it is full (503, code V9016): the body's ``retry_after_ms`` when it has one, else
    the ``Retry-After`` header (whole seconds); None for any other answer."""
    if status != 503:
        return None
    try:
        answer = json.loads(body)
    except ValueError:
        return None
    if not isinstance(answer, dict) or answer.get("code") != ServerBusyError.code:
        return None
    ms = answer.get("retry_after_ms")
    if type(ms) is int and 0 < ms <= MAX_WAIT_MS:
        return ms / 1000
    if retry_after.isdigit() and len(retry_after) <= 6:
        return float(retry_after)
    return None


def retry_after(response: httpx.Response) -> float | None:
    """:func:`busy_wait` of an httpx answer."""
    return busy_wait(
        response.status_code, response.headers.get("retry-after", ""), response.content
    )


def jittered(wait: float, uniform: Callable[[float, float], float]) -> float:
    """``wait`` and up to :data:`JITTER` of it more, at random (at most
    :data:`JITTER_CAP` seconds more): voters told the same wait do not all come back at
    the same instant, and none comes back much later than the server asked."""
    return wait + uniform(0.0, min(JITTER * wait, JITTER_CAP))


@dataclass(frozen=True)
class Cast:
    tracker: str
    height: int
    revote: bool
    receipt: SignedReceipt


def raise_for_answer(response: httpx.Response, where: Location) -> None:
    if response.status_code < 400:
        return
    try:
        body = response.json()
        code, message = str(body["code"]), str(body["message"])
        at = str(body.get("at", ""))
    except (ValueError, KeyError, TypeError):
        raise UsageError(f"the server answered HTTP {response.status_code}", where=where) from None
    if code == NotOpenYetError.code:  # a scheduled election, or one still being set up
        opens = body.get("opens")
        raise NotOpenYetError(
            f"{message}: the server takes ballots once it is open; vote again then",
            where=where,
            opens=opens if isinstance(opens, str) else None,
        )
    raise VicheError(
        f"the server refused (HTTP {response.status_code}): {message}"
        + (f" (at {at})" if at else ""),
        where=where,
        code=code,
    )


class VotingClient:
    def __init__(self, url: str, http: httpx.Client | None = None) -> None:
        """``http``: a client to use instead of a new one (tests pass FastAPI's TestClient)."""
        self.base = http_address(url).rstrip("/")
        self.http = http or httpx.Client(base_url=self.base, timeout=TIMEOUT)

    def close(self) -> None:
        self.http.close()

    def _send(
        self, method: str, path: str, *, check: bool = True, lost: str = "", **request: Any
    ) -> httpx.Response:
        """One request to the server: an unreachable server is a :class:`UsageError`, and
        (``check``) a refusal raises its typed error (:func:`raise_for_answer`). ``lost``:
        what to tell when the connection broke after the request may have reached the
        server (it may have been carried out)."""
        where = Location(file=self.base + path)
        try:
            response = self.http.request(method, path, **request)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.UnsupportedProtocol) as exc:
            raise UsageError(
                f"cannot reach the server: {type(exc).__name__}", where=where
            ) from None
        except httpx.HTTPError as exc:
            raise UsageError(
                f"the connection to the server broke before its answer: {type(exc).__name__}"
                + (f"; {lost}" if lost else ""),
                where=where,
            ) from None
        if check:
            raise_for_answer(response, where)
        return response

    def _get(self, path: str) -> httpx.Response:
        return self._send("GET", path)

    def election(self, uuid: str) -> dict[str, Any]:
        detail = self._get(f"/api/v1/elections/{uuid}").json()
        if not isinstance(detail, dict):
            raise UsageError("unexpected answer", where=Location(path=("election",)))
        return detail

    def object(self, uuid: str, digest: str) -> bytes:
        raw = self._get(f"/api/v1/elections/{uuid}/objects/{digest}").content
        if sha256_hex(raw) != digest:
            raise HashMismatchError(
                "the server sent an object whose hash is not the one asked for",
                where=Location(member=digest),
            )
        return raw

    def setup(self, uuid: str) -> tuple[dict[str, Any], Election, PublicCredentials]:
        detail = self.election(uuid)
        hashes = detail.get("setup")
        wanted = ("election", "credentials")
        if not isinstance(hashes, dict) or not all(isinstance(hashes.get(k), str) for k in wanted):
            raise UsageError(
                "unexpected answer: no setup hashes", where=Location(path=("election", "setup"))
            )
        election = Election.from_bytes(self.object(uuid, hashes["election"]))
        if election.uuid != uuid:
            raise UsageError("the server sent another election", where=Location(member=uuid))
        credentials = PublicCredentials.from_bytes(self.object(uuid, hashes["credentials"]))
        return detail, election, credentials

    def request_code(self, uuid: str, login: str) -> int:
        """Ask the server to mail ``login`` a one-time code; returns its lifetime (s)."""
        path = f"/api/v1/elections/{uuid}/codes"
        where = Location(file=self.base + path)
        response = self._send("POST", path, json={"login": login})
        ttl = response.json().get("expires_in")
        if not isinstance(ttl, int):
            raise UsageError("unexpected answer", where=where)
        return ttl

    def vote(
        self,
        uuid: str,
        *,
        private_credential: str,
        choices: list[list[int]],
        login: str,
        secret: str,
        rng: RandomSource,
    ) -> Cast:
        detail, election, credentials = self.setup(uuid)
        key = detail.get("receipt_key")
        if not isinstance(key, str):
            where = Location(path=("election", "receipt_key"))
            raise UsageError("unexpected answer: no receipt key", where=where)
        ballot = generate_ballot(election, credentials, private_credential, choices, rng)
        return self.cast(uuid, ballot.raw, login, secret, published_key=key)

    def cast(
        self,
        uuid: str,
        raw: bytes,
        login: str,
        secret: str,
        *,
        published_key: str,
        patience: float = BUSY_PATIENCE,
        sleep: Callable[[float], None] = time.sleep,
    ) -> Cast:
        """Cast ``raw``; when the server is full (503, V9016) wait as long as it asks
        (:func:`retry_after`: milliseconds, else whole seconds; and up to a fifth more, at
        random, :func:`jittered`) and send the same ballot again, for at most ``patience``
        seconds in all. (No ``Expect: 100-continue``: httpx sends the body with the head
        whatever the header says, so asking would spare neither side its upload; the
        server answers such a client correctly all the same, :mod:`viche.web.admission`.)"""
        path = f"/api/v1/elections/{uuid}/ballots"
        where = Location(file=self.base + path)
        waited = 0.0
        while True:
            response = self._send(
                "POST",
                path,
                check=False,
                lost=(
                    "the ballot may or may not have been recorded: look for its tracker in "
                    "the ballot box, or vote again (the last ballot counts)"
                ),
                content=raw,
                headers={"Content-Type": "application/json"},
                auth=(login, secret),
            )
            told = retry_after(response)
            if told is None or waited + told > patience:
                break
            delay = jittered(told, _jitter.uniform)
            sleep(delay)
            waited += delay
        raise_for_answer(response, where)
        try:
            body = response.json()
            receipt, revote = body["receipt"], body["revote"]
        except (ValueError, KeyError, TypeError):
            raise UsageError("unexpected answer: no receipt", where=where) from None
        if not isinstance(receipt, dict) or not isinstance(revote, bool):
            raise UsageError("unexpected answer: no receipt", where=where)
        signed = parse_receipt(codec.to_bytes(receipt), NOWHERE.sub("receipt"))
        r = signed.receipt
        if r.key != published_key:
            raise ProofError(
                "the receipt is not signed with the election's published key", where=where
            )
        if r.ballot_hash != sha256_hex(raw) or r.election != uuid:
            raise ProofError("the receipt is for another ballot", where=where)
        return Cast(r.tracker, r.height, revote, signed)


class RoleClient(VotingClient):
    """One role of one election (trustee N, the credential authority), authenticated by its
    secret as a Bearer token."""

    def __init__(self, url: str, uuid: str, secret: str, http: httpx.Client | None = None) -> None:
        super().__init__(url, http)
        self.uuid = uuid
        self._secret = secret

    def __repr__(self) -> str:
        return f"RoleClient({self.base!r}, {self.uuid!r})"

    def _call(
        self, method: str, path: str, content: bytes | None = None, content_type: str = ""
    ) -> httpx.Response:
        path = f"/api/v1/elections/{self.uuid}{path}"
        headers = {"Authorization": f"Bearer {self._secret}"}
        if content_type:
            headers["Content-Type"] = content_type
        return self._send(method, path, content=content, headers=headers)

    def _json_object(self, response: httpx.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise UsageError("unexpected answer", where=Location(file=str(response.url)))
        return body

    def group(self) -> Group:
        """The group of the election being set up (as its administrator created it)."""
        found = self._json_object(self._call("GET", "/draft")).get("group")
        if not isinstance(found, str):
            raise UsageError("unexpected answer", where=Location(member="draft"))
        return group_by_name(found, where=Location(file=f"{self.base} draft", path=("group",)))

    # ---------------------------------------------------------------- trustees

    def ceremony(self) -> dict[str, Any]:
        """The Pedersen ceremony's state (threshold, trustees, step, who is in)."""
        return self._json_object(self._call("GET", "/ceremony"))

    def certs_jsons(self) -> str:
        return self._call("GET", "/ceremony/certs.jsons").text

    def vinput(self, n: int) -> str:
        return self._call("GET", f"/ceremony/trustees/{n}/vinput").text

    def put_ceremony_message(self, n: int, what: str, line: str) -> dict[str, Any]:
        """Step 1, 3 or 5's message (``cert``, ``polynomial``, ``voutput``); the new state."""
        answer = self._call(
            "PUT", f"/ceremony/trustees/{n}/{what}", line.encode(), "application/json"
        )
        return self._json_object(answer)

    def put_trustee_key(self, n: int, line: str) -> None:
        self._call("PUT", f"/trustees/{n}", line.encode(), "application/json")

    def archive(self) -> bytes:
        """The election's public record (.bel) as served now."""
        return self._call("GET", "/archive.bel").content

    def post_lines(self, n: int, what: str, text: str) -> int:
        """A trustee's two lines (``shuffle`` or ``decryption``); the owner the server read."""
        answer = self._json_object(
            self._call("POST", f"/trustees/{n}/{what}", text.encode(), "text/plain")
        )
        count = answer.get("count")
        if not isinstance(count, int):
            raise UsageError("unexpected answer", where=Location(member=what))
        return count

    # ---------------------------------------------------------------- credential authority

    def voters(self) -> str:
        """The voter roll (address,login[,weight] lines)."""
        return self._call("GET", "/voters").text

    def put_credentials(self, pubcreds: bytes) -> int:
        answer = self._json_object(self._call("PUT", "/credentials", pubcreds, "application/json"))
        count = answer.get("count")
        if not isinstance(count, int):
            raise UsageError("unexpected answer", where=Location(member="credentials"))
        return count


class EventClient(VotingClient):
    """A national event on a voting server (``/api/v1/events/{id}``): its published folder,
    and a unit relay's batch upload (authenticated by the relay's secret, a Bearer token)."""

    def __init__(self, url: str, event: str, http: httpx.Client | None = None) -> None:
        super().__init__(url, http)
        self.event = event
        self.path = f"/api/v1/events/{event}"

    def __repr__(self) -> str:
        return f"EventClient({self.base!r}, {self.event!r})"

    def detail(self) -> dict[str, Any]:
        body = self._get(self.path).json()
        if not isinstance(body, dict) or not isinstance(body.get("styles"), list):
            raise UsageError("unexpected answer", where=Location(file=self.base + self.path))
        return body

    def download(self, out: Path) -> list[Path]:
        """The event's published files and each style's ``.bel`` (at the path the manifest
        gives) into ``out``: a folder ``viche verify DIR`` checks. Returns the files."""
        detail = self.detail()
        names = [str(n) for n in detail.get("files", [])]
        names += [str(s["archive"]) for s in detail["styles"] if isinstance(s, dict)]
        written: list[Path] = []
        for name in names:
            parts = PurePosixPath(name).parts
            if not parts or any(p in ("", ".", "..") for p in parts) or name.startswith("/"):
                raise UsageError(f"the server names an unsafe path {name!r}",
                                 where=Location(file=self.base + self.path))  # fmt: skip
            target = out.joinpath(*parts)
            write_bytes(target, self._get(f"{self.path}/{name}").content)
            written.append(target)
        return written

    def upload_batch(self, unit: str, secret: str, batch_id: str, ballots: list[bytes]) -> list[
            Outcome]:  # fmt: skip
        """Send a relay's batch; each ballot's receipt is checked (the event's receipt key,
        this ballot) before it is returned."""
        receipt_key = str(self.detail()["receipt_key"])
        path = f"{self.path}/relays/{unit}/batches"
        where = Location(file=self.base + path)
        response = self._send(
            "POST",
            path,
            content=b"".join(b + b"\n" for b in ballots),
            headers={"Content-Type": "text/plain", "Authorization": f"Bearer {secret}"},
        )
        body = response.json()
        items = body.get("outcomes") if isinstance(body, dict) else None
        if not isinstance(items, list) or len(items) != len(ballots) or body["batch"] != batch_id:
            raise UsageError("the server's answer is not about this batch", where=where)
        out: list[Outcome] = []
        for n, (item, raw) in enumerate(zip(items, ballots, strict=True), start=1):
            at = where.sub("outcomes", str(n))
            h = sha256_hex(raw)
            if not isinstance(item, dict) or item.get("ballot_hash") != h:
                raise UsageError("the server's answer names another ballot", where=at)
            if item.get("accepted") is not None:
                signed = parse_receipt(codec.to_bytes(item["accepted"]), at)
                if signed.receipt.key != receipt_key or signed.receipt.ballot_hash != h:
                    raise ProofError("a receipt not signed by the event or for another ballot",
                                     where=at)  # fmt: skip
                out.append(Outcome(signed.receipt.tracker, h, signed, None))
                continue
            refused = item.get("refused")
            if not isinstance(refused, dict):
                raise UsageError("an outcome neither accepted nor refused", where=at)
            try:
                loc = Location.from_dict(refused.get("where") or {})
            except (ValueError, TypeError):
                loc = at
            error = VicheError(str(refused.get("message", "")), where=loc,
                               code=str(refused.get("code", "V0000")))  # fmt: skip
            out.append(Outcome(str(item.get("tracker", "")), h, None, error))
        return out
