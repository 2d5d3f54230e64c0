"""The table the `simulated` delivery backend keeps its deliveries in (every process shares it)."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Integer, Table, Uuid

from crm.adapters.schema import metadata

simulated_deliveries = Table(
    "simulated_deliveries",
    metadata,
    Column("idempotency_key", Uuid, primary_key=True),
    Column("campaign_id", Uuid, nullable=False),
    Column("customer_id", Uuid, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("deliveries", Integer, nullable=False, server_default="0"),
    Column("delivered_at", DateTime(timezone=True), nullable=True),  # first successful send only
    Column("last_attempt_at", DateTime(timezone=True), nullable=False),
)
