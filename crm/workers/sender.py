"""Sends one audience batch: every record not yet final, stopping as soon as the campaign pauses
or its restaurant's quiet hours begin (the rest stays queued: the follower queues the batch again
when they end), and skipping whoever unsubscribed since the audience was resolved. Each attempt
is marked first (crm/adapters/dispatch_markers.py), so a sender taking over after a crash
neither sends again what was sent nor counts attempts from 1."""

from __future__ import annotations

import logging
import time
from uuid import UUID

from crm.adapters.availability import database_unavailable
from crm.adapters.dispatch_markers import FAILED, SENDING, SENT, DispatchMarkers, Marker, MarkersUnavailable, NoMarkers
from crm.bootstrap import Container
from crm.workers.delivery import DeliveryBackend, OutgoingMessage, PermanentDeliveryError, TransientDeliveryError
from crm.write_model import templates
from crm.write_model.outreach import Outreach
from crm.write_model.quiet_hours import QuietHours
from crm.write_model.vocabulary import WORKER_ACTOR as WORKER
from crm.write_model.vocabulary import CampaignStatus, EmailConsent, OutreachStatus, SkipReason

log = logging.getLogger(__name__)
FLUSH_EVERY = 100  # outcomes saved together (the dispatch markers cover those not saved yet)
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

    def __init__(self, container: Container, backend: DeliveryBackend, markers: DispatchMarkers | None = None):
        self.app = container.application
        self.queries = container.campaign_queries
        self.backend = backend
        self.links = container.unsubscribe_links
        self.max_attempts = container.settings.delivery_max_attempts
        # Marking costs a Redis command per message: only worth it where a message sent again
        # reaches someone again (not the console backend's log line).
        self.markers = markers if markers is not None and backend.delivers else NoMarkers()
        self._batch: tuple[UUID, int] | None = None
        self._marking = False
        self._attempted: dict[UUID, int] = {}  # attempts made before a crash, from the markers
        self._unmarked: dict[UUID, Marker] = {}  # outcomes to mark with the next attempt

    def send(self, campaign_id: UUID, number: int) -> bool:
        """Work through the batch; True if it finished, False if the campaign stopped first."""
        campaign = self.app.campaign(campaign_id)
        if campaign.status != CampaignStatus.RUNNING:
            return False
        records = self.app.open_batch(campaign_id, number, campaign)
        done: list[Outreach] = self._recall(campaign_id, number, records)
        records = [r for r in records if not r.is_terminal]
        people = self.queries.recipients([r.customer_id for r in records])
        quiet = _quiet_hours(people)
        quiet_from = None if quiet is None else quiet.next_start(self.app.clock())
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
            if quiet_from is not None and (now := self.app.clock()) >= quiet_from:
                if quiet.ends_at(now) is not None:  # the rest waits, queued, for the sending hours
                    log.info("campaign %s batch %d waits for the restaurant's sending hours", campaign_id, number)
                    self.app.record_outcomes(done)
                    return False
                quiet_from = quiet.next_start(now)
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
        self._forget(campaign_id, number)
        return True

    def _recall(self, campaign_id: UUID, number: int, records: list[Outreach]) -> list[Outreach]:
        """Settle the records whose markers say they were sent or failed before a crash (nothing
        is sent again) and return them; note the attempts of those that were in flight."""
        self._batch, self._marking, self._attempted, self._unmarked = (campaign_id, number), False, {}, {}
        if not self.markers.enabled:
            return []
        try:
            recalled = self.markers.recall(campaign_id, number)
        except MarkersUnavailable as error:
            self._markers_down(error)
            return []
        self._marking = True
        settled = []
        for record in records:
            marker = recalled.get(record.id)
            if marker is None or marker.attempts <= getattr(record, "attempts_before", 0):
                continue  # unmarked, or a marker of the round before a retry-failed
            if marker.state == SENT:
                record.record_sent(marker.attempts, WORKER, self.app.clock())
                settled.append(record)
            elif marker.state == FAILED:
                record.record_failed(marker.attempts, marker.error or "failed", WORKER, self.app.clock())
                settled.append(record)
            else:  # in flight when its sender died: it may or may not have gone out
                self._attempted[record.id] = marker.attempts
        if settled:
            log.info(
                "recorded %d outcomes of campaign %s batch %d from dispatch markers", len(settled), campaign_id, number
            )
        return settled

    def _mark(self, outreach_id: UUID, attempt: int) -> None:
        """Mark an attempt as under way, with the outcomes settled since the last mark."""
        if not self._marking:
            return
        self._unmarked[outreach_id] = Marker(attempt, SENDING)
        try:
            self.markers.mark(*self._batch, self._unmarked)
        except MarkersUnavailable as error:
            self._markers_down(error)
        self._unmarked = {}

    def _settled(self, record: Outreach, attempt: int, error: str | None = None) -> None:
        """Record a delivery's outcome; its marker goes out with the next attempt's."""
        now = self.app.clock()
        if error is None:
            record.record_sent(attempt, WORKER, now)
        else:
            record.record_failed(attempt, error, WORKER, now)
        if self._marking:
            self._unmarked[record.id] = Marker(attempt, SENT if error is None else FAILED, record.error_message)

    def _markers_down(self, error: Exception) -> None:
        self._marking = False
        log.warning(
            "dispatch markers unavailable (%s): until this batch ends, a crash may send again up to %d"
            " messages already sent, and count their attempts from 1",
            error,
            FLUSH_EVERY,
        )

    def _forget(self, campaign_id: UUID, number: int) -> None:
        if self._marking:
            try:
                self.markers.forget(campaign_id, number)
            except MarkersUnavailable:
                pass  # they expire on their own

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
        before = getattr(record, "attempts_before", 0)  # a failure queued again counts on
        first = max(self._attempted.get(record.id, 0), before) + 1
        last = max(first, before + self.max_attempts)  # after a crash mid-attempt, one more try at least
        for attempt in range(first, last + 1):
            self._mark(record.id, attempt)
            try:
                self.backend.send(message)
            except PermanentDeliveryError as error:
                self._settled(record, attempt, str(error))
                return
            except TransientDeliveryError as error:
                if attempt == last:
                    self._settled(record, attempt, f"gave up after {attempt} attempts: {error}")
                    return
                time.sleep(BACKOFF_SECONDS * 2 ** (attempt - first))
            except Exception as error:  # a backend bug must not lose the batch: record it as a failure
                if database_unavailable(error):  # not the message's fault: the task is retried
                    raise
                log.exception("delivery backend %s raised unexpectedly", self.backend.name)
                self._settled(record, attempt, f"unexpected error: {type(error).__name__}")
                return
            else:
                self._settled(record, attempt)
                return


def _quiet_hours(people: dict) -> QuietHours | None:
    """The quiet hours of the restaurant of these recipients (one restaurant: a batch's)."""
    for person in people.values():
        return QuietHours.of(person["quiet_hours_start"], person["quiet_hours_end"], person["restaurant_timezone"])
    return None  # none left to send to: nothing goes out


def _subscribed(person: dict) -> bool:
    return person["email_consent"] != EmailConsent.UNSUBSCRIBED
