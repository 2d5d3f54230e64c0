"""Read-model tables. Only projectors write them; queries read them."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, Column, DateTime, Index, Integer, String, Table, Text, Uuid

from crm.adapters.schema import metadata

restaurants = Table(
    "restaurants",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("frequency_cap_messages", Integer, nullable=False, server_default="0"),  # 0: no cap
    Column("frequency_cap_days", Integer, nullable=False, server_default="0"),
    Column("quiet_hours_start", String(5), nullable=True),  # local "HH:MM"; null: no quiet hours
    Column("quiet_hours_end", String(5), nullable=True),
    Index("ix_restaurants_created_at", "created_at"),
)

customers = Table(
    "customers",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("restaurant_id", Uuid, nullable=False),
    Column("email", String(254), nullable=False),
    Column("first_name", String(200), nullable=False),
    Column("last_name", String(200), nullable=False),
    Column("search_text", String(700), nullable=False),  # lower-cased email and names
    Column("total_spend_cents", BigInteger, nullable=False),
    Column("visit_count", Integer, nullable=False),
    Column("last_visit_at", DateTime(timezone=True), nullable=True),
    Column("first_visit_at", DateTime(timezone=True), nullable=True),  # for segment rules (migration 0014)
    Column("last_active_at", DateTime(timezone=True), nullable=False),  # last visit, else registration
    Column("created_at", DateTime(timezone=True), nullable=False),
    # Deleted customers stay as rows without personal data, so a campaign started before the
    # deletion still counts them in its audience (and skips them); every list hides them.
    Column("deleted_at", DateTime(timezone=True), nullable=True),
    Column("email_consent", String(20), nullable=False, server_default="subscribed"),
    Column("email_consent_changed_at", DateTime(timezone=True), nullable=True),  # null: rows from before 0007
    Column("erased_at", DateTime(timezone=True), nullable=True),  # erased: deleted too, no personal data
    Column("external_id", String(200), nullable=True),  # the customer's id elsewhere, set by an import
    # Lists read an index range in their order (then the id, for a stable order among equals).
    Index("ix_customers_restaurant_created", "restaurant_id", "created_at", "id"),
    Index("ix_customers_created", "created_at", "id"),
)
# The segments' indexes hold only customers not deleted: every list hides the others.
_NOT_DELETED = {"postgresql_where": customers.c.deleted_at.is_(None), "sqlite_where": customers.c.deleted_at.is_(None)}
Index(
    "ix_customers_restaurant_last_active",
    customers.c.restaurant_id,
    customers.c.last_active_at,
    customers.c.id,
    **_NOT_DELETED,
)
Index(
    "ix_customers_restaurant_spend",
    customers.c.restaurant_id,
    customers.c.total_spend_cents.desc(),
    customers.c.id,
    **_NOT_DELETED,
)
Index("ix_customers_last_active", customers.c.last_active_at, customers.c.id, **_NOT_DELETED)
Index("ix_customers_spend", customers.c.total_spend_cents.desc(), customers.c.id, **_NOT_DELETED)

# Every change of a customer's consent to marketing email (no personal data: ids, state, source).
consent_changes = Table(
    "consent_changes",
    metadata,
    Column("customer_id", Uuid, primary_key=True),
    Column("version", Integer, primary_key=True),  # the event's place in the customer's stream
    Column("email_consent", String(20), nullable=False),
    Column("source", String(20), nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False),
    Column("campaign_id", Uuid, nullable=True),  # the campaign whose link they used to unsubscribe
    Index("ix_consent_changes_campaign", "campaign_id"),
)

visits = Table(
    "visits",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("customer_id", Uuid, nullable=False),
    Column("restaurant_id", Uuid, nullable=False),
    Column("spend_cents", BigInteger, nullable=False),
    Column("visited_at", DateTime(timezone=True), nullable=False),
    Index("ix_visits_customer_visited", "customer_id", "visited_at", "id"),
    Index("ix_visits_restaurant_visited", "restaurant_id", "visited_at", "id"),
    Index("ix_visits_visited", "visited_at", "id"),
)

projection_tracking = Table(
    "projection_tracking",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("position", BigInteger, nullable=False),
)

# Events a projection could not apply (PROJECTION_ON_ERROR): kept until `crm projections retry`.
projection_dead_letters = Table(
    "projection_dead_letters",
    metadata,
    Column("projection", String(100), primary_key=True),
    Column("position", BigInteger, primary_key=True),  # the event's notification id
    Column("topic", String(255), nullable=False),
    Column("originator_id", Uuid, nullable=False),
    Column("originator_version", Integer, nullable=False),
    Column("error", Text, nullable=False),  # the exception's type and message, addresses removed
    Column("failed_at", DateTime(timezone=True), nullable=False),
    Column("resolved_at", DateTime(timezone=True), nullable=True),  # retried successfully
)

campaigns = Table(
    "campaigns",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("restaurant_id", Uuid, nullable=False),
    Column("name", String(200), nullable=False),
    Column("status", String(20), nullable=False),
    Column("segment_type", String(20), nullable=False),
    Column("segment_value", BigInteger, nullable=False),  # 0 unless a shorthand's
    Column("segment_rule", JSON, nullable=True),  # segment_type "rule": the campaign's own rule
    Column("segment_id", Uuid, nullable=True),  # segment_type "segment": the saved segment
    Column("subject", Text, nullable=False),
    Column("message_template", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=True),
    Column("completed_at", DateTime(timezone=True), nullable=True),
    Column("audience", Integer, nullable=True),  # null until resolved
    Column("excluded_unsubscribed", Integer, nullable=False, server_default="0"),  # left out of the audience
    Column("batch_count", Integer, nullable=False),
    Column("queued", Integer, nullable=False),
    Column("sent", Integer, nullable=False),
    Column("failed", Integer, nullable=False),
    Column("skipped", Integer, nullable=False),
    Column("progressed_at", DateTime(timezone=True), nullable=False),  # last outreach change
    Column("failed_retried_at", DateTime(timezone=True), nullable=True),  # retry-failed, once
    # The last start, resume or retry: the send rate counts the sends since, never across a pause.
    Column("sending_since", DateTime(timezone=True), nullable=True),
    Column("scheduled_for", DateTime(timezone=True), nullable=True),  # while scheduled: when it starts
    Column("recurrence", JSON, nullable=True),  # a recurring campaign's, while scheduled
    Column("recurrence_cooldown_days", Integer, nullable=True),
    Column("series_id", Uuid, nullable=True),  # an occurrence's recurring campaign
    Column("excluded_cooldown", Integer, nullable=False, server_default="0"),  # left out: messaged by the series
    Index("ix_campaigns_restaurant_created", "restaurant_id", "created_at"),
    Index("ix_campaigns_created", "created_at"),
    Index("ix_campaigns_status", "status"),
    Index("ix_campaigns_status_scheduled", "status", "scheduled_for"),  # the follower's due campaigns
    Index("ix_campaigns_series_created", "series_id", "created_at"),  # occurrences, the cooldown
)

campaign_batches = Table(
    "campaign_batches",
    metadata,
    Column("campaign_id", Uuid, primary_key=True),
    Column("number", Integer, primary_key=True),
    Column("finished", Boolean, nullable=False),
)

outreach_events = Table(
    "outreach_events",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("campaign_id", Uuid, nullable=False),
    Column("customer_id", Uuid, nullable=False),
    Column("restaurant_id", Uuid, nullable=False),
    Column("channel", String(20), nullable=False),
    Column("status", String(20), nullable=False),
    Column("error_message", Text, nullable=True),
    Column("attempts", Integer, nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_outreach_campaign_status", "campaign_id", "status", "created_at", "id"),
    Index("ix_outreach_campaign_created", "campaign_id", "created_at", "id"),
    Index("ix_outreach_restaurant_created", "restaurant_id", "created_at", "id"),
    Index("ix_outreach_customer_created", "customer_id", "created_at", "id"),  # timeline, export
    Index("ix_outreach_created", "created_at", "id"),
)

# Saved segments: a restaurant's named rules (the rule in its canonical JSON form).
segments = Table(
    "segments",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("restaurant_id", Uuid, nullable=False),
    Column("name", String(200), nullable=False),
    Column("rule", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_segments_restaurant_created", "restaurant_id", "created_at", "id"),
    Index("ix_segments_created", "created_at", "id"),
)

# CSV imports: where each stands, and the rows each rejected (the report).
imports = Table(
    "imports",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("restaurant_id", Uuid, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("filename", String(200), nullable=False),
    Column("status", String(20), nullable=False),
    Column("error", Text, nullable=True),
    Column("rows_total", Integer, nullable=False),
    Column("rows_done", Integer, nullable=False),
    Column("imported", Integer, nullable=False),
    Column("updated", Integer, nullable=False),
    Column("unchanged", Integer, nullable=False),
    Column("rejected", Integer, nullable=False),
    Column("started_by", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Index("ix_imports_restaurant_created", "restaurant_id", "created_at", "id"),
    Index("ix_imports_created", "created_at", "id"),
)

import_rejections = Table(
    "import_rejections",
    metadata,
    Column("import_id", Uuid, primary_key=True),
    Column("line", Integer, primary_key=True),
    Column("field", String(40), nullable=False),
    Column("reason", String(300), nullable=False),
)
