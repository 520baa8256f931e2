"""The voting server's HTTP API (FastAPI), versioned under ``/api/v1``.

* :mod:`viche.web.app` — :func:`create_app`: the routers, the error handler, limits;
* :mod:`viche.web.errors` — ONE mapping from error classes to HTTP statuses; every error
  body is the error's ``to_dict()``;
* :mod:`viche.web.routers` — one router per resource, each a thin layer over
  :mod:`viche.service`.
"""
