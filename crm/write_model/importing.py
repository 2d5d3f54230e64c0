"""Import commands: bring a CSV file of customers or visits into a restaurant.

`start_import` checks the file at once (a CSV with the needed columns, else `InvalidInput`),
keeps it in the upload store and records `Import.Started`. `continue_import` then goes through
it in batches of rows: each batch's customers or visits are saved with the import's progress in
one transaction, under the single commands' rules (email uniqueness through the index
aggregates, the suppression list, encrypted personal data, the import as actor). A bad row
becomes a rejection in the report; the good rows land. Run again after a crash, it goes on
after the last batch that committed.

Rows are matched to what is there already, so importing a file again changes nothing:
customers by their email's index (an existing customer takes new names, an unsubscribe and a
missing external id; an import never resubscribes anyone), visits by an id derived from
`external_visit_id` or, without one, from the customer, spend and time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO, Protocol
from uuid import UUID, uuid5
from zoneinfo import ZoneInfo

from eventsourcing.application import AggregateNotFoundError

from crm.write_model import import_files, import_rows
from crm.write_model.commands import Commands, Recorded, StreamLive, live_topics
from crm.write_model.customer_emails import CustomerEmail, customer_email_id
from crm.write_model.customer_external_ids import CustomerExternalId, customer_external_id
from crm.write_model.customers import Customer
from crm.write_model.errors import ImportNotFound, InvalidInput, RestaurantNotFound, StreamNotLive
from crm.write_model.import_rows import CustomerRow, Rejection, SeenInFile, VisitRow
from crm.write_model.imports import Import, import_id
from crm.write_model.restaurants import Restaurant
from crm.write_model.visits import Visit
from crm.write_model.vocabulary import IMPORT_BATCH_ROWS, ConsentSource, EmailConsent, ImportKind, ImportStatus

_RESTAURANT_LIVE = live_topics(Restaurant, Restaurant.Deleted)
_CUSTOMER_LIVE = live_topics(Customer, Customer.Deleted)


class UploadStore(Protocol):
    """Where an import's file waits until the import is done (a port: the adapters keep it)."""

    def put(self, import_id: UUID, content: BinaryIO) -> None: ...

    def open(self, import_id: UUID) -> BinaryIO | None: ...

    def delete(self, import_id: UUID) -> None: ...


