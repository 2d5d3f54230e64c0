"""The dashboard's forms (Flask-WTF: each carries a CSRF token)."""

from __future__ import annotations

from uuid import UUID

from flask_wtf import FlaskForm
from wtforms import (
    EmailField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange

from crm.write_model.errors import InvalidInput
from crm.write_model.templates import MAX_TEMPLATE_LENGTH, PLACEHOLDERS
from crm.write_model.vocabulary import DEFAULT_SUBJECT, CampaignDetails, SegmentType

SEGMENTS = [
    SelectChoice(SegmentType.INACTIVE_DAYS, "Inactive customers: no visit for at least N days"),
    SelectChoice(SegmentType.HIGH_SPENDERS, "High spenders: total spend of at least N cents"),
]
_PLACEHOLDER_HELP = "Placeholders: " + ", ".join("{" + name + "}" for name in PLACEHOLDERS) + "."


def _uuid(value):
    return value if value in (None, "") or isinstance(value, UUID) else UUID(str(value))


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[InputRequired(), Length(max=254)], render_kw={"autocomplete": "username"})
    password = PasswordField(
        "Password", validators=[InputRequired(), Length(max=1024)], render_kw={"autocomplete": "current-password"}
    )
    next = HiddenField()
    submit = SubmitField("Log in")


class CampaignForm(FlaskForm):
    """A draft campaign's settings; `preview` asks for the audience and sample messages only."""

    restaurant = SelectField("Restaurant", coerce=_uuid, validators=[InputRequired()], validate_choice=False)
    name = StringField("Name", validators=[InputRequired(), Length(max=200)])
    segment_type = SelectField("Segment", choices=SEGMENTS, validators=[InputRequired()])
    segment_value = IntegerField(
        "Segment value (N)",
        validators=[InputRequired(), NumberRange(min=0)],
        description="Days for inactive customers; cents for high spenders (50000 = 500.00).",
    )
    subject = StringField(
        "Subject",
        default=DEFAULT_SUBJECT,
        validators=[InputRequired(), Length(max=MAX_TEMPLATE_LENGTH)],
        description=_PLACEHOLDER_HELP,
    )
    message_template = TextAreaField(
        "Message",
        validators=[InputRequired(), Length(max=MAX_TEMPLATE_LENGTH)],
        description=_PLACEHOLDER_HELP + " Write {{ and }} for literal braces.",
        render_kw={"rows": 4},
    )
    preview = SubmitField("Preview", render_kw={"formnovalidate": True})
    submit = SubmitField("Save draft")

    def details(self) -> dict:
        return {field: getattr(self, field).data for field in CampaignDetails.FIELDS}

    def add_domain_error(self, error: InvalidInput) -> None:
        field = getattr(self, error.field, None)
        if field is None:
            self.form_errors.append(f"{error.field}: {error.message}")
        else:
            field.errors = [*field.errors, error.message]


class EditCampaignForm(CampaignForm):
    """The restaurant of a saved campaign cannot change: it rides along for the preview only."""

    restaurant = HiddenField(filters=[_uuid], validators=[InputRequired()])
