"""``viche monitor``: influence-campaign detection commands."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the ``monitor`` command group to ``app``."""
