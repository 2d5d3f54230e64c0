"""Dispatch markers: what a sender last did with each message of a batch, kept in Redis.

Outcomes reach the event log in saves of up to a hundred (crm/workers/sender.py); a worker
killed between a send and the save that records it would send those messages again. So before
each attempt the sender marks the message `sending` with its attempt number, in the same Redis
command that marks the message before it `sent` or `failed`: one round trip per message, much
cheaper than a commit. A sender that takes over the batch reads the markers first: a message
marked sent or failed is recorded as such without being sent again; one marked `sending` was in
flight and is sent again, with its attempts counted on from the marker. So a crash re-sends at
most one message per sending process. (The answer to a mark is read with the next one, so the
round trip overlaps the delivery: see `RedisDispatchMarkers`.)

Markers of a batch live in one hash (`crm:dispatch:<campaign>:<batch>`, field per outreach id),
deleted when the batch finishes and expiring after a week in any case. They hold ids, counts and
the error text (from which delivery backends strip addresses): nothing personal.

With no broker (the embedded default) there is no marker store: a crash of the server can send
again what was sent but not yet recorded, and attempts start again at 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

import redis

SENDING, SENT, FAILED = "sending", "sent", "failed"
TTL_SECONDS = 7 * 24 * 3600


class MarkersUnavailable(Exception):
    """The marker store did not answer."""


@dataclass(frozen=True)
class Marker:
    """One message's last known step: `sending` (attempt `attempts` under way), `sent` or `failed`."""

    attempts: int
    state: str
    error: str | None = None

    def encode(self) -> str:
        return f"{self.attempts} {self.state}" + (f" {self.error}" if self.error is not None else "")

    @classmethod
    def decode(cls, value: bytes | str) -> Marker | None:
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        attempts, _, rest = text.partition(" ")
        state, _, error = rest.partition(" ")
        if not attempts.isdigit() or state not in (SENDING, SENT, FAILED):
            return None  # not ours (or from a future version): as if unmarked
        return cls(int(attempts), state, error if state == FAILED else None)


class DispatchMarkers(Protocol):
    """Where the markers live; every method raises `MarkersUnavailable` when the store is down."""

    enabled: bool

    def recall(self, campaign_id: UUID, number: int) -> dict[UUID, Marker]: ...

    def mark(self, campaign_id: UUID, number: int, markers: dict[UUID, Marker]) -> None: ...

    def forget(self, campaign_id: UUID, number: int) -> None: ...


class NoMarkers:
    """The embedded default: nothing is marked, nothing recalled."""

    enabled = False

    def recall(self, campaign_id: UUID, number: int) -> dict[UUID, Marker]:
        return {}

    def mark(self, campaign_id: UUID, number: int, markers: dict[UUID, Marker]) -> None:
        pass

    def forget(self, campaign_id: UUID, number: int) -> None:
        pass


class RedisDispatchMarkers:
    """Markers in the broker's Redis (1 s timeouts).

    A mark's answer is read just before the next command, not at once: the sender's own work on
    the message (the delivery, the bookkeeping) overlaps Redis's, instead of the process sleeping
    on a round trip each message, which on a busy machine costs a scheduling delay as well. One
    command at most is unanswered, so a process that dies with it leaves either its answer unread
    (Redis has applied it) or nothing unread (its socket closes cleanly and Redis still reads and
    applies it): a mark sent is never lost with its sender.
    """

    enabled = True

    def __init__(self, url: str):
        self.client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        self._connection = None  # the connection marks go out on
        self._unanswered = False

    @staticmethod
    def _key(campaign_id: UUID, number: int) -> str:
        return f"crm:dispatch:{campaign_id}:{number}"

    def recall(self, campaign_id: UUID, number: int) -> dict[UUID, Marker]:
        """Every marked message of the batch (and the batch's markers kept a week from now)."""
        key = self._key(campaign_id, number)
        try:
            self._answered()
            pipe = self.client.pipeline(transaction=False)
            pipe.hgetall(key)
            pipe.expire(key, TTL_SECONDS)
            stored, _ = pipe.execute()
        except redis.RedisError as error:
            raise self._unavailable(error) from error
        recalled = {}
        for field, value in stored.items():
            marker = Marker.decode(value)
            if marker is not None:
                recalled[UUID(field.decode())] = marker
        return recalled

    def mark(self, campaign_id: UUID, number: int, markers: dict[UUID, Marker]) -> None:
        """Send these messages' markers in one command (the answer is read with the next call)."""
        if not markers:
            return
        fields = [part for id, marker in markers.items() for part in (str(id), marker.encode())]
        try:
            self._answered()
            if self._connection is None:
                self._connection = self.client.connection_pool.get_connection()
            self._connection.send_command("HSET", self._key(campaign_id, number), *fields)
            self._unanswered = True
        except redis.RedisError as error:
            raise self._unavailable(error) from error

    def forget(self, campaign_id: UUID, number: int) -> None:
        """Drop a finished batch's markers: its outcomes are all in the log."""
        try:
            self._answered()
            self.client.delete(self._key(campaign_id, number))
        except redis.RedisError as error:
            raise self._unavailable(error) from error

    def _answered(self) -> None:
        if self._unanswered:
            self._unanswered = False
            self._connection.read_response()

    def _unavailable(self, error: redis.RedisError) -> MarkersUnavailable:
        if self._connection is not None:
            self._connection.disconnect()
            self.client.connection_pool.release(self._connection)
            self._connection, self._unanswered = None, False
        return MarkersUnavailable(str(error))


def dispatch_markers(broker_url: str | None) -> DispatchMarkers:
    """Markers in the broker's Redis, or none on the embedded default (or a broker that is not Redis)."""
    if broker_url and broker_url.startswith(("redis://", "rediss://", "unix://")):
        return RedisDispatchMarkers(broker_url)
    return NoMarkers()
