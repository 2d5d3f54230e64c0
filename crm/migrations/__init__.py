"""Alembic environment and versions for the read model and the write side's key tables."""
