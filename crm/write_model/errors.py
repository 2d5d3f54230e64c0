"""Domain errors. The HTTP layer maps each to a status code in one place."""

from __future__ import annotations


class DomainError(Exception):
    """Base class of every error the write model raises on purpose."""


class InvalidInput(DomainError):
    """A value breaks a domain rule; `field` names the offending input."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class NotFound(DomainError):
    """No such aggregate, or it was deleted."""

    def __init__(self, kind: str, id: object):
        super().__init__(f"{kind} {id} not found")
        self.kind = kind
        self.id = id


class RestaurantNotFound(NotFound):
    def __init__(self, id: object):
        super().__init__("restaurant", id)


class CustomerNotFound(NotFound):
    def __init__(self, id: object):
        super().__init__("customer", id)


class VisitNotFound(NotFound):
    def __init__(self, id: object):
        super().__init__("visit", id)


class Conflict(DomainError):
    """The command contradicts the current state (HTTP 409)."""


class SegmentGone(Conflict):
    def __init__(self):
        super().__init__("the campaign's saved segment was deleted: choose another segment before it starts")


class DuplicateEmail(Conflict):
    def __init__(self):
        super().__init__("a customer with this email already exists in this restaurant")


class RestaurantHasCustomers(Conflict):
    def __init__(self, count: int):
        super().__init__(f"the restaurant still has {count} customer(s); delete them first")
        self.count = count


class ConcurrencyConflict(Conflict):
    """The command lost to concurrent writers more often than its retries allow; it may be tried again."""

    def __init__(self):
        super().__init__("too many concurrent changes to the same record")


class ReplayOfDeleted(Conflict):
    """A create command replayed with the id of something it created that has since been deleted."""

    def __init__(self, kind: str, id: object):
        super().__init__(f"{kind} {id} was created by this command once and has since been deleted")
        self.kind = kind
        self.id = id


class SegmentNotFound(NotFound):
    def __init__(self, id: object):
        super().__init__("segment", id)


class ImportNotFound(NotFound):
    def __init__(self, id: object):
        super().__init__("import", id)


class CampaignNotFound(NotFound):
    def __init__(self, id: object):
        super().__init__("campaign", id)


class IllegalTransition(Conflict):
    """A campaign control that its current status does not allow."""

    def __init__(self, action: str, status: str):
        super().__init__(f"cannot {action} a campaign that is {status}")
        self.action = action
        self.status = status


class Unavailable(DomainError):
    """The service cannot take the command right now; the client may retry (HTTP 503)."""


class EventStoreBusy(Unavailable):
    def __init__(self, seconds: float):
        super().__init__(f"the event store stayed locked by another writer for {seconds:g} s")


class StreamNotLive(Exception):
    """A save's `StreamLive` condition did not hold (the command says what that means)."""

    def __init__(self, stream_id):
        super().__init__(f"stream {stream_id} is missing, of another kind, or ended")
        self.stream_id = stream_id


class StreamsStillLive(Exception):
    """A save's `NoneLive` condition did not hold: `count` owned streams are live."""

    def __init__(self, owner, count: int):
        super().__init__(f"{count} streams of {owner} are live")
        self.owner = owner
        self.count = count


class PersonalDataGone(Exception):
    """An aggregate's personal data cannot be read: its key was destroyed (the person erased)."""
