"""Recurring campaigns on the campaign page: a series' recurrence in words and its latest
occurrences, an occurrence's link back to its series (template globals, read when the page is
drawn)."""

from __future__ import annotations

from uuid import UUID

from crm.http.context import crm
from crm.http.dashboard.base import bp, dashboard
from crm.write_model.recurrence import Recurrence

OCCURRENCES_SHOWN = 20


@bp.app_template_global()
def recurrence_words(campaign: dict) -> str | None:
    """A series' recurrence in words ("Every Monday at 09:00 Europe/Paris"); None if it does not recur."""
    if not campaign.get("recurrence"):
        return None
    return Recurrence.parse(campaign["recurrence"]).describe(campaign.get("restaurant_timezone") or "UTC")


@bp.app_template_global()
def occurrences_of(campaign_id: UUID) -> list[dict]:
    """A series' latest occurrences, newest first."""
    return crm().campaign_queries.series.occurrences(campaign_id, OCCURRENCES_SHOWN)


@bp.app_template_global()
def series_of(campaign: dict) -> dict | None:
    """An occurrence's series (None if it is not an occurrence, or its series was deleted)."""
    if campaign.get("series_id") is None:
        return None
    return dashboard().queries.campaign(campaign["series_id"])
