"""The national election event: the voter registry, constituencies and territorial units,
the occupied (excluded) units, the Electoral Code's ballots and seat allocation; one
Belenios election per ballot style, polling stations, channels (online, station, relay)
and the signed logs that live beside the archives.

It stands at the service level: it may import ``crypto``, ``protocol``, ``record``,
``verify`` and ``service``; ``cli`` imports it. See ``docs/registry.md``, ``docs/seats.md``
and ``docs/event.md``.
"""
