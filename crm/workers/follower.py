"""The event store is the outbox: this follower turns campaign starts, resumes and retries, and
import starts, into tasks.

It keeps a tracked position like a projector, so each event is published (at least) once
whatever restarts; one follower is active at a time (an advisory lock on PostgreSQL). It also
sweeps: on start, and every few seconds for campaigns that stopped progressing, it queues the
unfinished work of running campaigns (and imports) again, because Redis gives back a dead worker's task only
after its visibility timeout. And it starts scheduled campaigns when due: on start and every
`due_seconds` it asks the read model for them and the write model to start each (which
checks again that it is still scheduled and due); their Started then publishes as any start.
No Celery countdown holds the schedule: it lives in the log, so a restart loses nothing.
On PostgreSQL it wakes when something commits (LISTEN on the event store's channel), at most
every `poll_seconds`, so an idle service does not read the log's head twenty times a second; on
SQLite it polls every `poll_seconds`.
A campaign whose restaurant is in its quiet hours is not swept: the sweep notes when they end
and the follower queues its batches then (a sender stops a batch when they begin).
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import nullcontext
from datetime import datetime, timedelta
from uuid import UUID

from eventsourcing.utils import get_topic

from crm.adapters.availability import database_unavailable
from crm.bootstrap import Container
from crm.locks import exclusive
from crm.projectors.engine import tracking
from crm.projectors.engine.listener import events_listener
from crm.write_model.campaigns import Campaign
from crm.write_model.imports import Import

log = logging.getLogger(__name__)
NAME = "campaign_follower"
LISTEN_SECONDS = 1.0  # the longest sleep on LISTEN: how long a stop() may wait
STARTED, RESUMED = get_topic(Campaign.Started), get_topic(Campaign.Resumed)
REQUEUED = get_topic(Campaign.FailedRequeued)
IMPORT_STARTED = get_topic(Import.Started)


class CampaignFollower:
    """Publishes `resolve_audience` for each Started, `queue_batches` for each Resumed and
    FailedRequeued, `run_import` for each Import.Started."""

    def __init__(
        self, container: Container, poll_seconds: float = 0.05, sweep_seconds: float = 5.0, due_seconds: float = 0.5
    ):
        self.container = container
        self.poll_seconds = poll_seconds
        self.sweep_seconds = sweep_seconds
        self.due_seconds = due_seconds
        self.read_limit = 10_000  # events a read returns at most (over at most 4x as many ids)
        self.stop_event = threading.Event()
        self._position: int | None = None  # read from the tracking table on first poll
        self._saved = 0
        self._saved_at = 0.0
        self.waiting: dict[UUID, datetime] = {}  # campaigns in their quiet hours -> when these end

    def run(self) -> None:
        """Follow until `stop()`; stand by while another follower holds the lock."""
        while not self.stop_event.is_set():
            try:
                with exclusive(self.container.engine, "crm:campaign-follower") as active:
                    if active:
                        self._follow()
                    else:
                        self.stop_event.wait(2)
            except Exception as error:
                if database_unavailable(error):  # expected while the database restarts: no traceback
                    log.warning("campaign follower lost the database (%s); retrying", type(error).__name__)
                else:
                    log.exception("campaign follower failed; retrying")
                self.stop_event.wait(1)

    def stop(self) -> None:
        self.stop_event.set()

    def start_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name="campaign-follower", daemon=True)
        thread.start()
        return thread

    def poll_once(self) -> bool:
        """Publish tasks for new starts and resumes; True if any were, or if more is left to read."""
        app = self.container.application
        datastore = app.factory.datastore
        if self._position is None:
            with datastore.transaction(commit=False) as session:
                self._position = self._saved = tracking.position(session, NAME)
        start = self._position
        head = app.recorder.head()
        if head <= start:
            return False
        # Every id up to the head is committed (inserts lock the table and commit in id order),
        # so after reading the matching events up to it, the position may jump to it.
        # A bounded window of ids (see read_window): a follower far behind reads on at once.
        found, self._position = app.recorder.read_window(
            start, head, self.read_limit, (STARTED, RESUMED, REQUEUED, IMPORT_STARTED)
        )
        for notification in found:
            self._publish(notification.topic, str(notification.originator_id))
        # Saved after each publication, otherwise at most once a second: while a campaign
        # sends, the head moves all the time and nothing here needs saving that often.
        if found or time.monotonic() - self._saved_at >= 1.0:
            with datastore.transaction(commit=True) as session:
                moved = tracking.advance(session, NAME, self._saved, self._position)
            self._saved, self._saved_at = self._position, time.monotonic()
            if not moved:  # another follower moved it: start again from the stored position
                self._position = None
        return bool(found) or self._position < head

    def sweep(self, idle_for: timedelta | None) -> None:
        """Queue the unfinished work of running campaigns and imports (all, or those idle for
        `idle_for`); a campaign in its restaurant's quiet hours is noted in `waiting` instead
        (`wake_waiting`). The files of imports that ended are deleted if still kept."""
        from crm.workers import tasks

        now = self.container.clock()
        idle_since = None if idle_for is None else now - idle_for
        needing = self.container.campaign_queries.campaigns_needing_work(idle_since)
        quiet = self.container.campaign_queries.quiet_hours_of([campaign_id for campaign_id, _, _ in needing])
        for import_id in self.container.import_queries.unfinished(idle_since):
            tasks.run_import.delay(str(import_id))
        self.container.application.let_go_of_ended_imports_files()
        if idle_for is None:
            self.waiting.clear()
        for campaign_id, resolved, batches in needing:
            if not resolved:
                tasks.resolve_audience.delay(str(campaign_id))
            ends = quiet[campaign_id].ends_at(now) if campaign_id in quiet else None
            if ends is not None and batches:  # no sender would send now: queued when they end
                self.waiting[campaign_id] = ends
                continue
            self.waiting.pop(campaign_id, None)
            for number in batches:
                tasks.send_batch.delay(str(campaign_id), number)

    def wake_waiting(self) -> int:
        """Queue the batches of the campaigns whose quiet hours have ended; how many."""
        from crm.workers import tasks

        now = self.container.clock()
        woken = [campaign_id for campaign_id, ends in self.waiting.items() if ends <= now]
        for campaign_id in woken:
            del self.waiting[campaign_id]
            tasks.queue_batches.delay(str(campaign_id))
        return len(woken)

    def start_due(self) -> int:
        """Start the scheduled campaigns whose time has come; how many this call started."""
        application = self.container.application
        started = 0
        for campaign_id in self.container.campaign_queries.due_campaigns(self.container.clock()):
            try:
                started += application.start_due_campaign(campaign_id).position > 0
            except Exception as error:  # one campaign's failure must not hold back the others
                if database_unavailable(error):
                    raise
                log.exception("could not start scheduled campaign %s", campaign_id)
        return started

    def _follow(self) -> None:
        self._position = None  # just became the active follower: trust only the stored position
        self.start_due()
        self.sweep(idle_for=None)
        next_sweep = time.monotonic() + self.sweep_seconds
        next_due = time.monotonic() + self.due_seconds
        listener = events_listener(self.container.engine, "crm-campaign-follower")
        with listener or nullcontext():
            while not self.stop_event.is_set():
                if time.monotonic() >= next_due:
                    self.start_due()
                    self.wake_waiting()
                    next_due = time.monotonic() + self.due_seconds
                moved = self.poll_once()
                if time.monotonic() >= next_sweep:
                    self.sweep(idle_for=timedelta(seconds=2 * self.sweep_seconds))
                    next_sweep = time.monotonic() + self.sweep_seconds
                if not moved:
                    self.stop_event.wait(self.poll_seconds)  # under load: a poll per interval, as before
                    if listener is not None:  # then sleep until a commit, or the next due check
                        until = min(next_due, next_sweep, time.monotonic() + LISTEN_SECONDS)
                        listener.wait(max(0.0, until - time.monotonic()))

    @staticmethod
    def _publish(topic: str, originator_id: str) -> None:
        from crm.workers import tasks

        campaign_id = originator_id
        if topic == IMPORT_STARTED:
            tasks.run_import.delay(originator_id)
        elif topic == STARTED:
            tasks.resolve_audience.delay(campaign_id)
        elif topic in (RESUMED, REQUEUED):
            tasks.queue_batches.delay(campaign_id)
