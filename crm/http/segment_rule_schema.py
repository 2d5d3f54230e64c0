"""The segment rule grammar as OpenAPI components, so that the document states what
`crm.write_model.segment_rules.parse_rule` accepts: one component per level of nesting
(`SegmentRule1`, a condition, to `SegmentRule5`), each group naming the level below, and a
condition per field group with its operators, value, `days` or `campaign`.

Two limits are left to the write model and said in the descriptions: at most 30 conditions in a
rule, and `between`'s low at most its high."""

from __future__ import annotations

from crm.write_model.segment_rules import (
    AMOUNT_LIMITS,
    CONSENTS,
    MAX_CONDITIONS,
    MAX_DAYS,
    MAX_DEPTH,
    MOMENT_PATTERN,
    OPS,
    UUID_PATTERN,
    Field,
    Op,
)

CONDITION = "SegmentCondition"


def level(depth: int) -> str:
    return f"SegmentRule{depth}"


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _integer(low: int, high: int) -> dict:
    return {"type": "integer", "minimum": low, "maximum": high}


_DAYS = _integer(1, MAX_DAYS)
_MOMENT = {"type": "string", "format": "date-time", "pattern": MOMENT_PATTERN}


def _condition(
    fields: list[Field], ops: list[Op], value: dict | None, *, days: bool = False, campaign: bool = False
) -> dict:
    properties = {
        "field": {"type": "string", "enum": [str(f) for f in fields]},
        "op": {"type": "string", "enum": [str(o) for o in ops]},
    }
    required = ["field", "op"]
    if value is not None:
        properties["value"] = value
        required.append("value")
    if days:
        properties["days"] = _DAYS
        required.append("days")
    if campaign:
        properties["campaign"] = {"type": "string", "format": "uuid", "pattern": UUID_PATTERN}
        required.append("campaign")
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


def _conditions() -> list[dict]:
    variants = []
    for field, limit in AMOUNT_LIMITS.items():
        windowed = field in (Field.SPEND_CENTS_IN_LAST_DAYS, Field.VISITS_IN_LAST_DAYS)
        variants.append(_condition([field], [Op.GTE, Op.LTE], _integer(0, limit), days=windowed))
        if Op.BETWEEN in OPS[field]:
            pair = {"type": "array", "items": _integer(0, limit), "minItems": 2, "maxItems": 2}
            variants.append(_condition([field], [Op.BETWEEN], pair))
    moments = [Field.LAST_VISIT_AT, Field.FIRST_VISIT_AT, Field.REGISTERED_AT]
    variants += [
        _condition(moments, [Op.WITHIN_DAYS, Op.OLDER_THAN_DAYS], _integer(0, MAX_DAYS)),
        _condition(moments, [Op.BEFORE, Op.AFTER], _MOMENT),
        _condition([Field.LAST_VISIT_AT, Field.FIRST_VISIT_AT], [Op.NEVER], None),
        _condition([Field.EMAIL_CONSENT], [Op.EQ], {"type": "string", "enum": list(CONSENTS)}),
        _condition([Field.MESSAGED_IN_LAST_DAYS], [Op.EQ], {"type": "boolean"}, days=True),
        _condition([Field.RECEIVED_CAMPAIGN], [Op.EQ], {"type": "boolean"}, campaign=True),
    ]
    # `never` may also carry "value": true.
    never = variants[-4]
    never_true = {
        **never,
        "properties": {**never["properties"], "value": {"type": "boolean", "enum": [True]}},
        "required": [*never["required"], "value"],
    }
    return [*variants, never_true]


def _group(key: str, below: str) -> dict:
    inner = ref(below) if key == "not" else {"type": "array", "minItems": 1, "items": ref(below)}
    return {"type": "object", "properties": {key: inner}, "required": [key], "additionalProperties": False}


def components() -> dict[str, dict]:
    """The components to register: the condition and one rule per level (the deepest is the rule)."""
    schemas = {
        CONDITION: {
            "description": "One condition of a segment rule (docs/api.md#rules).",
            "oneOf": _conditions(),
        },
        level(1): ref(CONDITION),
    }
    for depth in range(2, MAX_DEPTH + 1):
        below = level(depth - 1)
        schemas[level(depth)] = {"oneOf": [ref(CONDITION), *(_group(key, below) for key in ("all", "any", "not"))]}
    schemas[level(MAX_DEPTH)]["description"] = (
        f"A segment rule: groups all/any/not and conditions, at most {MAX_DEPTH} levels deep and "
        f"{MAX_CONDITIONS} conditions; between takes [low, high] with low <= high (docs/api.md#rules)."
    )
    return schemas


RULE = level(MAX_DEPTH)
