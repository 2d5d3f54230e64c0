"""schemathesis hooks (schemathesis.toml): the rules of the contract no OpenAPI schema can state.

A schema-valid request refused for one of these, and only these, is not a contract failure; the
run still counts it ("dropped by filter_failure"). Each is documented in docs/api.md and tested
in tests/e2e.
"""

from __future__ import annotations

import schemathesis

UNSTATABLE = {
    # A time can be checked against the server's clock only: "not in the future" (visits).
    ("visited_at", "must not be in the future"),
    # The pattern states the year as written; 1970-01-01 in a zone east of UTC can still be 1969
    # there (e.g. 1970-01-01T00:30:00+01:00).
    ("visited_at", "must not be before 1970"),
    # The same for a campaign's start: after now, within SCHEDULE_HORIZON of it.
    ("scheduled_for", "must be in the future"),
    ("scheduled_for", "must be at most 365 days ahead"),
    # Quiet hours are two times of one pattern; that they differ compares the two values.
    ("quiet_hours_end", "must differ from quiet_hours_start"),
    # Whether an id names a resource that exists depends on what the server holds.
    ("restaurant", "no such restaurant"),
    ("customer", "no such customer"),
    ("segment", "no such segment in this restaurant"),
    # A restaurant key may leave its restaurant out of a create; an admin key (this run's) must
    # name it. A schema is the same for every key.
    ("restaurant", "Missing data for required field."),
}


# A segment rule's grammar is stated (crm/http/segment_rule_schema.py) but for two limits of the
# write model: at most 30 conditions in a rule, and `between`'s low at most its high.
RULE_FIELDS = ("rule", "segment_rule")
RULE_LIMITS = ("the rule holds more than", "must be [low, high]")


def _rule_limit(field: str, message: str) -> bool:
    below_a_rule = any(field == name or field.startswith(name + ".") for name in RULE_FIELDS)
    return below_a_rule and message.startswith(RULE_LIMITS)


# An import's file is stated as binary: that it is a UTF-8 CSV whose header names the columns its
# kind needs (crm.write_model.import_files) is beyond a schema. Sent as a field rather than a file
# part, or left out, it is refused for what the document does state.
FILE_STATED = ("Missing data for required field.", "Send the file as a file part of a multipart/form-data body.")


def _file_content(field: str, message: str) -> bool:
    return field == "file" and message not in FILE_STATED


@schemathesis.hook
def filter_failure(context, failure, case, response) -> bool:
    """Keep every failure but a valid request's 400 for reasons in UNSTATABLE, a rule's limits or an
    import file's content alone."""
    if failure.code != "ST202" or response.status_code != 400:
        return True
    try:
        errors = response.json().get("errors") or {}
    except ValueError:
        return True
    reasons = {(field, message) for field, messages in errors.items() for message in messages}
    unstatable = {
        reason for reason in reasons if reason in UNSTATABLE or _rule_limit(*reason) or _file_content(*reason)
    }
    return not (reasons and reasons == unstatable)
