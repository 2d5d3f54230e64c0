"""The dashboard's forms (Flask-WTF: each carries a CSRF token)."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from uuid import UUID

from flask_wtf import FlaskForm
from wtforms import (
    EmailField,
    HiddenField,
    PasswordField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, StopValidation, ValidationError

from crm.write_model.errors import InvalidInput
from crm.write_model.templates import MAX_TEMPLATE_LENGTH, PLACEHOLDERS
from crm.write_model.vocabulary import DEFAULT_SUBJECT, SEGMENT_LIMITS, SHORTHAND_SEGMENTS, CampaignDetails, SegmentType

# The preview says which segment it counts: "N" replaced by the value as the form shows it
# (preview.js does the same, with two decimals where data-unit is dollars).
SEGMENTS = [
    SelectChoice(SegmentType.INACTIVE_DAYS, "Inactive customers: no visit for at least N days"),
    SelectChoice(SegmentType.HIGH_SPENDERS, "High spenders: total spend of at least $N", {"data-unit": "dollars"}),
    SelectChoice(SegmentType.SAVED, "A saved segment"),
]
# A campaign given a rule of its own (through the API) keeps it: its edit form offers it back as it is.
OWN_RULE = SelectChoice(SegmentType.RULE, "Its own rule (set through the API)")
SETTINGS = tuple(field for field in CampaignDetails.FIELDS if field not in CampaignDetails.SEGMENT_FIELDS)
_N = re.compile(r"\bN\b")
_PLACEHOLDER_HELP = "Placeholders: " + ", ".join("{" + name + "}" for name in PLACEHOLDERS) + "."
_DAYS = re.compile(r"[0-9]+")
_DOLLARS = re.compile(r"\$?([0-9]+(?:\.[0-9]{1,2})?|\.[0-9]{1,2})")  # no commas: "12,50" is not 1250 dollars
MAX_DAYS = SEGMENT_LIMITS[SegmentType.INACTIVE_DAYS]
MAX_SPEND_CENTS = SEGMENT_LIMITS[SegmentType.HIGH_SPENDERS]


def _uuid(value):
    return value if value in (None, "") or isinstance(value, UUID) else UUID(str(value))


def dollars(cents: int) -> str:
    """An amount in integer cents as the dashboard shows it: 1250 -> "12.50"."""
    return f"{cents // 100}.{cents % 100:02d}"


def segment_value_of(segment_type: str, typed: str) -> int:
    """The API's segment value (days, or cents) of what an operator typed (days, or dollars);
    a ValueError with the one message to show when it is not one."""
    typed = typed.strip()
    if segment_type == SegmentType.HIGH_SPENDERS:
        match = _DOLLARS.fullmatch(typed)
        if match is None:
            raise ValueError("Enter an amount in dollars with up to two decimals, such as 500 or 12.50.")
        cents = Decimal(match[1]) * 100
        if cents > MAX_SPEND_CENTS:
            raise ValueError(f"Enter an amount of at most ${dollars(MAX_SPEND_CENTS)}.")
        return int(cents)
    if _DAYS.fullmatch(typed) is None or Decimal(typed) > MAX_DAYS:
        raise ValueError(f"Enter a whole number of days from 0 to {MAX_DAYS}, such as 30.")
    return int(typed)


def segment_value_shown(segment_type: str, value: int) -> str:
    """The inverse of `segment_value_of`: what the form shows for a saved value."""
    return dollars(value) if segment_type == SegmentType.HIGH_SPENDERS else str(value)


def saved_segment_choices(segments: list[dict]) -> list[SelectChoice]:
    """The saved segments to choose from, grouped by restaurant, each naming its restaurant's id
    (preview.js offers the chosen restaurant's only)."""
    ordered = sorted(segments, key=lambda s: (s["restaurant_name"] or "", s["name"].lower(), str(s["id"])))
    choices = [SelectChoice("", "Choose a saved segment")]
    for s in ordered:
        choices.append(SelectChoice(s["id"], s["name"], {"data-restaurant": s["restaurant"]}, s["restaurant_name"]))
    return choices


class JsonField(HiddenField):
    """A JSON value carried as it is in a hidden input (a campaign's own rule)."""

    def _value(self) -> str:
        return "" if self.data is None else json.dumps(self.data)

    def process_formdata(self, valuelist):
        try:
            self.data = json.loads(valuelist[0]) if valuelist and valuelist[0] else None
        except ValueError:  # not the one the page carried: the write model names the segment missing
            self.data = None


class ShorthandValue(InputRequired):
    """InputRequired for the seed segments' value; a saved segment or a rule has none."""

    def __call__(self, form, field):
        if form.segment_type.data not in SHORTHAND_SEGMENTS:
            raise StopValidation()
        super().__call__(form, field)


class AccessibleForm(FlaskForm):
    """A form whose fields say which text describes them and whether they are invalid."""

    def first_invalid(self) -> str | None:
        """The name of the first visible field with an error: it gets the focus (`autofocus`)."""
        return next((f.name for f in self if f.errors and getattr(f.widget, "input_type", None) != "hidden"), None)

    def attributes_of(self, field) -> dict:
        """The attributes that tie a field to its error and help texts (ids `<id>-error`, `<id>-help`)."""
        described = [f"{field.id}-error"] if field.errors else []
        if field.description:
            described.append(f"{field.id}-help")
        return {
            "aria_describedby": " ".join(described) or False,
            "aria_invalid": "true" if field.errors else False,
            "autofocus": field.name == self.first_invalid(),
            "required": field.flags.required,
        }


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[InputRequired(), Length(max=254)], render_kw={"autocomplete": "username"})
    password = PasswordField(
        "Password", validators=[InputRequired(), Length(max=1024)], render_kw={"autocomplete": "current-password"}
    )
    next = HiddenField()
    submit = SubmitField("Log in")


