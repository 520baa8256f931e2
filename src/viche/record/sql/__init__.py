"""The SQL bulletin board (SQLite by default, PostgreSQL in production).

* :mod:`viche.record.sql.schema` — the tables;
* :mod:`viche.record.sql.migrations` — Alembic migrations, run when the board is opened;
* :mod:`viche.record.sql.board` — :class:`SqlBoard` (the database, many elections) and
  :class:`SqlElectionStore` (one election, an :class:`~viche.record.store.ElectionStore`).
"""

from viche.record.sql.board import SqlBoard, SqlElectionStore, engine_url, migrate

__all__ = ["SqlBoard", "SqlElectionStore", "engine_url", "migrate"]
