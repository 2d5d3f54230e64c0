"""`crm projections rebuild` replays the log into tables equal to the incrementally built ones."""

from click.testing import CliRunner
from sqlalchemy import select, text

from crm.cli import main
from crm.read_model.tables import projection_tracking
from tests.scenarios import scripted_history, snapshot_tables


def test_rebuild_equals_the_incremental_tables_row_for_row(application, container, settings, clock):
    scripted_history(application, clock)
    incremental = snapshot_tables(container)
    assert len(incremental["customers"]) == 12 and len(incremental["visits"]) > 5  # one deleted, kept blank
    assert len(incremental["campaigns"]) == 2 and len(incremental["outreach_events"]) == 5

    result = CliRunner().invoke(
        main,
        ["projections", "rebuild"],
        env={"DATABASE_URL": settings.database_url, "SECRET_KEY": settings.secret_key},
    )
    assert result.exit_code == 0, result.output
    last_line = result.output.strip().splitlines()[-1]
    with container.engine.connect() as conn:
        event_count = conn.execute(text("SELECT count(*) FROM crm_events")).scalar_one()
    assert last_line.startswith(f"rebuilt {event_count} events in ")
    assert last_line.endswith("events/s)")
    assert snapshot_tables(container) == incremental
    with container.engine.connect() as conn:
        positions = dict(conn.execute(select(projection_tracking.c.name, projection_tracking.c.position)).all())
    assert positions == dict.fromkeys(container.runner.projectors, container.runner.head())