class CampaignForm(AccessibleForm):
    """A draft campaign's settings; `preview` asks for the audience and sample messages only.

    The segment value is typed in days, or in dollars for high spenders; `details()` gives the
    API's integer days or cents, and `data=` (a saved campaign) is shown the same way back.
    """

    restaurant = SelectField("Restaurant", coerce=_uuid, validators=[InputRequired()], validate_choice=False)
    name = StringField("Name", validators=[InputRequired(), Length(max=200)])
    segment_type = SelectField("Segment", choices=SEGMENTS, validators=[InputRequired()])
    segment_value = StringField(
        "Segment value (N)",
        validators=[ShorthandValue()],
        description="Days for inactive customers (such as 30); dollars for high spenders (such as 500 or 12.50).",
        render_kw={"inputmode": "decimal", "autocomplete": "off"},
    )
    segment = SelectField(
        "Saved segment",
        coerce=_uuid,
        validate_choice=False,
        description="For a saved segment: one of the restaurant's (Segments, in the menu, builds them).",
    )
    segment_rule = JsonField()
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

    def __init__(self, *args, data: dict | None = None, **kwargs):
        if data:
            kind, value = data.get("segment_type"), data.get("segment_value")
            shown = segment_value_shown(kind, value) if kind in SHORTHAND_SEGMENTS and isinstance(value, int) else ""
            own_rule = data.get("segment_rule") if kind == SegmentType.RULE else None
            data = {**data, "segment_value": shown, "segment": data.get("segment_id"), "segment_rule": own_rule}
        super().__init__(*args, data=data, **kwargs)
        if self.segment_rule.data is not None:
            self.segment_type.choices = [*SEGMENTS, OWN_RULE]

    def validate_segment_value(self, field) -> None:
        if self.segment_type.data in SHORTHAND_SEGMENTS:  # else the segment's own error says it all
            try:
                segment_value_of(self.segment_type.data, field.data)
            except ValueError as error:
                raise ValidationError(str(error)) from None

    def validate_segment(self, field) -> None:
        if self.segment_type.data == SegmentType.SAVED and not field.data:
            raise ValidationError("Choose one of the restaurant's saved segments.")

    def details(self) -> dict:
        """The settings as the write model takes them, with the one form of segment chosen."""
        details = {field: getattr(self, field).data for field in SETTINGS}
        kind = self.segment_type.data
        if kind == SegmentType.SAVED:
            return {**details, "segment_id": self.segment.data}
        if kind == SegmentType.RULE:
            return {**details, "segment_rule": self.segment_rule.data}
        return {**details, "segment_type": kind, "segment_value": segment_value_of(kind, self.segment_value.data)}

    def segment_summary(self) -> str:
        """The segment in words with the value as typed, e.g. "... total spend of at least $12.50";
        a saved segment by its name."""
        kind = self.segment_type.data
        if kind == SegmentType.SAVED:
            names = {str(choice.value): choice.label for choice in self.segment.choices or ()}
            return f"Saved segment: {names.get(str(self.segment.data), 'the one chosen')}"
        if kind == SegmentType.RULE:
            return OWN_RULE.label
        label = dict((choice.value, choice.label) for choice in SEGMENTS)[kind]
        value = segment_value_of(kind, self.segment_value.data)
        return _N.sub(segment_value_shown(kind, value), label)

    def add_domain_error(self, error: InvalidInput) -> None:
        field = getattr(self, error.field, None)
        if field is None:
            self.form_errors.append(f"{error.field}: {error.message}")
        else:
            field.errors = [*field.errors, error.message]


class EditCampaignForm(CampaignForm):
    """The restaurant of a saved campaign cannot change: it rides along for the preview only."""

    restaurant = HiddenField(filters=[_uuid], validators=[InputRequired()])
