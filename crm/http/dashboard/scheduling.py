"""Scheduling a draft from its page: the start is typed as a local date and time (a
datetime-local input) and read in the campaign's restaurant's time zone."""

from __future__ import annotations

from datetime import datetime, timezone
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import abort, flash, redirect, request, url_for

from crm.http.context import crm
from crm.http.dashboard.base import actor, bp, dashboard
from crm.http.dashboard.customers import restaurant_time
from crm.http.responses import caught_up
from crm.write_model.errors import CampaignNotFound, Conflict, InvalidInput

_TYPED = ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S")  # what a datetime-local input sends


def zone_of(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_moment(typed: str, zone: ZoneInfo) -> datetime:
    """The moment a local date and time names in `zone`; ValueError with the message to show if
    it is not a date and time, or if the zone's clocks skip it (a change to summer time)."""
    for form in _TYPED:
        try:
            naive = datetime.strptime(typed.strip(), form)
            break
        except ValueError:
            continue
    else:
        raise ValueError("enter a date and time, such as 2027-01-31 09:00")
    moment = naive.replace(tzinfo=zone)
    if moment.astimezone(timezone.utc).astimezone(zone).replace(tzinfo=None) != naive:
        raise ValueError(f"{naive:%Y-%m-%d %H:%M} does not exist in {zone.key}: the clocks skip it")
    return moment


@bp.app_template_global()
def local_now(zone_name: str | None) -> str:
    """Now in the zone, as a datetime-local input's value (its `min`)."""
    return crm().clock().astimezone(zone_of(zone_name)).strftime("%Y-%m-%dT%H:%M")


@bp.route("/campaigns/<uuid:campaign_id>/schedule/", methods=["POST"])
def schedule(campaign_id: UUID):
    """Schedule a draft to start at the date and time typed, in its restaurant's time zone; a
    time refused (past, too far ahead, skipped) or a campaign that is no longer a draft is flashed."""
    current = dashboard().queries.campaign(campaign_id)
    if current is None:
        abort(404, "No such campaign.")
    zone = zone_of(current["restaurant_timezone"])
    try:
        scheduled_for = local_moment(request.form.get("scheduled_for", ""), zone)
        caught_up(crm().application.schedule_campaign(campaign_id, scheduled_for, actor=actor(), scope=None))
    except CampaignNotFound:
        abort(404, "No such campaign.")
    except ValueError as error:
        flash(f"Not scheduled: {error}.", "warning")
    except InvalidInput as error:
        flash(f"Not scheduled: the start {error.message}.", "warning")
    except Conflict as error:
        flash(f"Not scheduled: {error}.", "warning")
    else:
        utc = scheduled_for.astimezone(timezone.utc)
        flash(f"Campaign scheduled for {restaurant_time(utc, zone.key)} ({utc:%Y-%m-%d %H:%M} UTC).", "success")
    return redirect(url_for("dashboard.campaign", campaign_id=campaign_id))
