"""Campaign pages: list, detail with live progress, controls, create and edit with a live preview."""

from __future__ import annotations

from uuid import UUID

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from wtforms.fields.choices import SelectChoice

from crm.http.context import crm
from crm.http.dashboard.base import actor, bp, dashboard, page_number
from crm.http.dashboard.forms import CampaignForm, EditCampaignForm, saved_segment_choices
from crm.http.responses import caught_up
from crm.read_model.dashboard_queries import CAMPAIGN_ORDERS, CAMPAIGN_STATUSES, OUTREACH_STATUSES
from crm.write_model.campaigns import allowed_actions
from crm.write_model.errors import CampaignNotFound, Conflict, InvalidInput
from crm.write_model.validation import MAX_NAME_LENGTH
from crm.write_model.vocabulary import CONTROLS, CampaignAction, CampaignDetails, SegmentType

CAMPAIGNS_PER_PAGE = 20
MAX_SEGMENT_CHOICES = 500
OUTREACH_PER_PAGE = 25
MAX_SEARCH_LENGTH = 200
DONE = {
    CampaignAction.RUN: "Campaign started.",
    CampaignAction.UNSCHEDULE: "Campaign unscheduled: it is a draft again and will not start by itself.",
    CampaignAction.PAUSE: "Campaign paused.",
    CampaignAction.RESUME: "Campaign resumed.",
    CampaignAction.CANCEL: "Campaign cancelled.",
    CampaignAction.RETRY_FAILED: "Failed messages queued again: the campaign is running.",
}


def _choice(name: str, allowed: tuple[str, ...]) -> str | None:
    value = request.args.get(name) or None
    return value if value in allowed else None


def _uuid_arg(name: str) -> UUID | None:
    try:
        return UUID(request.args.get(name, ""))
    except ValueError:
        return None


def _saved_segments(restaurant_id: UUID | None) -> list:
    """The saved segments a campaign form offers: its restaurant's, or every restaurant's (new)."""
    found = crm().saved_segment_queries.segments(None, restaurant_id, 1, MAX_SEGMENT_CHOICES)
    return saved_segment_choices(found.items)


def _allowed(progress: dict) -> tuple[str, ...]:
    return allowed_actions(progress["status"], progress["failed"], progress["retried_failed"], progress["recurring"])


@bp.route("/campaigns/")
def campaigns():
    """Every campaign with its progress, newest or most done first; search by name, filter by
    restaurant and status."""
    name = request.args.get("q", "").strip()[:MAX_SEARCH_LENGTH]
    order = _choice("sort", tuple(CAMPAIGN_ORDERS)) or "created"
    listing = dashboard().queries.campaign_list(
        _uuid_arg("restaurant"),
        _choice("status", CAMPAIGN_STATUSES),
        page_number(),
        CAMPAIGNS_PER_PAGE,
        crm().clock(),
        name=name,
        order=order,
    )
    return render_template(
        "dashboard/campaigns.html",
        listing=listing,
        statuses=CAMPAIGN_STATUSES,
        restaurant=_uuid_arg("restaurant"),
        status=_choice("status", CAMPAIGN_STATUSES),
        q=name,
        sort=order,
    )


@bp.route("/campaigns/<uuid:campaign_id>/")
def campaign(campaign_id: UUID):
    """Settings, live progress, counts by status, results once finished, controls, and a page of
    outreach records of one status and of customers matching the search."""
    status = _choice("status", OUTREACH_STATUSES)
    customer = request.args.get("customer", "").strip()[:MAX_SEARCH_LENGTH]
    shown = dashboard().queries.campaign_page(
        campaign_id, status, customer, page_number(), OUTREACH_PER_PAGE, crm().clock()
    )
    if shown is None:
        abort(404, "No such campaign.")
    return render_template(
        "dashboard/campaign.html",
        **shown,
        allowed=_allowed(shown["progress"]),
        statuses=OUTREACH_STATUSES,
        status=status,
        customer=customer,
    )


@bp.route("/campaigns/<uuid:campaign_id>/progress.json")
def progress(campaign_id: UUID):
    """The campaign's counts, percent, send rate and time left (while it runs), a draft's audience
    now, and the controls its status allows: polled by its page, which redraws from it."""
    current = dashboard().queries.progress(campaign_id, crm().clock())
    if current is None:
        abort(404, "No such campaign.")
    return jsonify({**current, "allowed": _allowed(current)})


