"""Celery tasks: thin, carrying ids only, safe to run twice."""

from __future__ import annotations

import logging
from uuid import UUID

from celery import shared_task

from crm.cyclic_gc import cycle_collection_paused
from crm.locks import exclusive, import_lock
from crm.workers import runtime
from crm.workers.sender import BatchSender
from crm.write_model.vocabulary import CampaignStatus

IMPORT_SLICE_SECONDS = 5.0

log = logging.getLogger(__name__)


@shared_task(name="crm.resolve_audience", bind=True, max_retries=None)
def resolve_audience(self, campaign_id: str) -> None:
    """Fix a started campaign's audience once, then queue its batches."""
    container = runtime.container()
    app = container.application
    # The read model must include everything up to the start (in background mode, wait for
    # `crm projector`; if it is down, try again shortly rather than resolve from stale rows).
    if not container.read_side.wait_for(container.runner.head(), timeout=30.0):
        log.warning("read model behind the log; resolving campaign %s later", campaign_id)
        raise self.retry(countdown=2)
    campaign = app.campaign(UUID(campaign_id))
    if not campaign.audience_resolved and campaign.status in (CampaignStatus.RUNNING, CampaignStatus.PAUSED):
        ids, unsubscribed = container.campaign_queries.audience(
            campaign.restaurant_id,
            campaign.segment_type,
            campaign.segment_value,
            campaign.started_at,
            campaign.audience_rule,
        )
        ids, cooled = container.campaign_queries.series.without_cooldown(
            ids, campaign.series_id, campaign.cooldown_days, campaign.started_at
        )
        app.plan_audience(campaign.id, ids, unsubscribed, cooled)
    queue_batches.delay(campaign_id)


@shared_task(name="crm.queue_batches")
def queue_batches(campaign_id: str) -> None:
    """Queue every unfinished batch of a running campaign (on resume, and in recovery)."""
    campaign = runtime.container().application.campaign(UUID(campaign_id))
    if campaign.status != CampaignStatus.RUNNING:
        return
    if not campaign.audience_resolved:
        resolve_audience.delay(campaign_id)
        return
    for number in campaign.unfinished_batches:
        send_batch.delay(campaign_id, number)


@shared_task(name="crm.send_batch")
def send_batch(campaign_id: str, number: int) -> None:
    """Send one batch; a batch being sent elsewhere is left to that worker."""
    container = runtime.container()
    with exclusive(container.engine, f"crm:batch:{campaign_id}:{number}") as mine:
        if mine:
            BatchSender(container, runtime.backend(), runtime.markers()).send(UUID(campaign_id), number)


@shared_task(name="crm.run_import")
def run_import(import_id: str) -> None:
    """Import the next rows of an import for a few seconds, then queue the rest (so other work
    interleaves on a busy worker); an import being run elsewhere is left to that worker."""
    container = runtime.container()
    app = container.application
    with exclusive(container.engine, import_lock(import_id)) as mine:
        if not mine:
            return
        # For a slice of seconds: the other threads' cyclic garbage (the embedded worker's web) waits too.
        with cycle_collection_paused():
            app.continue_import(UUID(import_id), seconds=IMPORT_SLICE_SECONDS)
        more = app.import_running(UUID(import_id))
    if more:
        run_import.delay(import_id)
