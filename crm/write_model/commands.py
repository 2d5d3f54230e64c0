"""How every command runs: serialised per aggregate in this process, retried on conflict,
loaded with the caller's scope checked, and answered with what it recorded."""

from __future__ import annotations

import random
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.persistence import IntegrityError, Recording
from eventsourcing.utils import get_topic

from crm.write_model.base import CrmAggregate
from crm.write_model.campaigns import Campaign
from crm.write_model.customers import Customer
from crm.write_model.errors import (
    CampaignNotFound,
    ConcurrencyConflict,
    CustomerNotFound,
    NotFound,
    PersonalDataGone,
    ReplayOfDeleted,
    RestaurantNotFound,
)
from crm.write_model.restaurants import Restaurant

T = TypeVar("T")
A = TypeVar("A", bound=CrmAggregate)
Clock = Callable[[], datetime]
# Told of every command that ran: its name, seconds it took, conflicts it retried after, and
# whether it succeeded (set by the wiring, e.g. to metrics; a no-op by default).
CommandObserver = Callable[[str, float, int, bool], None]
_STRIPES = 64


def _command_name(frame) -> str:
    """The public method a command came through: the first caller not named `_...` (helpers
    such as `_change` run the commands that call them)."""
    while frame is not None and frame.f_code.co_name.startswith("_"):
        frame = frame.f_back
    return frame.f_code.co_name if frame is not None else "command"


def _unobserved(name: str, seconds: float, retries: int, succeeded: bool) -> None:
    pass


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class Recorded:
    """What a command recorded: the id it is about, and where its events stand in the log.

    `position` is the notification id of the command's last event (0 when it recorded nothing,
    e.g. a replayed request); `topics` name its events' types, so the caller knows which
    projections to wait for before it reads them back.
    """

    id: UUID | None
    position: int = 0
    topics: frozenset[str] = frozenset()

    @classmethod
    def of(cls, id: UUID | None, recordings: Sequence[Recording]) -> Recorded:
        if not recordings:
            return cls(id)
        return cls(
            id,
            max(r.notification.id for r in recordings),
            frozenset(r.notification.topic for r in recordings),
        )


@dataclass(frozen=True)
class StreamLive:
    """A condition of a save, checked by the event store under its insert lock: the newest
    event of stream `id` has one of the `live` topics (so the stream exists, is of the
    expected kind, and has not ended) and, if `owner` is given, that stream owns it (a
    restaurant its customer: tenancy). Else `StreamNotLive`.

    `checked_through`: the log's head when the event store last found it true
    (`live_since_head`); under the lock only the stream's events after it are then looked at,
    since a stream's owner never changes and a stream that ended never lives again."""

    id: UUID
    live: frozenset[str]
    owner: UUID | None = None
    checked_through: int | None = None


@dataclass(frozen=True)
class NoneLive:
    """A condition of a save, checked under the insert lock: of the streams owned by `owner`,
    none has a newest event with one of the `live` topics. Else `StreamsStillLive(count)`."""

    owner: UUID
    live: frozenset[str]


def event_topics(kind: type[CrmAggregate]) -> list[str]:
    """The topics of every event class an aggregate class defines."""
    return [
        get_topic(member)
        for member in vars(kind).values()
        if isinstance(member, type) and issubclass(member, CrmAggregate.Event)
    ]


def live_topics(kind: type[CrmAggregate], *ending: type[CrmAggregate.Event]) -> frozenset[str]:
    """The topics an aggregate's newest event has while it lives: all but the `ending` ones."""
    return frozenset(event_topics(kind)) - {get_topic(event) for event in ending}


RESTAURANT_LIVE = live_topics(Restaurant, Restaurant.Deleted)
CUSTOMER_LIVE = live_topics(Customer, Customer.Deleted)