@bp.route(
    f"/campaigns/<uuid:campaign_id>/<any({', '.join(repr(str(c)) for c in CONTROLS)}):action>/",
    methods=["GET", "POST"],
)
def control(campaign_id: UUID, action: str):
    """GET asks (the page's dialog asks the same without loading this); POST runs, pauses,
    resumes, cancels or retries the failed. A control the status does not allow is flashed, not done."""
    if request.method == "GET":
        current = dashboard().queries.progress(campaign_id, crm().clock())
        if current is None:
            abort(404, "No such campaign.")
        if action not in _allowed(current):
            flash(f"Not possible now: this campaign is {current['status']}.", "warning")
            return redirect(url_for("dashboard.campaign", campaign_id=campaign_id))
        shown = dashboard().queries.campaign(campaign_id)
        return render_template("dashboard/campaign_control.html", campaign=shown, progress=current, action=action)
    try:
        caught_up(crm().application.control_campaign(campaign_id, CampaignAction(action), actor=actor(), scope=None))
    except CampaignNotFound:
        abort(404, "No such campaign.")
    except Conflict as error:
        flash(f"Not done: {error}.", "warning")
    else:
        flash(DONE[action], "success")
    return redirect(url_for("dashboard.campaign", campaign_id=campaign_id))


@bp.route("/campaigns/<uuid:campaign_id>/duplicate/", methods=["POST"])
def duplicate(campaign_id: UUID):
    """A new draft with this campaign's settings, named "Copy of ..."."""
    current = dashboard().queries.campaign(campaign_id)
    if current is None:
        abort(404, "No such campaign.")
    details = {field: current[field] for field in CampaignDetails.FIELDS}
    details["name"] = ("Copy of " + current["name"])[:MAX_NAME_LENGTH]
    try:
        recorded = crm().application.create_campaign(current["restaurant"], details, actor=actor(), scope=None)
    except InvalidInput as error:
        flash(f"Not duplicated: {error.field} {error.message}.", "warning")
        return redirect(url_for("dashboard.campaign", campaign_id=campaign_id))
    caught_up(recorded)
    flash(f"Draft created from {current['name']}. Change it, then run it when ready.", "success")
    return redirect(url_for("dashboard.campaign", campaign_id=recorded.id))


@bp.route("/campaigns/new/", methods=["GET", "POST"])
def new_campaign():
    """Create a draft; the Preview button (or the page's script) shows the audience first. A
    `segment` in the query (a saved segment's "New campaign") is chosen already."""
    segment = _uuid_arg("segment")
    chosen = {"segment": segment, "segment_type": SegmentType.SAVED} if segment else {}
    form = CampaignForm(restaurant=_uuid_arg("restaurant"), **chosen)
    form.segment.choices = _saved_segments(None)
    shown = None
    if form.validate_on_submit():
        try:
            if form.preview.data:
                shown = crm().campaign_queries.preview(form.details(), form.restaurant.data, crm().clock())
            else:
                recorded = crm().application.create_campaign(
                    form.restaurant.data, form.details(), actor=actor(), scope=None
                )
                caught_up(recorded)
                flash("Draft campaign created. Run it when ready.", "success")
                return redirect(url_for("dashboard.campaign", campaign_id=recorded.id))
        except InvalidInput as error:
            form.add_domain_error(error)
    form.restaurant.choices = [SelectChoice(r["id"], r["name"]) for r in dashboard().queries.restaurant_choices()]
    return render_template("dashboard/campaign_form.html", form=form, preview=shown, campaign=None)


@bp.route("/campaigns/<uuid:campaign_id>/edit/", methods=["GET", "POST"])
def edit_campaign(campaign_id: UUID):
    """Change a draft's settings; any other status is refused by the write model and flashed."""
    current = dashboard().queries.campaign(campaign_id)
    if current is None:
        abort(404, "No such campaign.")
    if request.method == "GET" and "edit" not in allowed_actions(current["status"]):
        flash(f"Only a draft can be edited; this campaign is {current['status']}.", "warning")
        return redirect(url_for("dashboard.campaign", campaign_id=campaign_id))
    form = EditCampaignForm(data={**current, "restaurant": current["restaurant"]})
    form.segment.choices = _saved_segments(current["restaurant"])
    shown = None
    if form.validate_on_submit():
        try:
            if form.preview.data:
                shown = crm().campaign_queries.preview(form.details(), current["restaurant"], crm().clock())
            else:
                caught_up(crm().application.update_campaign(campaign_id, form.details(), actor=actor(), scope=None))
                flash("Campaign saved.", "success")
                return redirect(url_for("dashboard.campaign", campaign_id=campaign_id))
        except InvalidInput as error:
            form.add_domain_error(error)
        except Conflict as error:
            flash(f"Not saved: {error}.", "warning")
            return redirect(url_for("dashboard.campaign", campaign_id=campaign_id))
    return render_template("dashboard/campaign_form.html", form=form, preview=shown, campaign=current)


@bp.route("/campaigns/preview.json", methods=["POST"])
def preview_json():
    """The audience count and sample messages for the form as it is now (the form's live preview)."""
    form = CampaignForm()
    if not form.validate():
        return jsonify({"errors": {name: errors for name, errors in form.errors.items() if errors}}), 400
    try:
        return jsonify(crm().campaign_queries.preview(form.details(), form.restaurant.data, crm().clock()))
    except InvalidInput as error:
        return jsonify({"errors": {error.field: [error.message]}}), 400
