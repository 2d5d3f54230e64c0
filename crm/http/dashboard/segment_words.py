"""Segment rules as the dashboard words them: the builder's catalogue of fields and comparisons,
a rule in a sentence, and the path of an offending node (`rule.all[2].op`) as the builder
numbers its rows ("Condition 3, comparison").

The allow-list itself is the write model's (`segment_rules.OPS`); only the words live here.
"""

from __future__ import annotations

import re
from datetime import datetime

from crm.http.dashboard.forms import dollars
from crm.write_model.segment_rules import CONSENTS, MAX_DAYS, OPS, WINDOWS, Field, Op

FIELD_LABELS = {
    Field.TOTAL_SPEND_CENTS: "Total spend",
    Field.VISIT_COUNT: "Number of visits",
    Field.AVERAGE_SPEND_CENTS: "Average spend per visit",
    Field.LAST_VISIT_AT: "Last visit",
    Field.FIRST_VISIT_AT: "First visit",
    Field.REGISTERED_AT: "Registered",
    Field.SPEND_CENTS_IN_LAST_DAYS: "Spend in the last N days",
    Field.VISITS_IN_LAST_DAYS: "Visits in the last N days",
    Field.EMAIL_CONSENT: "Email consent",
    Field.MESSAGED_IN_LAST_DAYS: "Messaged in the last N days",
    Field.RECEIVED_CAMPAIGN: "Received a campaign",
}
OP_LABELS = {
    Op.GTE: "at least",
    Op.LTE: "at most",
    Op.BETWEEN: "between",
    Op.WITHIN_DAYS: "within the last N days",
    Op.OLDER_THAN_DAYS: "more than N days ago",
    Op.BEFORE: "before",
    Op.AFTER: "after",
    Op.NEVER: "never",
    Op.EQ: "is",
}
WITH_DAYS = (*WINDOWS, Field.MESSAGED_IN_LAST_DAYS)
MONEY = (Field.TOTAL_SPEND_CENTS, Field.AVERAGE_SPEND_CENTS, Field.SPEND_CENTS_IN_LAST_DAYS)
PART_LABELS = {"field": "field", "op": "comparison", "value": "value", "days": "days", "campaign": "campaign"}
_STEP = re.compile(r"\.(all|any)\[(\d+)\]|\.(not)|\.(\w+)")


def input_of(field: Field, op: Op) -> str:
    """What the builder asks for a comparison: an amount, a range of two, days, a moment, a
    consent, yes or no, or nothing."""
    if op in (Op.GTE, Op.LTE):
        return "amount"
    if op is Op.BETWEEN:
        return "range"
    if op in (Op.WITHIN_DAYS, Op.OLDER_THAN_DAYS):
        return "days"
    if op in (Op.BEFORE, Op.AFTER):
        return "moment"
    if op is Op.NEVER:
        return "none"
    return "consent" if field is Field.EMAIL_CONSENT else "yesno"


def catalogue(campaigns: list[dict]) -> dict:
    """What the builder's script offers: each field with its comparisons and inputs, and the
    campaigns (of every restaurant: the script keeps the chosen restaurant's) for received_campaign."""
    return {
        "fields": [
            {
                "value": str(field),
                "label": FIELD_LABELS[field],
                "unit": "dollars" if field in MONEY else "count",
                "days": field in WITH_DAYS,
                "campaign": field is Field.RECEIVED_CAMPAIGN,
                "ops": [{"value": str(op), "label": OP_LABELS[op], "input": input_of(field, op)} for op in ops],
            }
            for field, ops in OPS.items()
        ],
        "consents": list(CONSENTS),
        "max_days": MAX_DAYS,
        "campaigns": [{"id": str(c["id"]), "name": c["name"], "restaurant": str(c["restaurant"])} for c in campaigns],
    }


def where(path: str) -> str:
    """The node a path names, as the builder numbers its rows: `rule.any[1].all[0].value` is
    "Group 2, condition 1, value"; `rule` is "The rule"."""
    if path == "rule" or not path.startswith("rule"):
        return "The rule" if path == "rule" else PART_LABELS.get(path, path).capitalize()
    steps = [match for match in _STEP.finditer(path, len("rule"))]
    words: list[str] = []
    for n, match in enumerate(steps):
        if match[2] is not None:
            deeper = any(later[2] is not None for later in steps[n + 1 :])
            words.append(f"{'group' if deeper else 'condition'} {int(match[2]) + 1}")
        elif match[3]:
            words.append("not")
        elif match[4] and match[4] not in ("all", "any"):
            words.append(PART_LABELS.get(match[4], match[4]))
        else:
            words.append("the list of conditions")
    return ", ".join(words).capitalize() or "The rule"


def rule_in_words(rule: dict, campaign_names: dict[str, str]) -> str:
    """A rule as one sentence: "Total spend at least $200.00 and last visit more than 45 days ago"."""
    text = _words(rule, campaign_names, top=True)
    return text[:1].upper() + text[1:]


def _words(node: dict, names: dict[str, str], top: bool = False) -> str:
    for group, joiner in (("all", " and "), ("any", " or ")):
        if group in node:
            text = joiner.join(_words(child, names) for child in node[group])
            return text if top or len(node[group]) == 1 else f"({text})"
    if "not" in node:
        return f"not {_words(node['not'], names)}"
    return _condition(node, names)


def _amount(field: str, value: int) -> str:
    return f"${dollars(value)}" if field in MONEY else f"{value:,}"


def _moment(value: str) -> str:
    return datetime.fromisoformat(value).strftime("%d %b %Y, %H:%M UTC")


def _condition(node: dict, names: dict[str, str]) -> str:
    field, op, value = node.get("field", ""), node.get("op", ""), node.get("value")
    label = FIELD_LABELS.get(field, field).replace("N days", f"{node.get('days')} days").lower()
    if field == Field.RECEIVED_CAMPAIGN:
        campaign = node.get("campaign", "")
        name = f"“{names[campaign]}”" if campaign in names else f"campaign {campaign[:8]}"
        return f"received {name}" if value else f"did not receive {name}"
    if field == Field.MESSAGED_IN_LAST_DAYS:
        return label if value else f"not {label}"
    if op == Op.BETWEEN:
        return f"{label} between {_amount(field, value[0])} and {_amount(field, value[1])}"
    if op in (Op.GTE, Op.LTE):
        return f"{label} {OP_LABELS[Op(op)]} {_amount(field, value)}"
    if op in (Op.WITHIN_DAYS, Op.OLDER_THAN_DAYS):
        return f"{label} {OP_LABELS[Op(op)].replace('N days', f'{value} days')}"
    if op in (Op.BEFORE, Op.AFTER):
        return f"{label} {op} {_moment(value)}"
    if op == Op.NEVER:
        return "never visited"
    return f"{label}: {value}"
