"""The national election event: the voter registry, constituencies and territorial units,
the occupied (excluded) units, the Electoral Code's ballots and seat allocation.

It stands at the service level: it may import ``crypto``, ``protocol``, ``record``,
``verify`` and ``service``; ``cli`` imports it. See ``docs/registry.md`` and ``docs/seats.md``.
"""
