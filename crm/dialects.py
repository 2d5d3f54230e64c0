"""Dialect-specific SQL constructs that SQLAlchemy Core does not unify (INSERT ... ON CONFLICT)."""

from __future__ import annotations

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite


def insert(dialect_name: str, table: Table):
    """An INSERT for `table` that supports `on_conflict_do_update/nothing` on both databases."""
    if dialect_name == "postgresql":
        return postgresql.insert(table)
    if dialect_name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"unsupported database dialect: {dialect_name}")
