"""Builds the objects one process needs, from settings: the one place where layers meet."""

from __future__ import annotations

import ast
import os
import re
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from uuid import UUID

from sqlalchemy import create_engine, exists, select, text
from sqlalchemy.engine import Engine, make_url

from crm import metrics
from crm.adapters.api_keys import ApiKeys
from crm.adapters.event_store import EventStore, open_event_store
from crm.adapters.key_erasures import KeyErasureFollower
from crm.adapters.operators import Operators
from crm.adapters.stream_owners import stream_owners
from crm.adapters.unsubscribe_links import UnsubscribeLinks
from crm.adapters.uploads import Uploads
from crm.config import Settings
from crm.projectors import all_projectors
from crm.projectors.engine import InlineProjection, ProjectionRunner, ProjectionWatcher, ReadSide, Rebuilder
from crm.read_model.campaign_queries import CampaignQueries
from crm.read_model.consent_queries import ConsentQueries
from crm.read_model.customer_page_queries import CustomerPageQueries
from crm.read_model.dashboard_queries import DashboardQueries
from crm.read_model.export_queries import ExportQueries
from crm.read_model.import_queries import ImportQueries
from crm.read_model.overview_queries import OverviewQueries
from crm.read_model.queries import Queries
from crm.read_model.saved_segment_queries import SavedSegmentQueries
from crm.read_model.segment_queries import SegmentQueries
from crm.read_model.tables import customers
from crm.write_model.application import CrmApplication
from crm.write_model.commands import Clock, utc_now

MIGRATIONS = Path(__file__).parent / "migrations"
_MIGRATE_LOCK_ID = 727_001  # PostgreSQL advisory lock: one `crm migrate` at a time


@dataclass(frozen=True)
class Container:
    """Everything a web, worker or CLI process uses, built once per process."""

    settings: Settings
    event_store: EventStore
    application: CrmApplication
    runner: ProjectionRunner
    read_side: ReadSide
    queries: Queries
    campaign_queries: CampaignQueries
    segment_queries: SegmentQueries
    saved_segment_queries: SavedSegmentQueries
    consent_queries: ConsentQueries
    import_queries: ImportQueries
    export_queries: ExportQueries
    api_keys: ApiKeys
    operators: Operators
    dashboard_queries: DashboardQueries
    overview_queries: OverviewQueries
    customer_page_queries: CustomerPageQueries
    unsubscribe_links: UnsubscribeLinks
    key_erasures: KeyErasureFollower | None  # PostgreSQL: keys destroyed elsewhere are forgotten here
    clock: Clock

    @property
    def engine(self) -> Engine:
        return self.event_store.engine

    def close(self) -> None:
        """Stop this container's background threads and close its connections."""
        self.read_side.close()
        if self.key_erasures is not None:
            self.key_erasures.close()
        self.engine.dispose()


class VisitLocator:
    """Which customer holds a visit: the `visits` read table, once it includes the whole log.

    A visit recorded a moment ago by another process may not be projected yet (background
    mode), so a miss first brings the read side up to the head before it counts as "no such visit".
    """

    def __init__(self, queries: Queries, read_side: ReadSide):
        self.queries = queries
        self.read_side = read_side

    def __call__(self, visit_id: UUID) -> UUID | None:
        found = self.queries.customer_of_visit(visit_id)
        if found is None and self.read_side.wait_for(self.read_side.runner.head(), ["customers"]):
            found = self.queries.customer_of_visit(visit_id)
        return found


def _sqlite_file(settings: Settings) -> Path | None:
    """The file of a SQLite database (None: PostgreSQL, or SQLite in memory)."""
    if not settings.is_sqlite:
        return None
    database = make_url(settings.database_url).database
    return Path(database) if database and database != ":memory:" else None


def _ensure_sqlite_directory(settings: Settings) -> None:
    file = _sqlite_file(settings)
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)


def projection_runner(settings: Settings) -> ProjectionRunner:
    """A runner of every projection over its own connection to the store, nothing else wired:
    for a rebuild's worker processes (module-level, so that a spawned process can call it)."""
    store = open_event_store(settings.database_url, settings.secret_key.encode())
    return ProjectionRunner(store.recorder, store.mapper, all_projectors(), on_error=settings.projection_on_error)


def rebuilder(container: Container, workers: int | None = None) -> Rebuilder:
    """The rebuilder for this process's projections; on PostgreSQL its phased replays use
    `workers` processes (default: one per CPU, at most 4)."""
    workers = workers or min(4, os.cpu_count() or 1)
    factory = partial(projection_runner, container.settings)
    return Rebuilder(container.runner, runner_factory=factory, workers=workers)


