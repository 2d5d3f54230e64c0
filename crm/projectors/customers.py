"""CustomerSpendProjector: the `customers` and `visits` tables, with each customer's totals."""

from __future__ import annotations

from functools import singledispatchmethod
from uuid import UUID

from sqlalchemy import BigInteger, DateTime, Uuid, func, literal, select
from sqlalchemy.orm import Session

from crm.projectors.base import Projector
from crm.read_model.tables import customers, visits
from crm.write_model.customers import Customer


def _search_text(email: str, first_name: str, last_name: str) -> str:
    return f"{email}\n{first_name} {last_name}".lower()


class CustomerSpendProjector(Projector):
    """Customers with their spend totals and last activity (for segments), and their visits.

    Totals are recomputed from the `visits` rows of the customers a batch touched, so
    corrections and voids can never leave them off by one event.
    """

    name = "customers"
    tables = (customers, visits)

    @singledispatchmethod
    def handle(self, event: object, session: Session) -> None:
        """Events of other aggregates change nothing here."""

    def begin_batch(self, session: Session) -> None:
        self._touched: set[UUID] = set()

    @handle.register
    def _registered(self, event: Customer.Registered, session: Session) -> None:
        session.execute(
            customers.insert().values(
                id=event.originator_id,
                restaurant_id=event.restaurant_id,
                email=event.email,
                first_name=event.first_name,
                last_name=event.last_name,
                search_text=_search_text(event.email, event.first_name, event.last_name),
                total_spend_cents=0,
                visit_count=0,
                last_visit_at=None,
                last_active_at=event.timestamp,
                created_at=event.timestamp,
                deleted_at=None,
            )
        )

    @handle.register
    def _details_changed(self, event: Customer.DetailsChanged, session: Session) -> None:
        session.execute(
            customers.update()
            .where(customers.c.id == event.originator_id)
            .values(
                email=event.email,
                first_name=event.first_name,
                last_name=event.last_name,
                search_text=_search_text(event.email, event.first_name, event.last_name),
            )
        )

    @handle.register
    def _visit_recorded(self, event: Customer.VisitRecorded, session: Session) -> None:
        row = select(
            literal(event.visit_id, Uuid).label("id"),
            customers.c.id.label("customer_id"),
            customers.c.restaurant_id,
            literal(event.spend_cents, BigInteger).label("spend_cents"),
            literal(event.visited_at, DateTime(timezone=True)).label("visited_at"),
        ).where(customers.c.id == event.originator_id)
        session.execute(
            visits.insert().from_select(["id", "customer_id", "restaurant_id", "spend_cents", "visited_at"], row)
        )
        self._touched.add(event.originator_id)

    @handle.register
    def _visit_corrected(self, event: Customer.VisitCorrected, session: Session) -> None:
        session.execute(
            visits.update()
            .where(visits.c.id == event.visit_id)
            .values(spend_cents=event.spend_cents, visited_at=event.visited_at)
        )
        self._touched.add(event.originator_id)

    @handle.register
    def _visit_voided(self, event: Customer.VisitVoided, session: Session) -> None:
        session.execute(visits.delete().where(visits.c.id == event.visit_id))
        self._touched.add(event.originator_id)

    @handle.register
    def _deleted(self, event: Customer.Deleted, session: Session) -> None:
        session.execute(
            customers.update()
            .where(customers.c.id == event.originator_id)
            .values(deleted_at=event.timestamp, email="", first_name="", last_name="", search_text="")
        )

    def end_batch(self, session: Session) -> None:
        if not self._touched:
            return
        of_customer = visits.c.customer_id == customers.c.id
        last_visit = select(func.max(visits.c.visited_at)).where(of_customer).scalar_subquery()
        session.execute(
            customers.update()
            .where(customers.c.id.in_(self._touched))
            .values(
                total_spend_cents=select(func.coalesce(func.sum(visits.c.spend_cents), 0))
                .where(of_customer)
                .scalar_subquery(),
                visit_count=select(func.count()).where(of_customer).scalar_subquery(),
                last_visit_at=last_visit,
                last_active_at=func.coalesce(last_visit, customers.c.created_at),
            )
        )
