"""The embedded default: with no broker, the follower and a Celery worker run as threads of the
web process, on Celery's in-memory broker, so a campaign completes with nothing else installed."""

from __future__ import annotations

import logging
import threading

from crm.bootstrap import Container
from crm.workers import runtime
from crm.workers.celery_app import get_app
from crm.workers.follower import CampaignFollower

log = logging.getLogger(__name__)


class EmbeddedWorker:
    """A solo Celery worker thread and the campaign follower thread, sharing `container`."""

    def __init__(self, container: Container):
        self.container = container
        runtime.configure(container.settings, container)
        self.celery = get_app(container.settings)
        self.follower = CampaignFollower(container)
        self.projector = None
        self._worker = None

    def start(self) -> EmbeddedWorker:
        self._worker = self.celery.Worker(
            pool="solo",
            concurrency=1,
            without_heartbeat=True,
            without_mingle=True,
            without_gossip=True,
            loglevel=self.container.settings.log_level,
            hostname="embedded@crm",
        )
        threading.Thread(target=self._worker.start, name="embedded-celery-worker", daemon=True).start()
        self.follower.start_thread()
        self.projector = runtime.start_inline_projector(self.container)
        log.info("embedded campaign worker started (in-memory broker)")
        return self

    def stop(self) -> None:
        self.follower.stop()
        if self.projector is not None:
            self.projector.stop()
        if self._worker is not None:
            self._worker.stop()