class Commands(Application):
    """The plumbing every command of the CRM stands on.

    `scope` is the caller's restaurant id (None for an admin): an aggregate of another
    restaurant is reported as not found. `actor` is recorded on every event.
    """

    def __init__(self, env: dict[str, str], *, clock: Clock = utc_now, command_retries: int = 30):
        self.clock = clock
        self.command_retries = command_retries
        self.observe_command: CommandObserver = _unobserved
        self._stripes = [threading.RLock() for _ in range(_STRIPES)]
        super().__init__(env)

    def _run(self, attempt: Callable[[], T], *serialised_on: UUID) -> T:
        """Run a command: queued behind others on the same aggregates in this process, and
        reloaded and retried when a writer elsewhere got there first (optimistic concurrency)."""
        started, retries, succeeded = time.perf_counter(), 0, False
        name = _command_name(sys._getframe(1))
        try:
            with self._serialised(*serialised_on):
                for n in range(self.command_retries):
                    try:
                        result = attempt()
                        succeeded = True
                        return result
                    except IntegrityError:
                        retries += 1
                        time.sleep(random.uniform(0, min(0.25, 0.002 * 2**n)))
            raise ConcurrencyConflict()
        finally:
            self.observe_command(name, time.perf_counter() - started, retries, succeeded)

    def save(self, *objs, **kwargs):
        """The library's save, without its runtime protocol checks (about 15 us per aggregate:
        an import's batch saves thousands): our aggregates are collected directly."""
        processing_event = ProcessingEvent()
        others = []
        for obj in objs:
            if isinstance(obj, CrmAggregate):
                processing_event.events.extend(obj.collect_events())
                processing_event.aggregates[obj.id] = obj
            else:
                others.append(obj)
        processing_event.collect_events(*others, **kwargs)
        recordings = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)
        return recordings

    def _record(self, processing_event):
        # The event store gets the domain events along with their stored form: in inline mode
        # it projects them from memory in the insert's own transaction.
        processing_event.saved_kwargs["originals"] = processing_event.events
        return super()._record(processing_event)

    def _save_recorded(self, id: UUID | None, *aggregates: CrmAggregate, **options: object) -> Recorded:
        """Save the aggregates' new events in one transaction; say what was recorded.

        `options` go to the event store with the events: `conditions` (`StreamLive`,
        `NoneLive`) it checks under its insert lock, `owners` (stream -> owning stream)."""
        recordings = self.save(*aggregates, **options)
        if recordings:
            return Recorded.of(id, recordings)
        if not aggregates:  # nothing was asked to be saved (an empty flush of outcomes)
            return Recorded(id)
        return self._unchanged(id, *{type(aggregate) for aggregate in aggregates})  # e.g. a replayed visit id

    def _unchanged(self, id: UUID | None, *kinds: type[CrmAggregate]) -> Recorded:
        """A command that recorded nothing: what it stands for was recorded before, by itself
        replayed or by another command, somewhere up to the head of the log. So its caller waits
        for the head, in the projections of these aggregates' events, before it reads back."""
        return Recorded(id, self.recorder.head(), frozenset(topic for kind in kinds for topic in event_topics(kind)))

    def _load(self, kind: type[A], aggregate_id: UUID, scope: UUID | None, not_found: type[NotFound]) -> A:
        """The live aggregate, or `not_found` if it is missing, deleted, or outside `scope`."""
        try:
            aggregate = self.repository.get(aggregate_id)
        except (AggregateNotFoundError, PersonalDataGone):  # (gone: an erased customer)
            raise not_found(aggregate_id) from None
        if not isinstance(aggregate, kind) or aggregate.deleted:
            raise not_found(aggregate_id)
        if scope is not None and aggregate.restaurant_id != scope:
            raise not_found(aggregate_id)
        return aggregate

    def _refreshed(self, held: A) -> A:
        """`held` (an aggregate the caller read earlier) brought up to date: one indexed lookup
        when the log holds nothing newer, else only the newer events applied. Never pass one
        whose save failed: it is ahead of the log, perhaps at the log's version."""
        if self.recorder.latest_version(held.id) > held.version:
            for event in self.events.get(held.id, gt=held.version):
                event.mutate(held)
        return held

    def _campaign(self, campaign_id: UUID, scope: UUID | None) -> Campaign:
        return self._load(Campaign, campaign_id, scope, CampaignNotFound)

    def _customer(self, customer_id: UUID, scope: UUID | None) -> Customer:
        return self._load(Customer, customer_id, scope, CustomerNotFound)

    def _restaurant(self, restaurant_id: UUID, scope: UUID | None) -> Restaurant:
        if scope is not None and scope != restaurant_id:  # no need to load it
            raise RestaurantNotFound(restaurant_id)
        return self._load(Restaurant, restaurant_id, scope, RestaurantNotFound)

    def _exists(self, aggregate_id: UUID) -> bool:
        return bool(self.recorder.select_events(aggregate_id, limit=1))

    def _created_before(self, aggregate_id: UUID, kind: str) -> bool:
        """True if a create command with this id already ran (a replay: nothing to do).

        A replay naming something since deleted is refused: the request cannot be honoured.
        """
        if not self._exists(aggregate_id):
            return False
        try:
            deleted = self.repository.get(aggregate_id).deleted
        except PersonalDataGone:  # erased
            deleted = True
        if deleted:
            raise ReplayOfDeleted(kind, aggregate_id)
        return True

    @contextmanager
    def _serialised(self, *aggregate_ids: UUID) -> Iterator[None]:
        # Commands on one aggregate queue up inside a process instead of colliding; across
        # processes, optimistic concurrency and the retries of _run keep them correct.
        stripes = sorted({hash(i) % _STRIPES for i in aggregate_ids})
        with ExitStack() as stack:
            for stripe in stripes:
                stack.enter_context(self._stripes[stripe])
            yield
