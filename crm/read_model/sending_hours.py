"""Whether a running campaign waits for its restaurant's sending hours, derived from the
restaurant's quiet hours and the clock (no state of its own: a sender stops at the quiet
hours and the follower queues the batches again when they end)."""

from __future__ import annotations

from datetime import datetime

from crm.write_model.quiet_hours import QuietHours
from crm.write_model.vocabulary import TERMINAL_OUTREACH, CampaignStatus


def waiting_for_sending_hours(campaign: dict, now: datetime) -> dict | None:
    """For a running campaign with messages left whose restaurant is in its quiet hours at `now`:
    when sending resumes (`until`, UTC; `local` "HH:MM" and `timezone`) and the sentence the
    dashboard shows; else None. `campaign`: a row with `stats` and its restaurant's
    `restaurant_timezone`, `quiet_hours_start` and `quiet_hours_end`."""
    if campaign["status"] != CampaignStatus.RUNNING:
        return None
    stats = campaign["stats"]
    if stats["audience"] is not None and sum(stats[s] for s in TERMINAL_OUTREACH) >= stats["audience"]:
        return None  # nothing left to send: it completes
    zone = campaign.get("restaurant_timezone") or "UTC"
    quiet = QuietHours.of(campaign.get("quiet_hours_start"), campaign.get("quiet_hours_end"), zone)
    until = None if quiet is None else quiet.ends_at(now)
    if until is None:
        return None
    local = until.astimezone(quiet.zone).strftime("%H:%M")
    return {
        "until": until.isoformat(),
        "local": local,
        "timezone": zone,
        "text": f"Waiting for sending hours until {local} {zone}",
    }
