"""Influence monitor: finds coordinated influence campaigns in posts and articles.

Independent of the election side: nothing here imports ``viche.crypto``, ``viche.protocol``,
``viche.record`` or ``viche.verify`` (an import-linter contract in ``pyproject.toml``).

The monitor's tables, graphs and plots need the optional extra ``monitor`` (numpy, pandas,
networkx, matplotlib); the election side never imports them. :func:`require_extra` is called
by every ``viche monitor`` command before anything else.
"""

from __future__ import annotations

import importlib.util

from viche.errors import Location, MissingDependencyError

EXTRA_MODULES = ("numpy", "pandas", "networkx", "matplotlib")
INSTALL_HINT = (
    "the influence monitor needs the optional extra 'monitor' (numpy, pandas, networkx, "
    "matplotlib): pip install -e '.[monitor]'  (or: pip install 'viche[monitor]')"
)


def missing_modules() -> list[str]:
    """The modules of the ``monitor`` extra that are not installed."""
    return [m for m in EXTRA_MODULES if importlib.util.find_spec(m) is None]


def require_extra() -> None:
    """Raise :class:`MissingDependencyError` unless the ``monitor`` extra is installed."""
    missing = missing_modules()
    if missing:
        where = Location(path=("viche monitor",))
        raise MissingDependencyError(f"{INSTALL_HINT}; missing: {', '.join(missing)}", where=where)
