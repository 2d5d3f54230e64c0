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
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import BinaryIO, Protocol
from uuid import UUID
from zoneinfo import ZoneInfo

from crm.write_model import import_files, import_rows
from crm.write_model.commands import RESTAURANT_LIVE, Recorded, StreamLive
from crm.write_model.errors import ImportNotFound, InvalidInput, RestaurantNotFound, StreamNotLive
from crm.write_model.import_batches import ImportBatches, Turn, done
from crm.write_model.import_rows import CustomerRow, Rejection, SeenInFile, VisitRow
from crm.write_model.imports import Import, import_id
from crm.write_model.vocabulary import IMPORT_BATCH_ROWS, ImportKind, ImportStatus

# A run with a time limit imports for at least this many times as long as it took to read the
# rows done before it again (a 5-second run into a million-row file would only read).
_READ_AGAIN_TIMES = 4
# A kept file whose import is not in the log this long after it was stored is let go: its
# start stopped between storing it and saving the import (which takes a moment).
ABANDONED_UPLOAD_AGE = timedelta(hours=1)
# How often a share waits on the log for the batch before its own to be saved.
_TURN_POLL_SECONDS = 0.003


@dataclass(frozen=True)
class ImportShare:
    """This process's part of an import run by `count` processes at once: the batches after
    line `after` numbered `index` modulo `count`. Each process matches and builds its batches
    while the others save theirs; the saves still go in the file's order, each waiting for the
    batch before it, so the import's progress and a resume after a crash are as in one process.
    `alive` says whether to go on waiting (False once the process that started the shares died)."""

    index: int
    count: int
    after: int
    alive: Callable[[], bool]
    # The file's batches after `after` as `import_batches` reads them, from the process that
    # read the file once for all; of the other shares' batches only the last row (where each
    # ends) is needed. None: this process reads the file itself.
    batches: Iterable[list] | None = None


class ImportAbandoned(Exception):
    """A share stopped waiting for its turn: whoever started it is gone."""


class UploadStore(Protocol):
    """Where an import's file waits until the import is done (a port: the adapters keep it)."""

    def put(self, import_id: UUID, content: BinaryIO, at: datetime) -> None: ...

    def open(self, import_id: UUID) -> BinaryIO | None: ...

    def delete(self, import_id: UUID) -> None: ...

    def kept(self) -> dict[UUID, datetime]: ...  # with when each was stored


