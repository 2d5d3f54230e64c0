"""The Celery application, configured for at-least-once work with idempotent tasks."""

from __future__ import annotations

import logging
import sys
import threading

from celery import Celery, Task
from celery.signals import task_postrun, task_prerun

from crm import logs
from crm.adapters.availability import database_unavailable
from crm.config import Settings

EMBEDDED_BROKER = "memory://localhost/"  # a host named: else kombu warns at every start that it chose one
EMBEDDED_TRANSPORT = "crm.workers.memory_broker:Transport"
OUTAGE_RETRY_SECONDS = 1.0  # the first retry after a database outage; doubling up to the cap
OUTAGE_RETRY_CAP_SECONDS = 10.0
OUTAGE_RETRIES = 30  # about five minutes of outage; past it the task fails, and the follower's sweep requeues
log = logging.getLogger(__name__)
_lock = threading.Lock()
_apps: dict[str, Celery] = {}


class OutageRetryingTask(Task):
    """Every task's base: one that meets a database outage (a restart, a failover) is tried
    again shortly, with one warning line, instead of failing with an error and a traceback.

    Tasks are idempotent, so a retry is always safe; without it, the work waits for the
    campaign follower's sweep once the database is back.
    """

    def __call__(self, *args, **kwargs):
        try:
            return super().__call__(*args, **kwargs)
        except Exception as error:
            if not database_unavailable(error) or self.request.called_directly:
                raise
            countdown = min(OUTAGE_RETRY_CAP_SECONDS, OUTAGE_RETRY_SECONDS * 2**self.request.retries)
            log.warning(
                "task %s met a database outage (%s); retrying in %g s", self.name, type(error).__name__, countdown
            )
            # No `exc`: the retry line would print the error, and its SQL parameters with it.
            raise self.retry(countdown=countdown, max_retries=OUTAGE_RETRIES) from None


def create_celery(settings: Settings) -> Celery:
    """A Celery app for these settings; without a broker URL, the in-process memory broker."""
    logs.install()
    app = Celery(
        "crm", broker=settings.broker_url or EMBEDDED_BROKER, include=["crm.workers.tasks"], task_cls=OutageRetryingTask
    )
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        result_backend=None,
        task_default_queue="crm",
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=3,
        # A publish while the broker is down fails after a few seconds instead of hanging: the
        # follower keeps its position and publishes again later.
        task_publish_retry_policy={"max_retries": 3, "interval_start": 0.2, "interval_step": 0.5},
        broker_transport_options={"visibility_timeout": 3600, "socket_timeout": 5, "socket_connect_timeout": 3},
        worker_pool="solo" if sys.platform == "win32" else "prefork",
    )
    if not settings.broker_url:
        app.conf.broker_transport = EMBEDDED_TRANSPORT
    return app


def get_app(settings: Settings | None = None) -> Celery:
    """The process's Celery app (created once, made current so tasks publish through it)."""
    with _lock:
        if "app" not in _apps:
            settings = settings or Settings.from_env()
            app = create_celery(settings)
            app.set_current()
            app.set_default()
            _connect_follower(settings)
            _apps["app"] = app
        return _apps["app"]


def _connect_follower(settings: Settings) -> None:
    """In a `crm worker` / `celery -A crm.workers worker` process, run the campaign follower.

    It starts once the pool has forked (worker_ready), in the main process; a pool process
    forked later drops the follower's connections without closing them (they are the parent's).
    """
    from celery.signals import worker_process_init, worker_ready

    state: dict = {}

    @worker_ready.connect(weak=False)
    def start_follower(**_) -> None:
        from crm.bootstrap import build
        from crm.workers import runtime
        from crm.workers.follower import CampaignFollower

        if runtime.is_embedded():  # the embedded worker runs its own follower
            return
        state["container"] = container = build(settings)
        state["follower"] = CampaignFollower(container)
        state["follower"].start_thread()
        state["projector"] = runtime.start_inline_projector(container)

    @worker_process_init.connect(weak=False)
    def forget_parent_connections(**_) -> None:
        from crm.workers import runtime

        if "container" in state:
            state["container"].engine.dispose(close=False)
        runtime.container()  # build this pool process's own now, not on its first task


@task_prerun.connect(weak=False)
def _log_campaign(args=None, kwargs=None, **_) -> None:
    """The records a task logs carry its campaign id (every task's first argument)."""
    campaign_id = (kwargs or {}).get("campaign_id") or (args[0] if args else None)
    logs.set_context(campaign_id=str(campaign_id) if campaign_id else None)


@task_postrun.connect(weak=False)
def _log_campaign_done(**_) -> None:
    logs.set_context(campaign_id=None)
