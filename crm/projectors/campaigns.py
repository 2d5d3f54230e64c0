"""CampaignsProjector: `campaigns` (with outreach counts), `campaign_batches`, `outreach_events`."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from functools import singledispatchmethod
from uuid import UUID

from sqlalchemy import bindparam, select, text
from sqlalchemy.orm import Session

from crm.projectors.base import Projector
from crm.projectors.bulk import insert_rows
from crm.read_model.tables import campaign_batches, campaigns, outreach_events
from crm.write_model.campaigns import Campaign
from crm.write_model.outreach import AudienceBatch, Outreach, outreach_id
from crm.write_model.vocabulary import CampaignDetails, CampaignStatus, OutreachStatus

_STATUS_EVENTS = {
    Campaign.Started: CampaignStatus.RUNNING,
    Campaign.Paused: CampaignStatus.PAUSED,
    Campaign.Resumed: CampaignStatus.RUNNING,
    Campaign.Cancelled: CampaignStatus.CANCELLED,
    Campaign.Completed: CampaignStatus.COMPLETED,
}
_COUNTED = tuple(OutreachStatus)
_NOT_SCHEDULED = {"scheduled_for": None, "recurrence": None, "recurrence_cooldown_days": None}
# Each batch adds its changes to its campaigns' counts (built once: a batch ends every few ms).
_ADD_COUNTS = (
    campaigns.update()
    .where(campaigns.c.id == bindparam("campaign_id"))
    .values(
        **{status: campaigns.c[status] + bindparam(f"d_{status}") for status in _COUNTED},
        progressed_at=bindparam("at"),
    )
)

_UPDATE_OUTCOMES = (
    "UPDATE {table} AS r SET status = o.status, attempts = o.attempts, error_message = o.error,"
    " sent_at = o.sent_at FROM unnest(CAST(:ids AS uuid[]), CAST(:statuses AS text[]),"
    " CAST(:attempts AS integer[]), CAST(:errors AS text[]), CAST(:sent_at AS timestamptz[]))"
    " AS o(id, status, attempts, error, sent_at) WHERE r.id = o.id"
)


class CampaignsProjector(Projector):
    """Campaigns with their per-status outreach counts, their batches, and every outreach record.

    Outreach rows are written in bulk at the end of each batch (inserts before updates: an
    outreach's updates always follow its insert), and the counts of the campaigns the batch
    touched change by what the batch changed (each outreach from its previous status to its
    new one): a flush costs the same at the first record of a campaign and at the 50,000th.
    """

    name = "campaigns"
    tables = (campaigns, campaign_batches, outreach_events)

    def begin_batch(self, session: Session) -> None:
        self._inserts: list[dict] = []
        self._updates: list[dict] = []
        self._touched: dict[UUID, datetime] = {}

    @singledispatchmethod
    def handle(self, event: object, session: Session) -> None:
        """Events of other aggregates change nothing here."""

    @handle.register
    def _created(self, event: Campaign.Created, session: Session) -> None:
        session.execute(
            campaigns.insert().values(
                id=event.originator_id,
                restaurant_id=event.restaurant_id,
                status=CampaignStatus.DRAFT,
                created_at=event.timestamp,
                batch_count=0,
                excluded_unsubscribed=0,
                excluded_cooldown=0,
                series_id=event.series_id,
                progressed_at=event.timestamp,
                **{column: 0 for column in _COUNTED},
                **_details(event),
            )
        )

    @handle.register
    def _details_changed(self, event: Campaign.DetailsChanged, session: Session) -> None:
        self._update_campaign(session, event, **_details(event))

    @handle.register(Campaign.Started)
    @handle.register(Campaign.Paused)
    @handle.register(Campaign.Resumed)
    @handle.register(Campaign.Cancelled)
    def _status_changed(self, event, session: Session) -> None:
        values = {"status": _STATUS_EVENTS[type(event)]}
        if isinstance(event, (Campaign.Started, Campaign.Cancelled)):
            values.update(_NOT_SCHEDULED)  # (if it was scheduled: no longer)
        if isinstance(event, Campaign.Started):
            values["started_at"] = event.timestamp
        if isinstance(event, (Campaign.Started, Campaign.Resumed)):
            values["progressed_at"] = event.timestamp  # the sweep measures idleness from here
            values["sending_since"] = event.timestamp
        self._update_campaign(session, event, **values)

    @handle.register
    def _scheduled(self, event: Campaign.Scheduled, session: Session) -> None:
        self._update_campaign(
            session,
            event,
            status=CampaignStatus.SCHEDULED,
            scheduled_for=event.scheduled_for,
            recurrence=event.recurrence,
            recurrence_cooldown_days=event.cooldown_days,
        )

    @handle.register
    def _unscheduled(self, event: Campaign.Unscheduled, session: Session) -> None:
        self._update_campaign(session, event, status=CampaignStatus.DRAFT, **_NOT_SCHEDULED)

    @handle.register
    def _occurrence_started(self, event: Campaign.OccurrenceStarted, session: Session) -> None:
        """A series moves on to its next occurrence (the occurrence is a campaign of its own)."""
        self._update_campaign(session, event, scheduled_for=event.next_at)

    @handle.register
    def _completed(self, event: Campaign.Completed, session: Session) -> None:
        self._update_campaign(session, event, status=CampaignStatus.COMPLETED, completed_at=event.timestamp)

    @handle.register
    def _audience_resolved(self, event: Campaign.AudienceResolved, session: Session) -> None:
        self._update_campaign(
            session,
            event,
            audience=event.size,
            batch_count=event.batch_count,
            excluded_unsubscribed=event.excluded_unsubscribed,
            excluded_cooldown=event.excluded_cooldown,
        )

    @handle.register
    def _batch_finished(self, event: Campaign.BatchFinished, session: Session) -> None:
        session.execute(
            campaign_batches.update()
            .where(campaign_batches.c.campaign_id == event.originator_id, campaign_batches.c.number == event.number)
            .values(finished=True)
        )

    @handle.register
    def _failed_requeued(self, event: Campaign.FailedRequeued, session: Session) -> None:
        self._update_campaign(
            session,
            event,
            status=CampaignStatus.RUNNING,
            completed_at=None,
            failed_retried_at=event.timestamp,
            progressed_at=event.timestamp,
            sending_since=event.timestamp,
        )
        session.execute(
            campaign_batches.update()
            .where(campaign_batches.c.campaign_id == event.originator_id, campaign_batches.c.number.in_(event.batches))
            .values(finished=False)
        )

    @handle.register
    def _deleted(self, event: Campaign.Deleted, session: Session) -> None:
        session.execute(campaign_batches.delete().where(campaign_batches.c.campaign_id == event.originator_id))
        session.execute(campaigns.delete().where(campaigns.c.id == event.originator_id))

    @handle.register
    def _batch_planned(self, event: AudienceBatch.Planned, session: Session) -> None:
        session.execute(
            campaign_batches.insert().values(campaign_id=event.campaign_id, number=event.number, finished=False)
        )

    @handle.register
    def _batch_opened(self, event: AudienceBatch.Opened, session: Session) -> None:
        for customer_id in event.customer_ids:
            self._queue(outreach_id(event.campaign_id, customer_id), customer_id, event)

    @handle.register
    def _outcomes_recorded(self, event: AudienceBatch.OutcomesRecorded, session: Session) -> None:
        for outcome in event.outcomes:
            status = outcome["status"]
            self._updates.append(
                {
                    "outreach_id": outreach_id(event.campaign_id, outcome["customer_id"]),
                    "new_status": status,
                    "new_attempts": outcome["attempts"],
                    "new_error": outcome["error"],
                    "new_sent_at": outcome["at"] if status == OutreachStatus.SENT else None,
                    "at": outcome["at"],
                    # A batch records one outcome per recipient, over a queued record: no need
                    # to read the row's status before the update to count the change.
                    "was": (event.campaign_id, OutreachStatus.QUEUED),
                }
            )

    @handle.register
    def _batch_failed_requeued(self, event: AudienceBatch.FailedRequeued, session: Session) -> None:
        for item in event.requeued:
            self._updates.append(
                {
                    "outreach_id": outreach_id(event.campaign_id, item["customer_id"]),
                    "new_status": OutreachStatus.QUEUED,
                    "new_attempts": item["attempts"],
                    "new_error": None,
                    "new_sent_at": None,
                    "at": event.timestamp,
                    "was": (event.campaign_id, OutreachStatus.FAILED),
                }
            )

    # Earlier logs: one Outreach aggregate per message.

    @handle.register
    def _queued(self, event: Outreach.Queued, session: Session) -> None:
        self._queue(event.originator_id, event.customer_id, event)

    @handle.register
    def _sent(self, event: Outreach.Sent, session: Session) -> None:
        self._outcome(event, OutreachStatus.SENT, event.attempts, None, event.timestamp)

    @handle.register
    def _failed(self, event: Outreach.Failed, session: Session) -> None:
        self._outcome(event, OutreachStatus.FAILED, event.attempts, event.error, None)

    @handle.register
    def _skipped(self, event: Outreach.Skipped, session: Session) -> None:
        self._outcome(event, OutreachStatus.SKIPPED, 0, event.reason, None)

    def end_batch(self, session: Session) -> None:
        insert_rows(session, outreach_events, self._inserts)
        deltas: dict[UUID, Counter] = {}
        for row in self._inserts:
            deltas.setdefault(row["campaign_id"], Counter())[OutreachStatus.QUEUED] += 1
        if self._updates:
            # Where one record changes twice in this batch (failed, queued again, sent), its
            # status before the batch is what its first change knew.
            previous = self._previous_statuses(session, [u for u in self._updates if "was" not in u])
            for update in self._updates:
                if "was" in update:
                    previous.setdefault(update["outreach_id"], update["was"])
            self._apply_outcomes(session)
            for update in self._updates:
                if update["outreach_id"] not in previous:
                    continue
                campaign_id, status = previous[update["outreach_id"]]
                previous[update["outreach_id"]] = (campaign_id, update["new_status"])
                delta = deltas.setdefault(campaign_id, Counter())
                delta[status] -= 1
                delta[update["new_status"]] += 1
                self._touched[campaign_id] = max(update["at"], self._touched.get(campaign_id, update["at"]))
        if self._touched:
            self._add_counts(session, deltas)

    def _previous_statuses(self, session: Session, updates: list[dict]) -> dict[UUID, tuple[UUID, str]]:
        """Each updated outreach's campaign and status before this batch's updates (earlier
        logs' outcome events, one per aggregate: read from the rows)."""
        ids = list({u["outreach_id"] for u in updates})
        found: dict[UUID, tuple[UUID, str]] = {}
        for start in range(0, len(ids), 1000):
            rows = session.execute(
                select(outreach_events.c.id, outreach_events.c.campaign_id, outreach_events.c.status).where(
                    outreach_events.c.id.in_(ids[start : start + 1000])
                )
            )
            found.update((id, (campaign_id, status)) for id, campaign_id, status in rows)
        return found

    # -- helpers

    def _queue(self, id: UUID, customer_id: UUID, event) -> None:
        self._inserts.append(
            {
                "id": id,
                "campaign_id": event.campaign_id,
                "customer_id": customer_id,
                "restaurant_id": event.restaurant_id,
                "channel": event.channel,
                "status": OutreachStatus.QUEUED,
                "error_message": None,
                "attempts": 0,
                "sent_at": None,
                "created_at": event.timestamp,
            }
        )
        self._touched[event.campaign_id] = max(event.timestamp, self._touched.get(event.campaign_id, event.timestamp))

    def _apply_outcomes(self, session: Session) -> None:
        updates = list({u["outreach_id"]: u for u in self._updates}.values())  # each record's last change
        if session.get_bind().dialect.name != "postgresql":  # in-process SQLite: executemany is cheap
            session.execute(
                outreach_events.update()
                .where(outreach_events.c.id == bindparam("outreach_id"))
                .values(
                    status=bindparam("new_status"),
                    attempts=bindparam("new_attempts"),
                    error_message=bindparam("new_error"),
                    sent_at=bindparam("new_sent_at"),
                ),
                updates,
            )
            return
        # One UPDATE ... FROM unnest(arrays): a single statement of fixed text (compiled once,
        # whatever the batch holds), where an executemany UPDATE is a round trip a row.
        schema = session.info.get("schema")  # a rebuild writes to its side schema
        table = f'"{schema}".outreach_events' if schema else "outreach_events"
        session.execute(
            text(_UPDATE_OUTCOMES.format(table=table)),
            {
                "ids": [str(u["outreach_id"]) for u in updates],
                "statuses": [str(u["new_status"]) for u in updates],
                "attempts": [u["new_attempts"] for u in updates],
                "errors": [u["new_error"] for u in updates],
                "sent_at": [u["new_sent_at"] for u in updates],
            },
        )

    def _outcome(self, event, status: str, attempts: int, error: str | None, sent_at) -> None:
        self._updates.append(
            {
                "outreach_id": event.originator_id,
                "new_status": status,
                "new_attempts": attempts,
                "new_error": error,
                "new_sent_at": sent_at,
                "at": event.timestamp,
            }
        )

    def _update_campaign(self, session: Session, event, **values) -> None:
        session.execute(campaigns.update().where(campaigns.c.id == event.originator_id).values(**values))

    def _add_counts(self, session: Session, deltas: dict[UUID, Counter]) -> None:
        none = Counter()
        session.execute(
            _ADD_COUNTS,
            [
                {
                    "campaign_id": campaign_id,
                    "at": at,
                    **{f"d_{status}": deltas.get(campaign_id, none)[status] for status in _COUNTED},
                }
                for campaign_id, at in self._touched.items()
            ],
        )


def _details(event) -> dict:
    return {field: getattr(event, field) for field in CampaignDetails.FIELDS}
