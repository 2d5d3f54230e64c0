"""A schema that dumps a list's rows quickly: the API's pages hold 50 rows of a dozen fields,
and marshmallow spent more time dumping a page than the database took to read it."""

from __future__ import annotations

from functools import cached_property

from marshmallow import Schema, missing


class RowSchema(Schema):
    """Dumps dict rows field by field: each value read with `dict.get` and handed to its field's
    `_serialize`, instead of through `Field.serialize`, the schema's accessor and
    `marshmallow.utils.get_value` for each of them. A field that reads the whole row (`Function`,
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
            )
            for name, field in self.dump_fields.items()
        )

    def _serialize(self, obj, *, many: bool = False):
        if many and obj is not None:
            return [self._serialize(row) for row in obj]
        if not isinstance(obj, dict):
            return super()._serialize(obj, many=many)
        dumped = {}
        for name, attribute, key, field, reads_value in self._row_plan:
            value = obj.get(attribute, missing) if reads_value else missing
            if value is missing:
                value = field.serialize(name, obj, accessor=self.get_attribute)
                if value is missing:
                    continue
            else:
                value = field._serialize(value, name, obj)
            dumped[key] = value
        return dumped
