"""Election commands (one per role and step); filled in by the election core."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the election commands to ``app``."""
