"""Sends one audience batch: every record not yet final, stopping as soon as the campaign pauses,
and skipping whoever unsubscribed since the audience was resolved."""

from __future__ import annotations

import logging
import time
from uuid import UUID

from crm.bootstrap import Container
from crm.workers.delivery import DeliveryBackend, OutgoingMessage, PermanentDeliveryError, TransientDeliveryError
from crm.write_model import templates
from crm.write_model.outreach import Outreach
from crm.write_model.vocabulary import WORKER_ACTOR as WORKER
from crm.write_model.vocabulary import CampaignStatus, EmailConsent, OutreachStatus, SkipReason

log = logging.getLogger(__name__)
FLUSH_EVERY = 100  # outcomes saved together; at most this many sent-but-unrecorded after a crash
FLUSH_SECONDS = 0.5
# Pause and cancel are read before each message, but not more often than this: a backend that
# takes milliseconds per message is checked every time; an instant one (console) every 2 ms.
STATUS_CHECK_SECONDS = 0.002
# The consent of the next CONSENT_AHEAD recipients is read again before any of them is sent, and
# whenever the last reading is older than this: an unsubscribe is honoured by every message that
# goes out 20 ms after it (a reading of 16 ids at a time costs little at any sending speed).
CONSENT_CHECK_SECONDS = 0.02
CONSENT_AHEAD = 16
BACKOFF_SECONDS = 0.05


class BatchSender:
    """Delivers the messages of one batch through a backend and records every outcome."""

    def __init__(self, container: Container, backend: DeliveryBackend):
        self.app = container.application
        self.queries = container.campaign_queries
        self.backend = backend
        self.links = container.unsubscribe_links
        self.max_attempts = container.settings.delivery_max_attempts

    def send(self, campaign_id: UUID, number: int) -> bool:
        """Work through the batch; True if it finished, False if the campaign stopped first."""
        campaign = self.app.campaign(campaign_id)
        if campaign.status != CampaignStatus.RUNNING:
            return False
        records = self.app.open_batch(campaign_id, number, campaign)
        people = self.queries.recipients([r.customer_id for r in records])
        done: list[Outreach] = []
        flushed_at = checked_at = consent_read_at = time.monotonic()
        consent_through = len(records)  # `people` was read just now, for every recipient
        for index, record in enumerate(records):
            if time.monotonic() - checked_at >= STATUS_CHECK_SECONDS:
                campaign = self.app.campaign(campaign_id, known=campaign)
                checked_at = time.monotonic()
                if campaign.status != CampaignStatus.RUNNING:
                    if campaign.status == CampaignStatus.CANCELLED:  # nothing more will go out: say so
                        for unsent in records[index:]:
                            unsent.skip(SkipReason.CAMPAIGN_CANCELLED, WORKER, self.app.clock())
                        done.extend(records[index:])
                    self.app.record_outcomes(done)
                    return False
            if index >= consent_through or time.monotonic() - consent_read_at >= CONSENT_CHECK_SECONDS:
                upcoming = records[index : index + CONSENT_AHEAD]
                self._recheck_consent(people, upcoming)
                consent_read_at, consent_through = time.monotonic(), index + len(upcoming)
            self._deliver(campaign, record, people.get(record.customer_id))
            done.append(record)
            if len(done) >= FLUSH_EVERY or time.monotonic() - flushed_at > FLUSH_SECONDS:
                self.app.record_outcomes(done)
                done, flushed_at = [], time.monotonic()
        self.app.record_outcomes(done)
        self.app.finish_batch(campaign_id, number, campaign)
        return True

    def _recheck_consent(self, people: dict, waiting: list) -> None:
        """Mark the waiting recipients who unsubscribed since `people` was read."""
        subscribed = [r.customer_id for r in waiting if r.customer_id in people and _subscribed(people[r.customer_id])]
        for customer_id in self.queries.unsubscribed(subscribed):
            people[customer_id]["email_consent"] = EmailConsent.UNSUBSCRIBED

    def _deliver(self, campaign, record: Outreach, person: dict | None) -> None:
        now = self.app.clock
        if person is None:
            record.skip(SkipReason.CUSTOMER_REMOVED, WORKER, now())
            return
        if not _subscribed(person):
            record.skip(SkipReason.UNSUBSCRIBED, WORKER, now())
            return
        cap = (person["frequency_cap_messages"], person["frequency_cap_days"])
        capped = cap[0] > 0
        if capped and not self.app.reserve_contact(campaign.restaurant_id, record.customer_id, campaign.id, cap):
            record.skip(SkipReason.FREQUENCY_CAPPED, WORKER, now())
            return
        self._send(campaign, record, person)
        if capped and record.status != OutreachStatus.SENT:  # not delivered: the message does not count
            self.app.release_contact(campaign.restaurant_id, record.customer_id, campaign.id)

    def _send(self, campaign, record: Outreach, person: dict) -> None:
        now = self.app.clock
        unsubscribe_url = self.links.url(record.customer_id, campaign.id)
        message = OutgoingMessage(
            outreach_id=record.id,
            campaign_id=campaign.id,
            customer_id=record.customer_id,
            to_address=person["email"],
            subject=templates.render(campaign.subject, {**person, "unsubscribe_url": unsubscribe_url}),
            body=templates.render_message(campaign.message_template, person, unsubscribe_url),
            unsubscribe_url=unsubscribe_url,
        )
        for attempt in range(1, self.max_attempts + 1):
            try:
                self.backend.send(message)
            except PermanentDeliveryError as error:
                record.record_failed(attempt, str(error), WORKER, now())
                return
            except TransientDeliveryError as error:
                if attempt == self.max_attempts:
                    record.record_failed(attempt, f"gave up after {attempt} attempts: {error}", WORKER, now())
                    return
                time.sleep(BACKOFF_SECONDS * 2 ** (attempt - 1))
            except Exception as error:  # a backend bug must not lose the batch: record it as a failure
                log.exception("delivery backend %s raised unexpectedly", self.backend.name)
                record.record_failed(attempt, f"unexpected error: {type(error).__name__}", WORKER, now())
                return
            else:
                record.record_sent(attempt, WORKER, now())
                return


def _subscribed(person: dict) -> bool:
    return person["email_consent"] != EmailConsent.UNSUBSCRIBED
