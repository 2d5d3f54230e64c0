"""CRM Backend Service: an event-sourced CQRS backend for restaurants."""

from crm.lean_imports import defer_sqlalchemy_utils

__version__ = "0.1.0"

defer_sqlalchemy_utils()  # before anything imports eventsourcing-sqlalchemy
