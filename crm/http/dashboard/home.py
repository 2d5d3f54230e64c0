"""The home page at /internal/: figures per restaurant and in total, charts of the last 30 days, what is running."""

from __future__ import annotations

from uuid import UUID

from flask import render_template, request

from crm.http.context import crm
from crm.http.dashboard import charts
from crm.http.dashboard.base import bp
from crm.read_model.overview_queries import ACTIVE_DAYS, CHART_DAYS
from crm.write_model.vocabulary import OutreachStatus

# Bottom up: what was delivered first, what is still waiting on top.
MESSAGE_SERIES = (OutreachStatus.SENT, OutreachStatus.FAILED, OutreachStatus.SKIPPED, OutreachStatus.QUEUED)


def _restaurant_arg() -> UUID | None:
    try:
        return UUID(request.args.get("restaurant", ""))
    except ValueError:
        return None


@bp.route("/")
def home():
    """The overview: customers, activity, messages and running campaigns; one restaurant or all of them."""
    overview = crm().overview_queries.overview(_restaurant_arg(), crm().clock())
    return render_template(
        "dashboard/home.html",
        **overview,
        active_days=ACTIVE_DAYS,
        chart_days=CHART_DAYS,
        message_chart=charts.stacked_bars("messages", overview["messages_by_day"], MESSAGE_SERIES),
        visits_chart=charts.stacked_bars("visits", overview["visits_by_day"], ("visits",)),
        spend_chart=charts.stacked_bars("spend", overview["visits_by_day"], ("spend_cents",), money=True),
    )
