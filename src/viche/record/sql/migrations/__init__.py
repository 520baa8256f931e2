"""Alembic migrations of the SQL bulletin board, run by :func:`viche.record.sql.board.migrate`."""
