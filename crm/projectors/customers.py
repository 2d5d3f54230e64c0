"""CustomerSpendProjector: the `customers` and `visits` tables, with each customer's totals and
consent, and `consent_changes`."""

from __future__ import annotations

from functools import singledispatchmethod
from uuid import UUID

from sqlalchemy import bindparam
from sqlalchemy.orm import Session

from crm.projectors.base import Projector
from crm.projectors.bulk import insert_rows, update_from_arrays
from crm.projectors.customer_statements import (
    ADD_VISITS,
    ADD_VISITS_FROM_ARRAYS,
    ADD_VISITS_ROW,
    ERASE,
    FEW_VISITS,
    INSERT_VISIT,
    chunks,
    personal,
    recount_totals,
    restaurants_of,
)
from crm.read_model.tables import consent_changes, customers, visits
from crm.write_model.customers import Customer
from crm.write_model.visits import Visit
from crm.write_model.vocabulary import EmailConsent


class CustomerSpendProjector(Projector):
    """Customers with their spend totals, first and last visits and last activity (for
    segments), and their visits.

    A customer whose batch only adds visits gets them added to their totals; one whose visits
    were corrected or voided has their totals recomputed from their `visits` rows, so no
    change can leave them off by one event.
    """

    name = "customers"
    tables = (customers, visits, consent_changes)
    replay_indexes = frozenset({"ix_visits_customer_visited"})  # the totals' recount
    # (Corrections and voids recount a customer's totals from their visits: after the lock.
    # A change of consent sets its own customer's row and adds a row to `consent_changes`.)
    unordered_events = (
        Customer.Registered,
        Customer.DetailsChanged,
        Customer.ExternalIdAssigned,
        Customer.Unsubscribed,
        Customer.Resubscribed,
        Customer.Deleted,
        Visit.VisitRecorded,
    )

    # A rebuild replays the customers' own streams, then the visits' streams (each reads
    # only its customer's row, for the restaurant), each group's streams in parallel; the
    # totals are recounted once at the end, in one pass over every visit, which needs no index:
    # so none is kept up to date row by row meanwhile (`phased_replay_indexes`).
    replay_phases = (
        (
            Customer.Registered,
            Customer.DetailsChanged,
            Customer.ExternalIdAssigned,
            Customer.Unsubscribed,
            Customer.Resubscribed,
            Customer.Deleted,
            Customer.Erased,
            Customer.VisitRecorded,  # visits recorded in their customer's stream (older logs)
            Customer.VisitCorrected,
            Customer.VisitVoided,
        ),
        (Visit.VisitRecorded, Visit.VisitCorrected, Visit.VisitVoided),
    )

    @singledispatchmethod
    def handle(self, event: object, session: Session) -> None:
        """Events of other aggregates change nothing here."""

    # A batch is buffered and written in a fixed order of bulk statements (new customers,
    # detail changes, new visits, corrections, voids, deletions, totals). The domain makes
    # that order safe: nothing happens to a customer before it registers or after it is
    # deleted, and nothing to a visit after it is voided; changes within the batch to a row
    # it also creates are folded into that row before it is written.

    def begin_batch(self, session: Session) -> None:
        self._new_customers: dict[UUID, dict] = {}
        self._details: dict[UUID, dict] = {}
        self._external_ids: dict[UUID, dict] = {}
        self._new_visits: dict[UUID, dict] = {}
        self._corrections: dict[UUID, dict] = {}
        self._voids: set[UUID] = set()
        self._deletions: dict[UUID, dict] = {}
        self._consents: dict[UUID, dict] = {}
        self._consent_changes: list[dict] = []
        self._erasures: dict[UUID, dict] = {}
        self._touched: set[UUID] = set()  # totals recounted
        self._added: set[UUID] = set()  # totals added to

    @handle.register
    def _registered(self, event: Customer.Registered, session: Session) -> None:
        self._new_customers[event.originator_id] = {
            "id": event.originator_id,
            "restaurant_id": event.restaurant_id,
            **personal(event.email, event.first_name, event.last_name),
            "total_spend_cents": 0,
            "visit_count": 0,
            "last_visit_at": None,
            "first_visit_at": None,
            "last_active_at": event.timestamp,
            "created_at": event.timestamp,
            "deleted_at": None,
            "email_consent": EmailConsent.SUBSCRIBED.value,
            "email_consent_changed_at": event.timestamp,
            "erased_at": None,
            "external_id": event.external_id,
        }

    @handle.register
    def _details_changed(self, event: Customer.DetailsChanged, session: Session) -> None:
        details = personal(event.email, event.first_name, event.last_name)
        if event.originator_id in self._new_customers:
            self._new_customers[event.originator_id].update(details)
        else:
            self._details[event.originator_id] = {"customer_id": event.originator_id, **details}

    @handle.register
    def _external_id_assigned(self, event: Customer.ExternalIdAssigned, session: Session) -> None:
        if event.originator_id in self._new_customers:
            self._new_customers[event.originator_id]["external_id"] = event.external_id
        else:
            self._external_ids[event.originator_id] = {
                "customer_id": event.originator_id,
                "external_id": event.external_id,
            }

    @handle.register
    def _visit_recorded(self, event: Customer.VisitRecorded, session: Session) -> None:
        self._record(event.visit_id, event.originator_id, event.spend_cents, event.visited_at)

    @handle.register
    def _visit_corrected(self, event: Customer.VisitCorrected, session: Session) -> None:
        self._correct(event.visit_id, event.originator_id, event.spend_cents, event.visited_at)

    @handle.register
    def _visit_voided(self, event: Customer.VisitVoided, session: Session) -> None:
        self._void(event.visit_id, event.originator_id)

    def _record(self, visit_id: UUID, customer_id: UUID, spend_cents: int, visited_at) -> None:
        self._new_visits[visit_id] = {
            "id": visit_id,
            "customer_id": customer_id,
            "spend_cents": spend_cents,
            "visited_at": visited_at,
        }
        self._added.add(customer_id)

    def _correct(self, visit_id: UUID, customer_id: UUID, spend_cents: int, visited_at) -> None:
        change = {"spend_cents": spend_cents, "visited_at": visited_at}
        if visit_id in self._new_visits:
            self._new_visits[visit_id].update(change)
        else:
            self._corrections[visit_id] = {"visit_id": visit_id, **change}
        self._touched.add(customer_id)

    def _void(self, visit_id: UUID, customer_id: UUID) -> None:
        if self._new_visits.pop(visit_id, None) is None:
            self._voids.add(visit_id)
            self._corrections.pop(visit_id, None)
        self._touched.add(customer_id)

    # Visits as their own streams: each event names its customer.

    @handle.register
    def _visit_stream_recorded(self, event: Visit.VisitRecorded, session: Session) -> None:
        self._record(event.originator_id, event.customer_id, event.spend_cents, event.visited_at)

    @handle.register
    def _visit_stream_corrected(self, event: Visit.VisitCorrected, session: Session) -> None:
        self._correct(event.originator_id, event.customer_id, event.spend_cents, event.visited_at)

    @handle.register
    def _visit_stream_voided(self, event: Visit.VisitVoided, session: Session) -> None:
        self._void(event.originator_id, event.customer_id)

    @handle.register
    def _deleted(self, event: Customer.Deleted, session: Session) -> None:
        erased = {"deleted_at": event.timestamp, "external_id": None, **personal("", "", "")}
        self._details.pop(event.originator_id, None)
        self._external_ids.pop(event.originator_id, None)
        if event.originator_id in self._new_customers:
            self._new_customers[event.originator_id].update(erased)
        else:
            self._deletions[event.originator_id] = {"customer_id": event.originator_id, **erased}

    @handle.register
    def _unsubscribed(self, event: Customer.Unsubscribed, session: Session) -> None:
        self._consent(event, EmailConsent.UNSUBSCRIBED)

    @handle.register
    def _resubscribed(self, event: Customer.Resubscribed, session: Session) -> None:
        self._consent(event, EmailConsent.SUBSCRIBED)

    def _consent(self, event: Customer.Event, consent: EmailConsent) -> None:
        change = {"email_consent": consent.value, "email_consent_changed_at": event.timestamp}
        if event.originator_id in self._new_customers:
            self._new_customers[event.originator_id].update(change)
        else:
            self._consents[event.originator_id] = {"customer_id": event.originator_id, **change}
        self._consent_changes.append(
            {
                "customer_id": event.originator_id,
                "version": event.originator_version,
                "email_consent": consent.value,
                "source": event.source,
                "campaign_id": getattr(event, "campaign_id", None),  # an unsubscribe through a link
                "changed_at": event.timestamp,
            }
        )

    @handle.register
    def _erased(self, event: Customer.Erased, session: Session) -> None:
        self._details.pop(event.originator_id, None)
        self._external_ids.pop(event.originator_id, None)
        new = self._new_customers.get(event.originator_id)
        if new is not None:
            new.update(
                personal("", "", ""),
                external_id=None,
                erased_at=event.timestamp,
                deleted_at=new["deleted_at"] or event.timestamp,
            )
        else:
            self._deletions.pop(event.originator_id, None)
            self._erasures[event.originator_id] = {"customer_id": event.originator_id, "at": event.timestamp}

    def end_batch(self, session: Session) -> None:
        if self._new_customers:
            insert_rows(session, customers, list(self._new_customers.values()))
        if self._details:
            session.execute(
                customers.update().where(customers.c.id == bindparam("customer_id")), list(self._details.values())
            )
        if self._external_ids:
            session.execute(
                customers.update().where(customers.c.id == bindparam("customer_id")), list(self._external_ids.values())
            )
        if self._new_visits:
            self._insert_visits(session)
        if self._corrections:
            session.execute(
                visits.update().where(visits.c.id == bindparam("visit_id")), list(self._corrections.values())
            )
        if self._voids:
            session.execute(visits.delete().where(visits.c.id.in_(self._voids)))
        if self._deletions:
            session.execute(
                customers.update().where(customers.c.id == bindparam("customer_id")),
                list(self._deletions.values()),
            )
        if self._consents:
            session.execute(
                customers.update().where(customers.c.id == bindparam("customer_id")), list(self._consents.values())
            )
        if self._consent_changes:
            insert_rows(session, consent_changes, self._consent_changes)
        if self._erasures:
            session.execute(ERASE, list(self._erasures.values()))
        if self.phased:  # the totals are recounted after the last phase
            return
        if self._touched:
            self._recount(session)
        added = self._added - self._touched
        if added:
            self._add_new_visits(session, added)

    def _add_new_visits(self, session: Session, customer_ids: set[UUID]) -> None:
        totals: dict[UUID, dict] = {}
        for visit in self._new_visits.values():
            if visit["customer_id"] in customer_ids:
                row = totals.setdefault(
                    visit["customer_id"],
                    {
                        "customer_id": visit["customer_id"],
                        "spend": 0,
                        "visits": 0,
                        "last_visit": visit["visited_at"],
                        "first_visit": visit["visited_at"],
                    },
                )
                row["spend"] += visit["spend_cents"]
                row["visits"] += 1
                row["last_visit"] = max(row["last_visit"], visit["visited_at"])
                row["first_visit"] = min(row["first_visit"], visit["visited_at"])
        if len(totals) > FEW_VISITS and session.get_bind().dialect.name == "postgresql":
            update_from_arrays(session, customers, ADD_VISITS_FROM_ARRAYS, ADD_VISITS_ROW, list(totals.values()))
        elif totals:
            session.execute(ADD_VISITS, list(totals.values()))

    def _insert_visits(self, session: Session) -> None:
        if len(self._new_visits) <= FEW_VISITS and not self._new_customers:
            # A command's own batch: an INSERT ... SELECT (its restaurant from its customer's
            # row) beats a lookup and a COPY.
            session.execute(INSERT_VISIT, list(self._new_visits.values()))
            return
        # A visit row carries its customer's restaurant: from this batch, else from the table.
        restaurant_of = {id: row["restaurant_id"] for id, row in self._new_customers.items()}
        unknown = {v["customer_id"] for v in self._new_visits.values()} - restaurant_of.keys()
        restaurant_of.update(restaurants_of(session, list(unknown)))
        rows = [
            {**visit, "restaurant_id": restaurant_of[visit["customer_id"]]}
            for visit in self._new_visits.values()
            if visit["customer_id"] in restaurant_of
        ]
        insert_rows(session, visits, rows)

    def finish_phased_replay(self, session: Session) -> None:
        """Recount every customer's totals from their visits, in one statement."""
        session.execute(recount_totals(None))

    def _recount(self, session: Session) -> None:
        # One grouped pass over the touched customers' visits (none left: zero, registration time).
        for chunk in chunks(list(self._touched), 1000):
            session.execute(recount_totals(chunk))
