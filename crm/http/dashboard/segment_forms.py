"""The saved segment form: a restaurant, a name, and the rule as JSON (the builder's script writes
it; without the script, the operator does)."""

from __future__ import annotations

import json
from uuid import UUID

from wtforms import SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import InputRequired, Length, ValidationError

from crm.http.dashboard.forms import AccessibleForm
from crm.http.dashboard.segment_words import where
from crm.write_model.errors import InvalidInput
from crm.write_model.validation import MAX_NAME_LENGTH

MAX_RULE_LENGTH = 20_000  # 30 conditions take about 5,000 characters
RULE_EXAMPLE = '{"all": [{"field": "total_spend_cents", "op": "gte", "value": 20000}]}'


def _uuid(value):
    return value if value in (None, "") or isinstance(value, UUID) else UUID(str(value))


class SegmentForm(AccessibleForm):
    """A new saved segment; `count` asks how many customers the rule matches now, saving nothing."""

    restaurant = SelectField("Restaurant", coerce=_uuid, validators=[InputRequired()], validate_choice=False)
    name = StringField("Name", validators=[InputRequired(), Length(max=MAX_NAME_LENGTH)])
    rule = TextAreaField(
        "Rule (JSON)",
        validators=[InputRequired(), Length(max=MAX_RULE_LENGTH)],
        description=(
            "Conditions on the customers' spend, visits, consent and messages, such as "
            f"{RULE_EXAMPLE} (amounts in cents). docs/api.md (Rules) lists every field and comparison."
        ),
        render_kw={"rows": 6, "spellcheck": "false", "autocomplete": "off", "class": "font-monospace"},
    )
    count = SubmitField("Count", render_kw={"formnovalidate": True})
    submit = SubmitField("Save segment")

    rule_json: object = None  # the rule, once read as JSON
    rule_error_path: str | None = None  # the node the write model refused, for the builder to mark

    def validate_rule(self, field) -> None:
        try:
            self.rule_json = json.loads(field.data)
        except ValueError as error:
            raise ValidationError(f"This is not JSON: {error}.") from None

    def add_domain_error(self, error: InvalidInput) -> None:
        """Show the write model's refusal beside its input; a rule's node is named in words."""
        if error.field.startswith("rule"):
            self.rule.errors = [*self.rule.errors, f"{where(error.field)}: {error.message}."]
            self.rule_error_path = error.field
        elif error.field in ("name", "restaurant"):
            field = getattr(self, error.field)
            field.errors = [*field.errors, f"{error.message}."]
        else:
            self.form_errors.append(f"{error.field}: {error.message}.")


class EditSegmentForm(SegmentForm):
    """A saved segment's restaurant cannot change: its page shows it, the form does not take it."""

    restaurant = None