def build(settings: Settings, clock: Clock = utc_now, _create_tables: bool = False) -> Container:
    """Wire the event store, the read side (inline or watching `crm projector`), the application
    and the queries for one process."""
    _ensure_sqlite_directory(settings)
    store = open_event_store(
        settings.database_url,
        settings.secret_key.encode(),
        create_tables=_create_tables,
        lock_timeout=settings.event_store_lock_timeout,
    )
    engine = store.engine
    erasures = KeyErasureFollower(store.keys, engine) if engine.dialect.name == "postgresql" else None
    runner = ProjectionRunner(store.recorder, store.mapper, all_projectors(), on_error=settings.projection_on_error)
    watcher = ProjectionWatcher(engine) if settings.projection_mode == "background" else None
    if watcher is None:  # inline: commands project their own events in their own transactions
        store.recorder.inline_projection = InlineProjection(runner)
    read_side = ReadSide(runner, watcher, settings.read_your_writes_timeout)
    queries = Queries(engine)
    segment_queries = SegmentQueries(engine)
    application = CrmApplication(
        store,
        secret=settings.secret_key.encode(),
        visit_locator=VisitLocator(queries, read_side),
        uploads=Uploads(store.factory.datastore),
        clock=clock,
        command_retries=settings.command_retries,
    )
    application.observe_command = metrics.observe_command
    return Container(
        settings=settings,
        event_store=store,
        application=application,
        runner=runner,
        read_side=read_side,
        queries=queries,
        campaign_queries=CampaignQueries(engine),
        segment_queries=segment_queries,
        saved_segment_queries=SavedSegmentQueries(engine, segment_queries),
        consent_queries=ConsentQueries(engine),
        import_queries=ImportQueries(engine),
        export_queries=ExportQueries(engine, segment_queries),
        api_keys=ApiKeys(store.factory.datastore),
        operators=Operators(store.factory.datastore, clock),
        dashboard_queries=DashboardQueries(engine),
        overview_queries=OverviewQueries(engine),
        customer_page_queries=CustomerPageQueries(engine),
        unsubscribe_links=UnsubscribeLinks(settings.secret_key.encode(), settings.public_base_url),
        key_erasures=erasures,
        clock=clock,
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
                _own_earlier_customers(container.engine)
                container.engine.dispose()
            finally:
                if on_postgres:
                    lock.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": _MIGRATE_LOCK_ID})
    finally:
        lock_engine.dispose()


def unmigrated(settings: Settings) -> str | None:
    """Why this version cannot run on the database yet, or None: its tables are missing, or
    they are at another revision than this version's migrations end at (`crm migrate` was not
    run for it, or a newer version's was). None too when the database cannot be reached now:
    the process then starts without the check."""
    from sqlalchemy import inspect
    from sqlalchemy.exc import OperationalError

    revisions = migration_revisions()
    needed = set(revisions) - set(revisions.values())
    file = _sqlite_file(settings)
    if file is not None and not file.exists():  # connecting would create it
        return "the database is not migrated yet: run `crm migrate` first"
    engine = create_engine(settings.database_url)
    try:
        with engine.connect() as connection:
            current = (
                set(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())
                if inspect(connection).has_table("alembic_version")
                else set()
            )
    except OperationalError:
        return None
    finally:
        engine.dispose()
    if current == needed:
        return None
    if not current:
        return "the database is not migrated yet: run `crm migrate` first"
    if not current <= set(revisions):
        return (
            f"the database is at revision {', '.join(sorted(current))}, which this version does not know "
            "(a newer version migrated it): run that version"
        )
    return (
        f"the database is at revision {', '.join(sorted(current))} and this version needs "
        f"{', '.join(sorted(needed))}: run `crm migrate` first"
    )


def migration_revisions() -> dict[str, str | None]:
    """This version's migrations: each revision and the one it follows, read from the two
    assignments at the top of each file. Alembic would read them too, but loading it costs each
    long-running process (`crm serve`, `crm worker`, `crm projector`, which check at start)
    about 10 MB; `tests/application/test_cli.py` checks that both read the same."""
    revisions: dict[str, str | None] = {}
    for path in sorted((MIGRATIONS / "versions").glob("*.py")):
        values = dict(_REVISION_LINE.findall(path.read_text(encoding="utf-8")))
        if "revision" in values:
            revisions[ast.literal_eval(values["revision"])] = ast.literal_eval(values.get("down_revision", "None"))
    return revisions


_REVISION_LINE = re.compile(r"^(revision|down_revision)\s*=\s*(\S.*?)\s*$", re.MULTILINE)


def _own_earlier_customers(engine: Engine) -> None:
    """Make each restaurant own the streams of customers registered before restaurants owned
    them (they were counted in `CustomerRoll`s then), so its deletion still sees them.

    Read from the `customers` table, complete once the projections have caught up to the head
    (as `migrate` has done): it keeps a row for every customer ever registered.
    """
    with engine.begin() as connection:
        connection.execute(
            stream_owners.insert().from_select(
                ["stream_id", "owner_id"],
                select(customers.c.id, customers.c.restaurant_id).where(
                    ~exists().where(stream_owners.c.stream_id == customers.c.id)
                ),
            )
        )
