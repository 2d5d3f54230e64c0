"""Which stream owns which: a customer's visits, each its own stream in the event log.

Written in the transaction that inserts the owned stream's first event (see
`CoreApplicationRecorder`), so it never disagrees with the log; it lets a customer's history
gather their visits without a scan of the log and without the read model.
"""

from __future__ import annotations

from sqlalchemy import Column, Index, Table, Uuid

from crm.adapters.schema import metadata

stream_owners = Table(
    "stream_owners",
    metadata,
    Column("stream_id", Uuid, primary_key=True),
    Column("owner_id", Uuid, nullable=False),
    Index("ix_stream_owners_owner", "owner_id"),
)
