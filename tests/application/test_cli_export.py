"""`crm export customers` and `crm export campaign-events`: the API's CSV files on the command line."""

from __future__ import annotations

import csv
import io
import uuid

from click.testing import CliRunner

from crm.cli import main
from crm.read_model.export_queries import CUSTOMER_COLUMNS, OUTREACH_COLUMNS
from crm.write_model.vocabulary import WORKER_ACTOR
from tests.scenarios import planned_campaign

UNKNOWN = "6f1c2c1e-0000-4000-8000-000000000000"


def run(settings, *args):
    env = {"DATABASE_URL": settings.database_url, "SECRET_KEY": settings.secret_key, "LOG_LEVEL": "WARNING"}
    return CliRunner().invoke(main, list(args), env=env)


def table(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def test_export_customers_writes_the_csv_to_stdout_or_a_file(settings, application, clock, tmp_path):
    pizza = application.open_restaurant("Pizza Palace", actor="admin")
    tacos = application.open_restaurant("Taco Town", actor="admin")
    ann = application.register_customer(pizza, "ann@example.com", "=cmd|' /C calc'!A0", "Lee", actor="a", scope=None)
    application.record_visit(ann, 2500, actor="till", scope=None)
    application.register_customer(pizza, "bob@example.com", "Bob", actor="a", scope=None)
    application.register_customer(tacos, "tia@example.com", "Tia", actor="a", scope=None)

    everyone = run(settings, "export", "customers")
    assert everyone.exit_code == 0, everyone.output
    header, *rows = table(everyone.stdout_bytes)
    assert tuple(header) == CUSTOMER_COLUMNS and len(rows) == 3
    assert "exported 3 customers" in everyone.stderr

    output = tmp_path / "pizza.csv"
    result = run(settings, "export", "customers", "--restaurant", str(pizza), "--search", "ANN", "-o", str(output))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    header, *rows = table(output.read_bytes())
    assert [(row[0], row[1], row[2], row[6]) for row in rows] == [
        (str(ann), "ann@example.com", "'=cmd|' /C calc'!A0", "2500")
    ]


def test_export_customers_of_a_saved_segment_with_a_bom(settings, application):
    pizza = application.open_restaurant("Pizza Palace", actor="admin")
    regular = application.register_customer(pizza, "regular@example.com", actor="a", scope=None)
    application.record_visit(regular, 900, actor="till", scope=None)
    application.register_customer(pizza, "new@example.com", actor="a", scope=None)
    segment = application.create_segment(
        pizza, "Visitors", {"field": "visit_count", "op": "gte", "value": 1}, actor="admin", scope=None
    )

    result = run(settings, "export", "customers", "--segment", str(segment), "--bom")

    assert result.exit_code == 0, result.output
    assert result.stdout_bytes.startswith(b"\xef\xbb\xbfid,email,")
    assert [row[1] for row in table(result.stdout_bytes[3:])[1:]] == ["regular@example.com"]


def test_export_customers_refuses_an_unknown_restaurant_or_segment(settings, container):
    for option in ("--restaurant", "--segment"):
        result = run(settings, "export", "customers", option, UNKNOWN)
        assert result.exit_code == 2 and f"no {option[2:]} {UNKNOWN}" in result.output, result.output
        assert result.stdout_bytes == b""
    assert run(settings, "export", "customers", "--segment", "nope").exit_code == 2


def test_export_campaign_events_writes_one_row_per_recipient(settings, application, clock):
    _, campaign_id, customers = planned_campaign(application, 3)
    records = application.open_batch(campaign_id, 0)
    records[0].record_sent(1, WORKER_ACTOR, clock())
    records[1].record_failed(2, "-ERR mailbox full", WORKER_ACTOR, clock())
    application.record_outcomes(records[:2])

    result = run(settings, "export", "campaign-events", str(campaign_id))
    failed = run(settings, "export", "campaign-events", str(campaign_id), "--status", "failed", "--bom")

    assert result.exit_code == 0, result.output
    header, *rows = table(result.stdout_bytes)
    assert tuple(header) == OUTREACH_COLUMNS
    assert sorted(row[3] for row in rows) == sorted(map(str, customers))
    assert sorted(row[6] for row in rows) == ["failed", "queued", "sent"]
    assert "exported 3 outreach records" in result.stderr
    assert failed.exit_code == 0, failed.output
    assert [(row[6], row[7], row[8]) for row in table(failed.stdout_bytes[3:])[1:]] == [
        ("failed", "'-ERR mailbox full", "2")
    ]


def test_export_campaign_events_of_an_unknown_campaign_fails(settings, container):
    result = run(settings, "export", "campaign-events", str(uuid.uuid4()))

    assert result.exit_code == 1 and "no campaign" in result.output
