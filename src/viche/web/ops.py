"""Operations: JSON access logs, rate limits, CORS (metrics and readiness are in
:mod:`viche.web.metrics` and :mod:`viche.web.app`).

* **Access logs**: one JSON object per request on the ``viche.access`` logger — time,
  method, route template (never the query string), status, duration, client address. No
  header, body or credential is ever logged (login secrets travel in ``Authorization``).
* **Rate limits**: token buckets per client address for every write (POST/PUT/DELETE) and
  per voter login for ballot casts; a request over the limit gets 429 with the error body
  and ``Retry-After``. Buckets live in memory, per process, at most ``max_keys`` of them
  (the least recently used are dropped).
* **CORS**: no cross-origin access unless origins are listed; a preflight from an origin
  not listed is refused (403). The API takes JSON bodies only (``application/json``), which
  a cross-site form cannot send without a preflight, and voters authenticate with HTTP
  Basic, not cookies: there is no cookie session to forge requests with (no CSRF token is
  needed; a test keeps it so).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import FastAPI, Request, Response
from starlette.middleware.base import RequestResponseEndpoint

from viche.errors import CrossOriginError, Location, RateLimitedError
from viche.web.errors import error_response

access_log = logging.getLogger("viche.access")

_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def configure_access_log() -> None:
    """Access log lines (already JSON) alone on standard error, once per process."""
    if access_log.handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    access_log.addHandler(handler)
    access_log.setLevel(logging.INFO)
    access_log.propagate = False


@dataclass(frozen=True)
class Rate:
    """``burst`` requests at once, refilled at ``per_second``."""

    per_second: float
    burst: int


@dataclass(frozen=True)
class OpsConfig:
    #: writes per client address; None: no limit
    address_rate: Rate | None = Rate(per_second=50.0, burst=200)
    #: ballot casts per voter login; None: no limit
    voter_rate: Rate | None = Rate(per_second=0.5, burst=10)
    #: origins allowed to call the API from a browser (exact ``scheme://host[:port]``)
    cors_origins: tuple[str, ...] = ()
    max_keys: int = 100_000

    @classmethod
    def unlimited(cls) -> OpsConfig:
        """No rate limits (benchmarks, tests that load the server)."""
        return cls(address_rate=None, voter_rate=None)


class RateLimiter:
    """Token buckets keyed by a string, at most ``max_keys`` kept (least recently used
    dropped). Thread-safe."""

    def __init__(
        self, rate: Rate, max_keys: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """0 when the request may go on (a token is taken), else the seconds to wait."""
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.pop(key, (float(self.rate.burst), now))
            tokens = min(float(self.rate.burst), tokens + (now - last) * self.rate.per_second)
            wait = 0.0
            if tokens >= 1.0:
                tokens -= 1.0
            else:
                wait = (1.0 - tokens) / self.rate.per_second
            self._buckets[key] = (tokens, now)
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
            return wait


def _route_template(request: Request) -> str:
    """The template of the route that served the request (``/…/{uuid}/ballots``): labels
    stay few, and no identifier reaches the metrics or the logs."""
    route = request.scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "(unmatched)"


_CAST_PATH = re.compile(r"/api/v1/elections/([^/]{1,64})/ballots")


def _client(request: Request) -> str:
    return request.client.host if request.client else "-"


_LOGIN = re.compile(r"[^:]{1,256}")


def _basic_login(request: Request) -> str | None:
    """The login of an HTTP Basic ``Authorization`` header (never the secret)."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or len(value) > 2048:
        return None
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    login = decoded.partition(":")[0]
    return login if _LOGIN.fullmatch(login) else None


def _limited(wait: float, what: str) -> Response:
    error = RateLimitedError(
        f"too many requests {what}: try again in {wait:.1f} s", where=Location(path=("request",))
    )
    response = error_response(error)
    response.headers["Retry-After"] = str(max(1, round(wait + 0.5)))
    return response


def install(app: FastAPI, config: OpsConfig) -> None:
    """Add access logs, rate limits and CORS to ``app``."""
    by_address = RateLimiter(config.address_rate, config.max_keys) if config.address_rate else None
    by_voter = RateLimiter(config.voter_rate, config.max_keys) if config.voter_rate else None
    origins = frozenset(config.cors_origins)

    @app.middleware("http")
    async def _operations(request: Request, call_next: RequestResponseEndpoint) -> Response:
        start = time.perf_counter()
        casting = request.method == "POST" and _CAST_PATH.fullmatch(request.url.path)
        origin = request.headers.get("origin")
        allowed_origin = origin is not None and origin in origins
        response: Response
        if request.method == "OPTIONS" and origin is not None:
            response = _preflight(allowed_origin)
        elif (
            by_address is not None
            and request.method in _WRITES
            and (wait := by_address.take(_client(request)))
        ):
            response = _limited(wait, "from this address")
        elif (
            by_voter is not None
            and casting
            and (login := _basic_login(request)) is not None
            and (wait := by_voter.take(f"{casting.group(1)}|{login}"))
        ):
            response = _limited(wait, "for this voter")
        else:
            response = await call_next(request)
        if allowed_origin and origin is not None:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Vary"] = "Origin"
        elapsed = time.perf_counter() - start
        route = _route_template(request)
        access_log.info(
            json.dumps(
                {
                    "time": round(time.time(), 3),
                    "method": request.method,
                    "route": route,
                    "status": response.status_code,
                    "ms": round(elapsed * 1000, 2),
                    "client": _client(request),
                },
                separators=(",", ":"),
            )
        )
        return response



def _preflight(allowed: bool) -> Response:
    if not allowed:
        return error_response(
            CrossOriginError(
                "cross-origin requests from this origin are not allowed",
                where=Location(path=("origin",)),
            )
        )
    return Response(
        status_code=204,
        headers={
            "Access-Control-Allow-Methods": "GET, POST",
            "Access-Control-Allow-Headers": "Authorization, Content-Type, Last-Event-ID",
            "Access-Control-Max-Age": "600",
        },
    )
