"""Alembic environment: migrations run on the connection that Viche hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from viche.record.sql.schema import metadata

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):  # pragma: no cover - only Viche runs these
    raise RuntimeError("viche migrations run only through viche.record.sql.board.migrate")
context.configure(connection=connection, target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
