"""The application factory uvicorn runs (``viche serve``), configured by the environment.

``VICHE_DATABASE`` (a database URL), ``VICHE_KEYS`` (the folder of receipt keys) and
``VICHE_METRICS`` (the folder where the workers share their counters) are set by ``viche
serve`` before uvicorn starts its worker processes; each worker opens its own
connection pool on the same board.
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI

from viche.errors import UsageError
from viche.record.sql import SqlBoard
from viche.service.hosting import Host
from viche.web.app import create_app
from viche.web.ops import OpsConfig, configure_access_log

ENV_DATABASE = "VICHE_DATABASE"
ENV_KEYS = "VICHE_KEYS"
#: the folder where the worker processes share their metrics (:mod:`viche.web.metrics`)
ENV_METRICS = "VICHE_METRICS"
#: ``off`` turns the rate limits off (benchmarks that load the server from one address)
ENV_LIMITS = "VICHE_RATE_LIMITS"


def build_app() -> FastAPI:
    url = os.environ.get(ENV_DATABASE)
    keys = os.environ.get(ENV_KEYS)
    if not url or not keys:
        raise UsageError(f"{ENV_DATABASE} and {ENV_KEYS} must be set (use viche serve)")
    configure_access_log()
    ops = OpsConfig.unlimited() if os.environ.get(ENV_LIMITS) == "off" else OpsConfig()
    shared = os.environ.get(ENV_METRICS)
    return create_app(
        Host(SqlBoard.open(url), Path(keys)), ops, Path(shared) if shared else None
    )