class ImportCommands(Commands):
    """Commands that import CSV files (the file waits in `uploads`, set by the application)."""

    _secret: bytes
    uploads: UploadStore

    def start_import(
        self,
        restaurant_id: UUID,
        kind: ImportKind,
        filename: str,
        content: BinaryIO,
        *,
        actor: str,
        scope: UUID | None,
    ) -> Recorded:
        """Check a CSV file and start importing it (the Recorded's id is the import's). The same
        file again is the same import: nothing changes, and the caller reads where it stands."""
        if scope is not None and scope != restaurant_id:
            raise InvalidInput("restaurant", "no such restaurant")
        filename = (filename or "upload.csv").strip()[-200:] or "upload.csv"
        facts = import_files.inspect(content, kind)
        id = import_id(restaurant_id, kind, facts.sha256)

        def attempt() -> Recorded:
            if self._exists(id):
                return self._unchanged(id, Import)
            self._restaurant(restaurant_id, scope)
            self.uploads.put(id, content)
            started = Import.start(restaurant_id, kind, filename, facts.sha256, facts.rows, actor, self.clock())
            return self._save_recorded(id, started, conditions=[StreamLive(restaurant_id, _RESTAURANT_LIVE)])

        try:
            return self._run(attempt, id)
        except StreamNotLive:
            raise RestaurantNotFound(restaurant_id) from None

    def continue_import(
        self,
        id: UUID,
        *,
        scope: UUID | None = None,
        seconds: float | None = None,
        on_batch: Callable[[Import], None] | None = None,
    ) -> Recorded:
        """Import the rows of a started import not imported yet, batch by batch, and complete it
        (a finished import: nothing to do). With `seconds`, stop after the batch that passes
        them (`import_running` then says whether rows are left). `on_batch` hears of each batch."""
        deadline = None if seconds is None else time.monotonic() + seconds
        holders: dict[UUID, UUID] = {}  # index id -> customer, as found (visits of one customer share them)
        batch = self._import(id, scope)
        last = Recorded(id)
        if batch.status != ImportStatus.RUNNING:
            return last
        content = self.uploads.open(id)
        if content is None:
            return self._end(batch, "the uploaded file is no longer kept")
        try:
            restaurant = self._restaurant(batch.restaurant_id, None)
        except RestaurantNotFound:
            return self._end(batch, "the restaurant was deleted")
        try:
            for rows in self._batches(batch, content, ZoneInfo(restaurant.timezone)):
                try:
                    recorded, batch = self._run(
                        lambda held=batch, rows=rows: self._import_batch(held, rows, holders), id
                    )
                except StreamNotLive:
                    return self._end(batch, "the restaurant was deleted")
                last = recorded if recorded.position else last
                if on_batch is not None:
                    on_batch(batch)
                if deadline is not None and time.monotonic() >= deadline:
                    return last
        finally:
            content.close()
        recorded = self._end(batch, None)
        return recorded if recorded.position else last

    def import_progress(self, id: UUID) -> dict:
        """Where an import stands, read from its events: `rows` in the file, `done` so far, `status`."""
        batch = self._import(id, None)
        return {"rows": batch.rows, "done": batch.done, "status": str(batch.status)}

    def import_running(self, id: UUID) -> bool:
        """Whether an import still has rows to go through."""
        return self._import(id, None).status == ImportStatus.RUNNING

    # -- batches ------------------------------------------------------------------------

    def _batches(
        self, batch: Import, content: BinaryIO, zone: ZoneInfo
    ) -> Iterator[list[CustomerRow | VisitRow | Rejection]]:
        """The file's rows after the import's last line, checked, in batches. The rows before
        are checked too: a later row repeating one of them is a duplicate whatever the restarts."""
        seen = SeenInFile()
        now = self.clock()
        rows: list[CustomerRow | VisitRow | Rejection] = []
        for row in import_files.read_rows(content, batch.kind):
            if row.extra:
                checked: CustomerRow | VisitRow | Rejection = Rejection(
                    row.line, "file", "more fields than the header has columns"
                )
            elif batch.kind == ImportKind.CUSTOMERS:
                checked = import_rows.customer_row(row)
            else:
                checked = import_rows.visit_row(row, zone, now)
            if not isinstance(checked, Rejection):
                checked = seen.check(checked) or checked
            if row.line <= batch.through_line:
                continue
            rows.append(checked)
            if len(rows) == IMPORT_BATCH_ROWS:
                yield rows
                rows = []
        if rows:
            yield rows

    def _import_batch(
        self, held: Import, rows: list[CustomerRow | VisitRow | Rejection], holders: dict[UUID, UUID]
    ) -> tuple[Recorded, Import]:
        """One attempt at a batch: the import reloaded (a retry, or another runner, may have
        moved it on), its rows matched to the log and saved with its progress."""
        batch = self._current_import(held)
        if batch.through_line >= rows[-1].line or batch.status != ImportStatus.RUNNING:
            return Recorded(batch.id), batch  # done by another runner meanwhile
        through = rows[-1].line
        rejections = [row for row in rows if isinstance(row, Rejection)]
        wanted = [row for row in rows if not isinstance(row, Rejection)]
        if batch.kind == ImportKind.CUSTOMERS:
            return self._import_customers(batch, wanted, rejections, through)
        return self._import_visits(batch, wanted, rejections, through, holders)

    def _import_customers(
        self, batch: Import, rows: list[CustomerRow], rejections: list[Rejection], through: int
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
                    customer_id, restaurant_id, row.email, row.first_name, row.last_name, actor, at
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
            if row.external_id and customer.external_id != row.external_id:
                customer.assign_external_id(row.external_id, actor, at)
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
        batch.record_batch(through, processed, counts, _report(rejections), at)
        recorded = self._save_recorded(
            batch.id,
            batch,
            *_unique(changed),
            conditions=[StreamLive(restaurant_id, _RESTAURANT_LIVE)],
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
        self, batch: Import, rows: list[VisitRow], rejections: list[Rejection], through: int, holders: dict[UUID, UUID]
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
            batch.record_batch(through, len(rows) + len(rejections), counts, _report(refused), at)
            customers = {visit.customer_id for visit in new}
            try:
                recorded = self._save_recorded(
                    batch.id,
                    batch,
                    *new,
                    conditions=[StreamLive(c, _CUSTOMER_LIVE, owner=restaurant_id) for c in customers],
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

    # -- helpers ------------------------------------------------------------------------

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

    def _end(self, batch: Import, error: str | None) -> Recorded:
        """Complete the import (or fail it, with `error`) and let its file go."""
        batch = self._current_import(batch)
        if error is None:
            batch.complete(self.clock())
        else:
            batch.fail(error, self.clock())
        recorded = self._save_recorded(batch.id, batch)
        self.uploads.delete(batch.id)
        return recorded

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


def _report(rejections: list[Rejection]) -> list[dict]:
    return [r.as_json() for r in sorted(rejections, key=lambda r: r.line)]


def _unique(aggregates: list) -> list:
    """Each aggregate once, in first-seen order (an index may be changed by two rows)."""
    return list({id(a): a for a in aggregates}.values())
