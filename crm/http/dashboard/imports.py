"""Import pages: the list with the upload form, one import's live progress and first rejected rows,
its progress as JSON (polled by imports.js) and its report as CSV."""

from __future__ import annotations

from uuid import UUID

from flask import abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms import SelectField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired

from crm.http.connections import takes_uploads
from crm.http.context import crm
from crm.http.dashboard.base import _http_error, actor, bp, dashboard, page_number
from crm.http.dashboard.forms import AccessibleForm
from crm.http.import_schemas import ImportSchema, percent_done, shown_filename
from crm.http.imports import rejections_csv
from crm.http.responses import caught_up
from crm.write_model.errors import InvalidInput, RestaurantNotFound
from crm.write_model.vocabulary import ImportKind, ImportStatus

IMPORTS_PER_PAGE = 20
FIRST_REJECTIONS = 20  # rejected rows an import's page shows (the CSV holds them all)
KINDS = [SelectChoice(ImportKind.CUSTOMERS, "Customers"), SelectChoice(ImportKind.VISITS, "Visits")]
FILE_HELP = (
    "A UTF-8 CSV file with a header row. Customers: email (required), first_name, last_name, "
    "email_consent (subscribed or unsubscribed), external_id. Visits: email or external_id, "
    "spend_cents or spend (such as 12.50), visited_at (such as 2024-03-01 19:30, in the restaurant's "
    "time zone, or with an offset), and optionally external_visit_id."
)


def _uuid(value):
    return value if value in (None, "") or isinstance(value, UUID) else UUID(str(value))


class ImportForm(AccessibleForm):
    """A CSV file to import into a restaurant (its size is limited by IMPORT_MAX_BYTES)."""

    restaurant = SelectField("Restaurant", coerce=_uuid, validators=[InputRequired()], validate_choice=False)
    kind = SelectField("The file holds", choices=KINDS, validators=[InputRequired()])
    file = FileField(
        "CSV file",
        validators=[FileRequired("Choose a CSV file to import.")],
        description=FILE_HELP,
        render_kw={"accept": ".csv,text/csv,text/plain"},
    )
    submit = SubmitField("Upload and import")

    def add_domain_error(self, error: InvalidInput) -> None:
        field = getattr(self, error.field, None)
        if field is None:
            self.form_errors.append(f"{error.field}: {error.message}.")
        else:
            field.errors = [*field.errors, f"The file {error.message}." if error.field == "file" else error.message]


def _listing(form: FlaskForm, status: int = 200):
    form.restaurant.choices = [SelectChoice(r["id"], r["name"]) for r in dashboard().queries.restaurant_choices()]
    page = crm().import_queries.imports(None, None, page_number(), IMPORTS_PER_PAGE)
    max_bytes = current_app.config["UPLOAD_MAX_CONTENT_LENGTH"]
    return (
        render_template(
            "dashboard/imports.html",
            form=form,
            page=page,
            percent=percent_done,
            max_bytes=max_bytes,
            max_size=_size(max_bytes),
        ),
        status,
    )


@bp.route("/imports/", methods=["GET", "POST"])
@takes_uploads
def imports():
    """Every import with its progress, newest first, and the form that uploads a file to import."""
    form = ImportForm()
    if form.validate_on_submit():
        upload = form.file.data
        try:
            recorded = crm().application.start_import(
                form.restaurant.data,
                ImportKind(form.kind.data),
                shown_filename(upload.filename),
                upload.stream,
                actor=actor(),
                scope=None,
            )
        except InvalidInput as error:
            form.add_domain_error(error)
        except RestaurantNotFound:
            form.restaurant.errors = [*form.restaurant.errors, "No such restaurant (deleted meanwhile?)."]
        else:
            caught_up(recorded)
            flash("File received.", "success")
            return redirect(url_for("dashboard.import_page", import_id=recorded.id))
    return _listing(form)


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(error: RequestEntityTooLarge):
    """A file over the limit: the import form says so (no form read: it is the body refused)."""
    if request.endpoint != "dashboard.imports":
        return _http_error(error)
    form = ImportForm(formdata=None)
    limit = _size(current_app.config["UPLOAD_MAX_CONTENT_LENGTH"])
    form.file.errors = [f"This file is too large: at most {limit} can be imported at once."]
    return _listing(form, 413)


def _size(octets: int) -> str:
    """A size as the form words it: 128 MiB, 976.6 KiB."""
    number, unit = (octets / 2**20, "MiB") if octets >= 2**20 else (octets / 2**10, "KiB")
    return f"{number:.1f}".removesuffix(".0") + " " + unit


def _import_or_404(import_id: UUID) -> dict:
    found = crm().import_queries.import_(import_id, None)
    if found is None:
        abort(404, "No such import.")
    return {**found, "percent": percent_done(found), "final": found["status"] != ImportStatus.RUNNING}


@bp.route("/imports/<uuid:import_id>/")
def import_page(import_id: UUID):
    """One import: its live progress and counts, its first rejected rows and the whole report."""
    shown = _import_or_404(import_id)
    rejections = crm().import_queries.rejections(import_id, 1, FIRST_REJECTIONS)
    return render_template("dashboard/import.html", imported=shown, rejections=rejections)


@bp.route("/imports/<uuid:import_id>/progress.json")
def import_progress(import_id: UUID):
    """The import's status, counts and first rejected rows: polled by its page while it runs."""
    shown = _import_or_404(import_id)
    rejections = crm().import_queries.rejections(import_id, 1, FIRST_REJECTIONS).items
    return jsonify({**ImportSchema().dump(shown), "final": shown["final"], "rejections": rejections})


@bp.route("/imports/<uuid:import_id>/rejections.csv")
def import_rejections(import_id: UUID):
    """Every row the import rejected (line, field, reason), as a CSV file."""
    _import_or_404(import_id)
    return rejections_csv(import_id, bom=request.args.get("bom") == "true")
