"""How an import's batch is matched to the log and saved: customers through the email and
external-id index aggregates, visits through the customers' indexes and their own ids (see
`importing`, which goes through the file and calls these)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from crm.write_model.commands import CUSTOMER_LIVE, RESTAURANT_LIVE, Commands, Recorded, StreamLive
from crm.write_model.customer_emails import CustomerEmail, customer_email_id
from crm.write_model.customer_external_ids import CustomerExternalId, customer_external_id
from crm.write_model.customers import Customer
from crm.write_model.errors import ImportNotFound, StreamNotLive
from crm.write_model.import_rows import CustomerRow, Rejection, VisitRow
from crm.write_model.imports import Import
from crm.write_model.stable_ids import uuid5
from crm.write_model.visits import Visit
from crm.write_model.vocabulary import ConsentSource, EmailConsent, ImportStatus

Turn = Callable[[Import], Import]  # a batch's wait for its turn to save: the import as it then stands


class ImportBatches(Commands):
    """One batch of an import's rows, matched and saved with the import's progress."""

    _secret: bytes

    def _import_customers(
        self, batch: Import, rows: list[CustomerRow], rejections: list[Rejection], through: int, turn: Turn
    ) -> tuple[Recorded, Import]:
        restaurant_id, actor, at = batch.restaurant_id, batch.actor, self.clock()
        processed = len(rows) + len(rejections)
        rejections = list(rejections)
        email_ids = {row.line: customer_email_id(self._secret, restaurant_id, row.email) for row in rows}
        external_ids = {
            row.line: customer_external_id(self._secret, restaurant_id, row.external_id)
            for row in rows
            if row.external_id
        }
        indexes = self._current([*email_ids.values(), *external_ids.values()])
        holders = [i.customer_id for i in (indexes.get(e) for e in email_ids.values()) if i and i.customer_id]
        customers = self._current(holders)
        changed: list = []
        owners: dict[UUID, UUID] = {}
        counts = {"imported": 0, "updated": 0, "unchanged": 0}
        for row in rows:
            email_index = indexes.get(email_ids[row.line])
            external_index = indexes.get(external_ids.get(row.line))
            holder = email_index.customer_id if email_index is not None else None
            customer_id = holder or uuid5(batch.id, f"customer:{row.line}")
            if external_index is not None and external_index.held_by_another(customer_id):
                rejections.append(Rejection(row.line, "external_id", "external_id taken by another customer"))
                continue
            if holder is not None:
                customer = customers[holder]
                if row.external_id and customer.external_id not in (None, row.external_id):
                    rejections.append(
                        Rejection(row.line, "external_id", "the customer with this email has another external_id")
                    )
                    continue
                self._update_customer(customer, row, actor, at)
            else:
                self.keys.create(customer_id)  # stored with the events it encrypts
                customer = Customer.register(
                    customer_id, restaurant_id, row.email, row.first_name, row.last_name, actor, at, row.external_id
                )
                if email_index is None:
                    email_index = CustomerEmail.claim_new(email_ids[row.line], customer_id, actor, at)
                    indexes[email_index.id] = email_index
                else:
                    email_index.claim(customer_id, actor, at)
                if email_index.suppressed:
                    customer.unsubscribe(ConsentSource.SUPPRESSION, actor, at)
                elif row.consent == EmailConsent.UNSUBSCRIBED:
                    customer.unsubscribe(ConsentSource.IMPORT, actor, at)
                owners[customer_id] = restaurant_id
                changed.append(email_index)
            if row.external_id and (holder is None or customer.external_id != row.external_id):
                customer.assign_external_id(row.external_id, actor, at)  # a new customer has it already
                if external_index is None:
                    external_index = CustomerExternalId.claim_new(external_ids[row.line], customer_id, actor, at)
                    indexes[external_index.id] = external_index
                else:
                    external_index.claim(customer_id, actor, at)
                changed.append(external_index)
            pending = bool(customer.pending_events)
            counts["unchanged" if not pending else "updated" if holder else "imported"] += 1
            if pending:
                changed.append(customer)
        changed = _unique(changed)
        self.mapper.encode_ahead(event for aggregate in changed for event in aggregate.pending_events)
        batch = turn(batch)
        if done(batch, through):
            return Recorded(batch.id), batch
        batch.record_batch(through, processed, counts, _report(rejections), at)
        recorded = self._save_recorded(
            batch.id,
            batch,
            *changed,
            conditions=[StreamLive(restaurant_id, RESTAURANT_LIVE)],
            owners=owners,
        )
        return recorded, batch

    def _update_customer(self, customer: Customer, row: CustomerRow, actor: str, at) -> None:
        """An existing customer takes the row's names (where given) and its unsubscribe."""
        customer.change_details(
            customer.email, row.first_name or customer.first_name, row.last_name or customer.last_name, actor, at
        )
        if row.consent == EmailConsent.UNSUBSCRIBED:
            customer.unsubscribe(ConsentSource.IMPORT, actor, at)

    def _import_visits(
        self,
        batch: Import,
        rows: list[VisitRow],
        rejections: list[Rejection],
        through: int,
        holders: dict[UUID, UUID],
        turn: Turn,
    ) -> tuple[Recorded, Import]:
        restaurant_id, actor, at = batch.restaurant_id, batch.actor, self.clock()
        index_ids = {
            row.line: (
                customer_email_id(self._secret, restaurant_id, row.email)
                if row.email
                else customer_external_id(self._secret, restaurant_id, row.external_id)
            )
            for row in rows
        }
        # A customer found once is found again without a read: one deleted since is caught by
        # the save's conditions, like one deleted after the lookup.
        found = self._current(list(set(index_ids.values()) - holders.keys()))
        holders.update({id: index.customer_id for id, index in found.items() if index.customer_id is not None})
        gone: set[UUID] = set()
        while True:
            visits: dict[UUID, Visit] = {}
            refused = list(rejections)
            for row in rows:
                customer_id = holders.get(index_ids[row.line])
                if customer_id is None or customer_id in gone:
                    refused.append(Rejection(row.line, "email" if row.email else "external_id", "unknown customer"))
                    continue
                visit_id = _visit_id(restaurant_id, customer_id, row)
                if visit_id in visits:
                    refused.append(Rejection(row.line, "visit", "duplicate in file (the same visit twice)"))
                    continue
                visits[visit_id] = Visit.record(visit_id, customer_id, row.spend_cents, row.visited_at, actor, at)
            recorded_before = self.recorder.existing_streams(list(visits))
            new = [visit for visit_id, visit in visits.items() if visit_id not in recorded_before]
            counts = {"imported": len(new), "updated": 0, "unchanged": len(visits) - len(new)}
            self.mapper.encode_ahead(event for visit in new for event in visit.pending_events)
            customers = {visit.customer_id for visit in new}
            try:
                # Checked now, while another share saves its batch; the save then looks only
                # at what the log gained since (the saves go one at a time, in file order).
                conditions = [StreamLive(c, CUSTOMER_LIVE, owner=restaurant_id) for c in customers]
                head = self.recorder.live_since_head(conditions)
                batch = turn(batch)
                if done(batch, through):
                    return Recorded(batch.id), batch
                batch.record_batch(through, len(rows) + len(rejections), counts, _report(refused), at)
                recorded = self._save_recorded(
                    batch.id,
                    batch,
                    *new,
                    conditions=[replace(c, checked_through=head) for c in conditions],
                    owners={visit.id: visit.customer_id for visit in new},
                )
                return recorded, batch
            except StreamNotLive as not_live:  # deleted since it was looked up: its rows are refused
                if not_live.stream_id not in customers:
                    raise
                gone.add(not_live.stream_id)
                for index_id in [i for i, holder in holders.items() if holder == not_live.stream_id]:
                    del holders[index_id]
                batch = self._current_import(batch)

    def _import(self, id: UUID, scope: UUID | None) -> Import:
        try:
            batch = self.repository.get(id)
        except AggregateNotFoundError:
            raise ImportNotFound(id) from None
        if not isinstance(batch, Import) or (scope is not None and batch.restaurant_id != scope):
            raise ImportNotFound(id)
        return batch

    def _current_import(self, held: Import) -> Import:
        """The import as the log holds it: `held` itself unless the log moved on (another
        runner) or `held` is ahead of it (its last save failed), then read again."""
        if self.recorder.latest_version(held.id) == held.version:
            return held
        return self._import(held.id, None)

    def _current(self, ids: Iterable[UUID | None]) -> dict:
        """The aggregates with these ids as the log holds them now, read in one query
        (missing ones left out; customers' personal data decrypted)."""
        wanted = [i for i in set(ids) if i is not None]
        if not wanted:
            return {}
        stored = self.recorder.select_streams(wanted)
        self.mapper.note_erasures(stored)
        self.mapper.preload_keys(stored)
        current: dict = {}
        for event in map(self.mapper.to_domain_event, stored):
            current[event.originator_id] = event.mutate(current.get(event.originator_id))
        return current


def _visit_id(restaurant_id: UUID, customer_id: UUID, row: VisitRow) -> UUID:
    if row.external_visit_id:
        return uuid5(restaurant_id, f"import-visit:{row.external_visit_id}")
    return uuid5(restaurant_id, f"import-visit:{customer_id}:{row.spend_cents}:{row.visited_at.isoformat()}")


def done(batch: Import, through: int) -> bool:
    """Whether the import went through line `through` already, or ended (another runner)."""
    return batch.through_line >= through or batch.status != ImportStatus.RUNNING


def _report(rejections: list[Rejection]) -> list[dict]:
    return [r.as_json() for r in sorted(rejections, key=lambda r: r.line)]


def _unique(aggregates: list) -> list:
    """Each aggregate once, in first-seen order (an index may be changed by two rows)."""
    return list({id(a): a for a in aggregates}.values())
