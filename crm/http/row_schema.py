"""A schema that dumps a list's rows quickly: the API's pages hold 50 rows of a dozen fields,
and marshmallow spent more time dumping a page than the database took to read it."""

from __future__ import annotations

from functools import cached_property

from marshmallow import Schema, fields, missing

# Fields whose values of one class dump as they are (None too): the value is kept without a call.
_KEPT = {fields.String: str, fields.Integer: int}


class RowSchema(Schema):
    """Dumps dict rows field by field: each value read with `dict.get` and handed to its field's
    `_serialize`, instead of through `Field.serialize`, the schema's accessor and
    `marshmallow.utils.get_value` for each of them; a string or an integer (or None) in a plain
    field of its kind is kept as it is. A field that reads the whole row (`Function`,
    `Method`), a value that is missing, and a row that is not a dict go marshmallow's own way,
    so what is dumped is the same (`tests/unit/test_row_schema.py` compares the two)."""

    @cached_property
    def _row_plan(self) -> tuple:
        return tuple(
            (
                name,
                field.attribute or name,
                field.data_key if field.data_key is not None else name,
                field,
                field._CHECK_ATTRIBUTE,
                _kept(field),
            )
            for name, field in self.dump_fields.items()
        )

    def _serialize(self, obj, *, many: bool = False):
        if many and obj is not None:
            return [self._serialize(row) for row in obj]
        if not isinstance(obj, dict):
            return super()._serialize(obj, many=many)
        dumped = {}
        for name, attribute, key, field, reads_value, kept in self._row_plan:
            value = obj.get(attribute, missing) if reads_value else missing
            if value is missing:
                value = field.serialize(name, obj, accessor=self.get_attribute)
                if value is missing:
                    continue
            elif kept is None or not (value is None or value.__class__ is kept):
                value = field._serialize(value, name, obj)
            dumped[key] = value
        return dumped


def _kept(field) -> type | None:
    """The class of value `field` dumps unchanged, if it is a plain string or integer field."""
    kept = _KEPT.get(type(field))
    return None if kept is int and field.as_string else kept
