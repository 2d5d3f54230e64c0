"""Saved segment pages: the list, the builder (new and edit) with its live count, and delete."""

from __future__ import annotations

import json
from uuid import UUID

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from wtforms.fields.choices import SelectChoice

from crm.http.context import crm
from crm.http.dashboard.base import actor, bp, dashboard, page_number
from crm.http.dashboard.segment_forms import EditSegmentForm, SegmentForm
from crm.http.dashboard.segment_words import catalogue, rule_in_words, where
from crm.http.responses import caught_up
from crm.write_model.errors import InvalidInput, SegmentNotFound

SEGMENTS_PER_PAGE = 20
SAMPLE_FIELDS = ("id", "first_name", "last_name", "email")


def _uuid_arg(name: str) -> UUID | None:
    try:
        return UUID(request.args.get(name, ""))
    except ValueError:
        return None


@bp.route("/segments/")
def segments():
    """Saved segments, newest first, each with its rule in words; filter by restaurant."""
    restaurant = _uuid_arg("restaurant")
    listing = crm().saved_segment_queries.segments(None, restaurant, page_number(), SEGMENTS_PER_PAGE)
    choices = dashboard().queries.segment_choices()
    names = {str(c["id"]): c["name"] for c in choices["campaigns"]}
    words = {s["id"]: rule_in_words(s["rule"], names) for s in listing.items}
    return render_template(
        "dashboard/segments.html", page=listing, words=words, restaurants=choices["restaurants"], restaurant=restaurant
    )


def _builder(form: SegmentForm, segment: dict | None, counted: dict | None):
    choices = dashboard().queries.segment_choices()
    if form.restaurant is not None:
        form.restaurant.choices = [SelectChoice(r["id"], r["name"]) for r in choices["restaurants"]]
    return render_template(
        "dashboard/segment_form.html",
        form=form,
        segment=segment,
        counted=counted,
        catalogue=catalogue(choices["campaigns"]),
    )


@bp.route("/segments/new/", methods=["GET", "POST"])
def new_segment():
    """Save a rule under a name; Count (or the builder's live count) shows whom it matches now."""
    form = SegmentForm(restaurant=_uuid_arg("restaurant"))
    counted = None
    if form.validate_on_submit():
        try:
            if form.count.data:
                counted = crm().saved_segment_queries.count(form.restaurant.data, None, form.rule_json, crm().clock())
            else:
                recorded = crm().application.create_segment(
                    form.restaurant.data, form.name.data, form.rule_json, actor=actor(), scope=None
                )
                caught_up(recorded)
                flash(f"Segment “{form.name.data.strip()}” saved.", "success")
                return redirect(url_for("dashboard.segments"))
        except InvalidInput as error:
            form.add_domain_error(error)
    return _builder(form, None, counted)


@bp.route("/segments/<uuid:segment_id>/edit/", methods=["GET", "POST"])
def edit_segment(segment_id: UUID):
    """Rename a saved segment or change its rule (campaigns already started keep their audience)."""
    current = crm().saved_segment_queries.segment(segment_id, None)
    if current is None:
        abort(404, "No such segment.")
    form = EditSegmentForm(data={"name": current["name"], "rule": json.dumps(current["rule"])})
    counted = None
    if form.validate_on_submit():
        try:
            if form.count.data:
                counted = crm().saved_segment_queries.count(current["restaurant"], None, form.rule_json, crm().clock())
            else:
                recorded = crm().application.update_segment(
                    segment_id, name=form.name.data, rule=form.rule_json, actor=actor(), scope=None
                )
                caught_up(recorded)
                flash(f"Segment “{form.name.data.strip()}” saved.", "success")
                return redirect(url_for("dashboard.segments"))
        except InvalidInput as error:
            form.add_domain_error(error)
        except SegmentNotFound:
            abort(404, "No such segment.")
    return _builder(form, current, counted)


@bp.route("/segments/<uuid:segment_id>/delete/", methods=["GET", "POST"])
def delete_segment(segment_id: UUID):
    """GET asks (the edit page asks the same in a dialog); POST deletes the segment."""
    if request.method == "GET":
        current = crm().saved_segment_queries.segment(segment_id, None)
        if current is None:
            abort(404, "No such segment.")
        return render_template("dashboard/segment_delete.html", segment=current)
    try:
        caught_up(crm().application.delete_segment(segment_id, actor=actor(), scope=None))
    except SegmentNotFound:
        abort(404, "No such segment.")
    flash("Segment deleted. Campaigns that already started keep their audience.", "success")
    return redirect(url_for("dashboard.segments"))


@bp.route("/segments/count.json", methods=["POST"])
def count_json():
    """How many of the restaurant's customers a rule matches now, and up to 5 of them: the
    builder's live count. A rule the write model refuses answers 400 with its node in words."""
    body = request.get_json(silent=True)
    body = body if isinstance(body, dict) else {}
    try:
        restaurant = UUID(str(body.get("restaurant")))
    except ValueError:
        return jsonify({"path": "restaurant", "where": "Restaurant", "message": "choose a restaurant"}), 400
    try:
        counted = crm().saved_segment_queries.count(restaurant, None, body.get("rule"), crm().clock())
    except InvalidInput as error:
        return jsonify({"path": error.field, "where": where(error.field), "message": error.message}), 400
    sample = [{name: customer.get(name) for name in SAMPLE_FIELDS} for customer in counted["sample"]]
    return jsonify({"count": counted["count"], "sample": sample})
