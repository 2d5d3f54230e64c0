"""CRM Backend Service: an event-sourced CQRS backend for restaurants."""

__version__ = "0.1.0"