class ImportCommands(ImportBatches):
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

        restaurant_live = StreamLive(restaurant_id, RESTAURANT_LIVE)

        def attempt() -> Recorded:
            if self._exists(id):
                return self._unchanged(id, Import)
            if not self.recorder.holds(restaurant_live):  # before the file is stored (checked again in the save)
                raise StreamNotLive(restaurant_id)
            self.uploads.put(id, content, self.clock())  # the file first: a worker may take the import up at once
            started = Import.start(restaurant_id, kind, filename, facts.sha256, facts.rows, actor, self.clock())
            return self._save_recorded(id, started, conditions=[restaurant_live])

        try:
            return self._run(attempt, id)
        except StreamNotLive:  # no such restaurant (or deleted meanwhile): the file goes too
            self.uploads.delete(id)
            raise InvalidInput("restaurant", "no such restaurant") from None

    def continue_import(
        self,
        id: UUID,
        *,
        scope: UUID | None = None,
        seconds: float | None = None,
        on_batch: Callable[[Import], None] | None = None,
        share: ImportShare | None = None,
    ) -> Recorded:
        """Import the rows of a started import not imported yet, batch by batch, and complete it
        (a finished import: nothing to do). With `seconds`, stop after the batch that passes
        them (`import_running` then says whether rows are left). `on_batch` hears of each batch.
        With `share`, only this process's batches, in turn with the other processes (see
        `ImportShare`); the process with the file's last batch completes the import.

        A run fetches the file and reads the rows done before it again (an earlier row makes a
        later one a duplicate), so with `seconds` a later run goes on for at least four times as
        long as that took: however long the file, reading it again stays under a fifth of the
        work."""
        deadline: float | None = None
        holders: dict[UUID, UUID] = {}  # index id -> customer, as found (visits of one customer share them)
        batch = self._import(id, scope)
        last = Recorded(id)
        if batch.status != ImportStatus.RUNNING:
            return last
        try:
            restaurant = self._restaurant(batch.restaurant_id, None)
        except RestaurantNotFound:
            return self._end(batch, "the restaurant was deleted")
        reading_since = time.monotonic()
        after = share.after if share is not None else batch.through_line
        content, reading = None, None  # this process's own reading of the file, if it reads it
        if share is not None and share.batches is not None:
            batches = share.batches
        else:
            content = self.uploads.open(id)
            if content is None:
                return self._end(batch, "the uploaded file is no longer kept")
            batches = reading = self._batches(batch, content, ZoneInfo(restaurant.timezone), after)
        previous, mine = after, share is None or share.index == 0  # the line before a batch; whether it is ours
        try:
            for number, rows in enumerate(batches):
                mine = share is None or number % share.count == share.index
                if not mine:
                    previous = rows[-1].line
                    continue
                if seconds is not None and deadline is None:  # the file fetched and read up to here
                    again = time.monotonic() - reading_since if batch.through_line > 1 else 0.0
                    deadline = time.monotonic() + max(seconds, _READ_AGAIN_TIMES * again)
                turn = self._turn(previous, share)
                try:
                    recorded, batch = self._run(
                        lambda held=batch, rows=rows, turn=turn: self._import_batch(held, rows, holders, turn), id
                    )
                except StreamNotLive:
                    return self._end(batch, "the restaurant was deleted")
                previous = rows[-1].line
                last = recorded if recorded.position else last
                if on_batch is not None:
                    on_batch(batch)
                if deadline is not None and time.monotonic() >= deadline:
                    return last
        finally:
            if reading is not None:
                reading.close()  # before the file it reads
            if content is not None:
                content.close()
        if not mine:  # another share has the last batch, and completes the import
            return last
        recorded = self._end(self._turn(previous, share)(batch), None)
        return recorded if recorded.position else last

    def import_batches(self, id: UUID, after: int) -> Iterator[list[CustomerRow | VisitRow | Rejection]]:
        """The rows of a running import's file after line `after`, checked, in the batches
        `continue_import` imports (none when the import has ended or its restaurant was
        deleted; `FileNotFoundError` when its file is no longer kept: `continue_import` then
        ends it). `crm import` reads the file once with this and hands the batches to its
        processes (`ImportShare.batches`)."""
        batch = self._import(id, None)
        if batch.status != ImportStatus.RUNNING:
            return
        try:
            restaurant = self._restaurant(batch.restaurant_id, None)
        except RestaurantNotFound:
            return
        content = self.uploads.open(id)
        if content is None:
            raise FileNotFoundError(f"the file of import {id} is no longer kept")
        with content:
            yield from self._batches(batch, content, ZoneInfo(restaurant.timezone), after)

    def import_progress(self, id: UUID) -> dict:
        """Where an import stands, read from its events: `rows` in the file, `done` so far, the
        last line gone `through`, `status`."""
        batch = self._import(id, None)
        return {"rows": batch.rows, "done": batch.done, "through": batch.through_line, "status": str(batch.status)}

    def import_running(self, id: UUID) -> bool:
        """Whether an import still has rows to go through."""
        return self._import(id, None).status == ImportStatus.RUNNING

    def let_go_of_ended_imports_files(self) -> list[UUID]:
        """Delete the files still kept for imports that have ended (a runner stopped between an
        import's end and its file's deletion), and those whose import is not in the log an hour
        after they were stored (a start that stopped before its save); the ids let go. A file
        stored more recently whose import is not in the log yet stays: its start may be saving."""
        let_go = []
        abandoned_before = self.clock() - ABANDONED_UPLOAD_AGE
        for id, stored_at in self.uploads.kept().items():
            try:
                ended = not self.import_running(id)
            except ImportNotFound:
                ended = stored_at < abandoned_before
            if ended:
                self.uploads.delete(id)
                let_go.append(id)
        return let_go

    # -- batches ------------------------------------------------------------------------

    def _batches(
        self, batch: Import, content: BinaryIO, zone: ZoneInfo, after: int
    ) -> Iterator[list[CustomerRow | VisitRow | Rejection]]:
        """The file's rows after line `after`, checked, in batches. The rows before are checked
        too: a later row repeating one of them is a duplicate whatever the restarts."""
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
            if row.line <= after:
                continue
            rows.append(checked)
            if len(rows) == IMPORT_BATCH_ROWS:
                yield rows
                rows = []
        if rows:
            yield rows

    def _import_batch(
        self,
        held: Import,
        rows: list[CustomerRow | VisitRow | Rejection],
        holders: dict[UUID, UUID],
        turn: Turn,
    ) -> tuple[Recorded, Import]:
        """One attempt at a batch: the import reloaded (a retry, or another runner, may have
        moved it on), its rows matched to the log and saved with its progress once it is the
        batch's `turn`."""
        batch = self._current_import(held)
        if done(batch, rows[-1].line):
            return Recorded(batch.id), batch  # done by another runner meanwhile
        through = rows[-1].line
        rejections = [row for row in rows if isinstance(row, Rejection)]
        wanted = [row for row in rows if not isinstance(row, Rejection)]
        if batch.kind == ImportKind.CUSTOMERS:
            return self._import_customers(batch, wanted, rejections, through, turn)
        return self._import_visits(batch, wanted, rejections, through, holders, turn)

    def _turn(self, previous: int, share: ImportShare | None) -> Turn:
        """What a batch after line `previous` calls before it records its progress: the import
        as the log holds it once the batches before are saved (in one process they are)."""
        if share is None:
            return lambda batch: batch

        def wait(held: Import) -> Import:
            while True:
                batch = self._current_import(held)
                if done(batch, previous):
                    return batch
                while self.recorder.latest_version(batch.id) == batch.version:
                    if not share.alive():
                        raise ImportAbandoned(batch.id)
                    time.sleep(_TURN_POLL_SECONDS)
                held = batch

        return wait

    # -- helpers ------------------------------------------------------------------------

    def _end(self, held: Import, error: str | None) -> Recorded:
        """Complete the import (or fail it, with `error`; ended already: nothing changes) and let
        its file go."""

        def attempt() -> Recorded:
            batch = self._current_import(held)
            if error is None:
                batch.complete(self.clock())
            else:
                batch.fail(error, self.clock())
            return self._save_recorded(batch.id, batch)

        recorded = self._run(attempt, held.id)
        self.uploads.delete(held.id)
        return recorded
