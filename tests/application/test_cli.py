"""The `crm` command against the test database."""

from click.testing import CliRunner
from sqlalchemy import create_engine, text

from crm.bootstrap import MIGRATIONS, migration_revisions, unmigrated
from crm.cli import main


def run(settings, *args):
    env = {"DATABASE_URL": settings.database_url, "SECRET_KEY": settings.secret_key, "LOG_LEVEL": "WARNING"}
    return CliRunner().invoke(main, list(args), env=env)


def test_apikey_create_prints_only_a_working_key(settings, container):
    result = run(settings, "apikey", "create", "--admin", "--name", "ops")
    assert result.exit_code == 0, result.output
    key = result.stdout.strip()
    assert key.startswith("crm_") and len(key) > 40 and "\n" not in key
    assert container.api_keys.authenticate(key).name == "ops"


def test_apikey_create_needs_exactly_one_scope_and_an_existing_restaurant(settings, container):
    assert run(settings, "apikey", "create", "--name", "x").exit_code != 0
    result = run(settings, "apikey", "create", "--name", "x", "--restaurant", "6f1c2c1e-0000-4000-8000-000000000000")
    assert result.exit_code != 0 and "no restaurant" in result.output


def test_bootstrap_creates_one_admin_key_and_a_fresh_one_after_revocation(settings, container):
    first = run(settings, "apikey", "bootstrap")
    assert first.exit_code == 0 and first.stdout.strip().startswith("crm_")
    again = run(settings, "apikey", "bootstrap")
    assert again.exit_code == 0 and again.stdout.strip() == ""
    assert run(settings, "apikey", "revoke", "admin").exit_code == 0
    assert container.api_keys.authenticate(first.stdout.strip()) is None
    fresh = run(settings, "apikey", "bootstrap")
    assert fresh.exit_code == 0, fresh.output
    assert container.api_keys.authenticate(fresh.stdout.strip()).name == "admin-2"


def test_history_prints_the_customers_events(settings, application):
    restaurant_id = application.open_restaurant("Pizza Palace", actor="admin")
    customer_id = application.register_customer(restaurant_id, "ann@example.com", "Ann", actor="desk", scope=None)
    application.record_visit(customer_id, 2500, actor="till", scope=None)
    result = run(settings, "history", str(customer_id))
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2
    assert "Registered" in lines[0] and "by desk" in lines[0] and "ann@example.com" in lines[0]
    assert "VisitRecorded" in lines[1] and "spend_cents=2500" in lines[1]
    assert run(settings, "history", "6f1c2c1e-0000-4000-8000-000000000000").exit_code != 0


def test_migrate_twice_is_harmless(settings):
    assert run(settings, "migrate").exit_code == 0
    assert run(settings, "migrate").exit_code == 0


def test_serve_and_projector_refuse_a_database_without_tables(tmp_path):
    database = tmp_path / "new.sqlite3"
    env = {"DATABASE_URL": f"sqlite:///{database}", "SECRET_KEY": "x", "LOG_LEVEL": "WARNING"}
    for command in ("serve", "projector"):
        result = CliRunner().invoke(main, [command], env=env)
        assert result.exit_code == 1, result.output
        assert "the database is not migrated yet: run `crm migrate` first" in result.output
    assert not database.exists()  # nothing created in passing


def test_a_command_against_a_database_out_of_reach_says_so_without_a_traceback():
    env = {
        "DATABASE_URL": "postgresql+psycopg2://ops:hunter2@127.0.0.1:9/crm",  # nothing listens on port 9
        "SECRET_KEY": "x",
        "LOG_LEVEL": "WARNING",
    }
    for command in (["projections", "status"], ["operator", "list"], ["migrate"]):
        result = CliRunner().invoke(main, command, env=env)
        assert result.exit_code == 1, result.output
        assert isinstance(result.exception, SystemExit)  # a message, not an exception
        assert result.output.startswith("Error: the database failed (postgresql+psycopg2://ops:***@127.0.0.1:9/crm): ")
        assert "Connection refused" in result.output
        assert "hunter2" not in result.output and "Traceback" not in result.output


def test_with_debug_logs_a_database_failure_keeps_its_traceback():
    env = {"DATABASE_URL": "postgresql+psycopg2://ops@127.0.0.1:9/crm", "SECRET_KEY": "x", "LOG_LEVEL": "DEBUG"}
    result = CliRunner().invoke(main, ["projections", "status"], env=env)
    assert result.exit_code == 1
    assert "Error: the database failed (postgresql+psycopg2://ops@127.0.0.1:9/crm): " in result.output
    assert type(result.exception).__name__ == "OperationalError"  # raised on, for its traceback


def test_a_command_against_a_database_never_migrated_says_to_migrate(tmp_path):
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'new.sqlite3'}", "SECRET_KEY": "x", "LOG_LEVEL": "WARNING"}
    for command in (["projections", "status"], ["history", "6f1c2c1e-0000-4000-8000-000000000000"]):
        result = CliRunner().invoke(main, command, env=env)
        assert result.exit_code == 1, result.output
        assert result.output == "Error: the database is not migrated yet: run `crm migrate` first\n"


def test_a_database_at_another_revision_is_refused_with_both_revisions(settings):
    assert unmigrated(settings) is None
    engine = create_engine(settings.database_url)
    with engine.begin() as connection:
        migrated = connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    try:
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = '0017'"))
        assert unmigrated(settings) == (
            f"the database is at revision 0017 and this version needs {migrated}: run `crm migrate` first"
        )
        result = run(settings, "serve")
        assert result.exit_code == 1 and "run `crm migrate` first" in result.output
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
        assert "revision 9999, which this version does not know" in unmigrated(settings)
    finally:
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": migrated})
        engine.dispose()
    assert unmigrated(settings) is None


def test_a_database_out_of_reach_is_not_checked():
    from crm.config import Settings

    nowhere = Settings(database_url="postgresql+psycopg2://postgres@127.0.0.1:9/none", secret_key="x")
    assert unmigrated(nowhere) is None  # the process starts; its own connections report the outage


def test_the_migrations_are_read_as_alembic_reads_them():
    # Check the start-up check's own reading of the migration files against alembic's
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    scripts = ScriptDirectory.from_config(config)
    revisions = migration_revisions()
    assert revisions == {script.revision: script.down_revision for script in scripts.walk_revisions()}
    assert set(revisions) - set(revisions.values()) == set(scripts.get_heads())
