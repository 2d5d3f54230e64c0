"""Builds the objects one process needs, from settings: the one place where layers meet."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from crm.config import Settings
from crm.projectors.campaigns import CampaignsProjector
from crm.projectors.customers import CustomerSpendProjector
from crm.projectors.freshness import ProjectionWatcher
from crm.projectors.restaurants import RestaurantsProjector
from crm.projectors.runner import ProjectionRunner
from crm.read_model.campaign_queries import CampaignQueries
from crm.read_model.dashboard_queries import DashboardQueries
from crm.read_model.queries import Queries
from crm.write_model.api_keys import ApiKeys
from crm.write_model.application import Clock, CrmApplication, utc_now
from crm.write_model.operators import Operators

MIGRATIONS = Path(__file__).parent / "migrations"
_MIGRATE_LOCK_ID = 727_001  # PostgreSQL advisory lock: one `crm migrate` at a time


@dataclass
class Container:
    """Everything a web, worker or CLI process uses, built once per process."""

    settings: Settings
    application: CrmApplication
    runner: ProjectionRunner
    queries: Queries
    campaign_queries: CampaignQueries
    api_keys: ApiKeys
    operators: Operators
    dashboard_queries: DashboardQueries
    clock: Clock
    watcher: ProjectionWatcher | None = None  # background mode: follows `crm projector`

    @property
    def engine(self) -> Engine:
        return self.application.factory.datastore.engine

    def close(self) -> None:
        """Stop this container's background threads and close its connections."""
        if self.watcher is not None:
            self.watcher.close()
        self.engine.dispose()

    @property
    def freshness(self) -> ProjectionRunner | ProjectionWatcher:
        """Whoever brings the read model up to a command's events in this process."""
        return self.watcher or self.runner

    def read_model_reached(self, position: int, names: list[str] | None = None, timeout: float = 30.0) -> bool:
        """Make sure the named projections (default: all) include everything up to `position`.

        Inline, this process applies the events itself; in background mode it waits (up to
        `timeout` seconds) for `crm projector` and says whether it got there.
        """
        if self.watcher is None:
            for name in names or self.runner.projectors:
                self.runner._catch_up_one(name, position, None)
            return True
        return self.watcher.wait_for(position, names, timeout)


def event_store_env(settings: Settings, create_tables: bool = False) -> dict[str, str]:
    return {
        "PERSISTENCE_MODULE": "crm.write_model.eventstore:Factory",
        "SQLALCHEMY_URL": settings.database_url,
        "CREATE_TABLE": "y" if create_tables else "n",
        "LOCK_TIMEOUT_MS": str(max(1, round(settings.event_store_lock_timeout * 1000))),
    }


def _ensure_sqlite_directory(settings: Settings) -> None:
    if settings.is_sqlite:
        database = make_url(settings.database_url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)


def _visit_locator(application: CrmApplication, queries: Queries, watcher: ProjectionWatcher | None):
    """Which customer holds a visit: the `visits` read table, once it includes the whole log.

    Inline, the table is always current for this process's own commands. In background mode a
    visit recorded a moment ago may not be projected yet, so a miss waits for the projector to
    reach the head before it counts as "no such visit".
    """

    def locate(visit_id):
        found = queries.customer_of_visit(visit_id)
        if found is None and watcher is not None:
            if watcher.wait_for(application.recorder.max_notification_id() or 0, ["customers"]):
                found = queries.customer_of_visit(visit_id)
        return found

    return locate


def build(settings: Settings, clock: Clock = utc_now, _create_tables: bool = False) -> Container:
    """Wire the application, the projectors (inline) and the queries for one process."""
    _ensure_sqlite_directory(settings)
    application = CrmApplication(
        event_store_env(settings, _create_tables),
        secret=settings.secret_key.encode(),
        clock=clock,
        command_retries=settings.command_retries,
    )
    queries = Queries(application.factory.datastore.engine)
    runner = ProjectionRunner(application, [RestaurantsProjector(), CustomerSpendProjector(), CampaignsProjector()])
    watcher = None
    if settings.projection_mode == "inline":
        application.saved_observers.append(runner.on_saved)
    else:  # `crm projector` applies the events; commands wait for it (read-your-writes)
        watcher = ProjectionWatcher(
            application.factory.datastore.engine, runner.projectors.values(), settings.read_your_writes_timeout
        )
        application.saved_observers.append(watcher.on_saved)
    application.visit_locator = _visit_locator(application, queries, watcher)
    return Container(
        settings=settings,
        application=application,
        runner=runner,
        queries=queries,
        campaign_queries=CampaignQueries(application.factory.datastore.engine),
        api_keys=ApiKeys(application.factory.datastore),
        operators=Operators(application.factory.datastore, clock),
        dashboard_queries=DashboardQueries(application.factory.datastore.engine),
        clock=clock,
        watcher=watcher,
    )


def migrate(settings: Settings) -> None:
    """Create or upgrade the event store tables and, through Alembic, every other table."""
    from alembic import command
    from alembic.config import Config

    _ensure_sqlite_directory(settings)
    lock_engine = create_engine(settings.database_url)
    try:
        with lock_engine.connect() as lock:
            on_postgres = lock.dialect.name == "postgresql"
            if on_postgres:  # one migrator at a time, from table creation to the last revision
                lock.execute(text("SELECT pg_advisory_lock(:id)"), {"id": _MIGRATE_LOCK_ID})
            try:
                container = build(settings, _create_tables=True)  # the library creates its own tables
                with container.engine.connect() as connection:
                    config = Config()
                    config.set_main_option("script_location", str(MIGRATIONS))
                    config.attributes["connection"] = connection
                    command.upgrade(config, "head")
                    connection.commit()
                container.runner.catch_up()
                container.engine.dispose()
            finally:
                if on_postgres:
                    lock.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": _MIGRATE_LOCK_ID})
    finally:
        lock_engine.dispose()
