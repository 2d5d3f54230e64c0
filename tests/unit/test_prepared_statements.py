"""Statements as PostgreSQL prepares them: `$n` parameters, typed as SQLAlchemy types them."""

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Uuid,
    bindparam,
    case,
    literal_column,
)
from sqlalchemy.dialects.postgresql import psycopg2

from crm.adapters.prepared_statements import prepared

DIALECT = psycopg2.dialect()
table = Table(
    "things",
    MetaData(),
    Column("id", Uuid, primary_key=True),
    Column("name", String),
    Column("total", BigInteger),
    Column("count", Integer),
    Column("at", DateTime(timezone=True)),
)


def test_parameters_are_numbered_in_order_and_a_repeated_one_keeps_its_number_and_type():
    statement = (
        table.update()
        .where(table.c.id == bindparam("key"))
        .values(name=bindparam("label"), total=table.c.total + bindparam("add"), at=bindparam("at"))
        .values(count=case((table.c.at < bindparam("at"), 1), else_=0))
    )

    made = prepared(statement.compile(dialect=DIALECT))

    assert made.sql == (
        "UPDATE things SET name=$1, total=(things.total + $2), count=CASE WHEN (things.at < $3) THEN $4 ELSE $5 END, "
        "at=$3 WHERE things.id = $6::UUID"
    )
    assert made.order == ("label", "add", "at", "param_1", "param_2", "key")
    # Integers as bigint (one value may go to an integer and a bigint column)
    assert made.types == ("VARCHAR", "BIGINT", "TIMESTAMP WITH TIME ZONE", "BIGINT", "BIGINT", "UUID")
    assert made.arguments({"key": 6, "add": 2, "at": 3, "label": 1, "param_1": 4, "param_2": 5, "x": 0}) == (
        1,
        2,
        3,
        4,
        5,
        6,
    )
    assert made.execute_sql == f"EXECUTE {made.name} (%s, %s, %s, %s, %s, %s)"


def test_a_literal_percent_sign_is_one_percent_sign():
    statement = table.select().where(table.c.name.like(literal_column("'50%'")), table.c.name != bindparam("name"))

    made = prepared(statement.compile(dialect=DIALECT))

    assert made.sql.endswith("WHERE things.name LIKE '50%' AND things.name != $1")
    assert made.types == ("VARCHAR",)  # from the column it is compared to


def test_a_value_without_a_type_is_not_prepared():
    untyped = table.select().where(bindparam("a") == bindparam("b"))

    assert prepared(untyped.compile(dialect=DIALECT)) is None


def test_one_text_one_name_and_a_list_expanded_at_execution_is_not_prepared():
    first = prepared(table.select().where(table.c.id == bindparam("id")).compile(dialect=DIALECT))
    again = prepared(table.select().where(table.c.id == bindparam("id")).compile(dialect=DIALECT))
    other = prepared(table.select().where(table.c.name == bindparam("id")).compile(dialect=DIALECT))

    assert first is again and first.name != other.name
    assert first.name.startswith("crm_s_") and len(first.name) < 63  # PostgreSQL's longest name
    assert prepared(table.select().where(table.c.id.in_([1, 2])).compile(dialect=DIALECT)) is None
