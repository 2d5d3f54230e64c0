"""Outreach delivery: one small interface, three backends (console, SMTP, simulated).

A backend sends one message or raises: `TransientDeliveryError` when a retry may succeed,
`PermanentDeliveryError` when it cannot. The outreach id travels with every message as its
idempotency key, so a retried delivery is recognisable downstream.
"""

from __future__ import annotations

import hashlib
import logging
import smtplib
import ssl
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate
from typing import Protocol
from uuid import UUID

from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine

from crm import dialects
from crm.adapters.deliveries import simulated_deliveries
from crm.config import Settings
from crm.logs import without_addresses

log = logging.getLogger("crm.delivery")


@dataclass(frozen=True)
class OutgoingMessage:
    """One outreach to one customer; `outreach_id` is the idempotency key; `unsubscribe_url`
    the one-click link (RFC 8058) that the body carries too."""

    outreach_id: UUID
    campaign_id: UUID
    customer_id: UUID
    to_address: str
    subject: str
    body: str
    unsubscribe_url: str | None = None


class DeliveryError(Exception):
    """A message was not delivered; the text is recorded as the outreach's error message."""


class TransientDeliveryError(DeliveryError):
    """Worth retrying: connection refused, timeouts, SMTP 4xx."""


class PermanentDeliveryError(DeliveryError):
    """Retrying cannot help: SMTP 5xx, recipient refused, bad address."""


class DeliveryBackend(Protocol):
    """Sends one message, or raises a `DeliveryError`. `delivers`: whether a message sent twice
    reaches its recipient twice (then each attempt is marked first: crm/adapters/dispatch_markers.py)."""

    name: str
    delivers: bool

    def send(self, message: OutgoingMessage) -> None: ...


class ConsoleBackend:
    """Logs one line per message with ids and sizes only: no address, subject or body (PII)."""

    name = "console"
    delivers = False  # a log line: sending it again after a crash reaches no one

    def send(self, message: OutgoingMessage) -> None:
        log.info(
            "outreach sent to console outreach_id=%s campaign_id=%s customer_id=%s subject_chars=%d body_chars=%d",
            message.outreach_id,
            message.campaign_id,
            message.customer_id,
            len(message.subject),
            len(message.body),
        )


def _reason(text: str) -> str:
    """Short, and without the addresses servers like to echo back."""
    text = without_addresses(" ".join(text.split()))
    return text if len(text) <= 200 else text[:199] + "…"


def _smtp_error(what: str, code: int, response: bytes | str) -> DeliveryError:
    if isinstance(response, bytes):
        response = response.decode("utf-8", "replace")
    kind = PermanentDeliveryError if 500 <= code < 600 else TransientDeliveryError
    return kind(_reason(f"{what}: SMTP {code} {response}"))


_REFUSED_STEP = {
    smtplib.SMTPSenderRefused: "sender refused",
    smtplib.SMTPDataError: "message refused",
    smtplib.SMTPAuthenticationError: "login failed",
}


def _quit(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except OSError:  # a message already sent stays sent: a failed QUIT must not cause a retry
        smtp.close()


@dataclass
class SmtpBackend:
    """Sends through an SMTP server, one connection per message."""

    name = "smtp"
    delivers = True
    host: str
    port: int
    from_addr: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = False
    timeout: float = 10.0

    def _compose(self, message: OutgoingMessage) -> EmailMessage:
        try:
            recipient = Address(addr_spec=message.to_address)
        except (ValueError, IndexError, HeaderParseError):
            recipient = None
        if recipient is None or not recipient.username or not recipient.domain:
            raise PermanentDeliveryError("invalid recipient address")  # never echo the address itself
        try:
            email = EmailMessage()
            email["From"] = self.from_addr
            email["To"] = recipient
            email["Subject"] = message.subject
            email["Date"] = formatdate(usegmt=True)
            email["Message-ID"] = f"<{message.outreach_id}@crm>"
            if message.unsubscribe_url:  # RFC 2369 and RFC 8058: one-click unsubscribe for mail clients
                email["List-Unsubscribe"] = f"<{message.unsubscribe_url}>"
                email["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
            # quoted-printable keeps non-ASCII bodies 7-bit clean for servers without 8BITMIME
            email.set_content(message.body, charset="utf-8", cte="quoted-printable")
        except (ValueError, IndexError, HeaderParseError) as error:
            raise PermanentDeliveryError(_reason(f"invalid message: {error}")) from None
        return email

    def send(self, message: OutgoingMessage) -> None:
        email = self._compose(message)
        server = f"SMTP server {self.host}:{self.port}"
        try:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            try:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.username:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(email)
            except BaseException:
                smtp.close()  # no QUIT: after a timeout it would wait out the timeout again
                raise
            _quit(smtp)
        except smtplib.SMTPRecipientsRefused as error:
            code, response = next(iter(error.recipients.values()))
            raise _smtp_error("recipient refused", code, response) from None
        except smtplib.SMTPResponseException as error:
            step = _REFUSED_STEP.get(type(error), server)
            raise _smtp_error(step, error.smtp_code, error.smtp_error) from None
        except smtplib.SMTPNotSupportedError as error:
            raise PermanentDeliveryError(_reason(f"{server}: {error}")) from None
        except smtplib.SMTPServerDisconnected as error:
            raise TransientDeliveryError(_reason(f"{server} disconnected: {error}")) from None
        except smtplib.SMTPException as error:  # e.g. no usable AUTH mechanism: configuration
            raise PermanentDeliveryError(_reason(f"{server}: {error}")) from None
        except TimeoutError:
            raise TransientDeliveryError(f"{server} timed out after {self.timeout:g}s") from None
        except OSError as error:  # ConnectionError, DNS failure, TLS handshake
            raise TransientDeliveryError(_reason(f"{server} unreachable: {error}")) from None


class SimulatedBackend:
    """For demos and tests: latency, deterministic failures and a shared record of every send.

    An id's fate follows from `draw(outreach_id)`: below `failure_rate / 2` it fails permanently;
    below `failure_rate` it fails transiently on its first attempt and succeeds on retry. Like a
    provider that honours idempotency keys, it delivers a key once: sending a delivered key
    again is a repeated attempt, acknowledged but not delivered. Attempts and deliveries per key
    are kept in `simulated_deliveries`, shared by every process on the database, so the report
    can tell repeated attempts (expected after a crash) from duplicate deliveries (one customer
    reached twice by one campaign under different keys: never expected).
    """

    name = "simulated"
    delivers = True  # it stands in for a provider

    def __init__(self, engine: Engine, latency_ms: int = 0, failure_rate: float = 0.0):
        if not 0.0 <= failure_rate <= 1.0:
            raise ValueError("failure_rate must be between 0 and 1")
        self.engine = engine
        self.latency_ms = latency_ms
        self.failure_rate = failure_rate

    @staticmethod
    def draw(outreach_id: UUID) -> float:
        """The number in [0, 1) that decides this id's fate, the same in every process."""
        digest = hashlib.sha256(str(outreach_id).encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64

    def send(self, message: OutgoingMessage) -> None:
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000)
        draw = self.draw(message.outreach_id)
        table = simulated_deliveries
        now = datetime.now(timezone.utc)
        with self.engine.begin() as conn:
            stmt = dialects.insert(conn.dialect.name, table).values(
                idempotency_key=message.outreach_id,
                campaign_id=message.campaign_id,
                customer_id=message.customer_id,
                attempts=1,
                deliveries=0,
                last_attempt_at=now,
            )
            stmt = stmt.on_conflict_do_update(
                index_elements=[table.c.idempotency_key],
                set_={"attempts": table.c.attempts + 1, "last_attempt_at": stmt.excluded.last_attempt_at},
            )
            attempt = conn.execute(stmt.returning(table.c.attempts)).scalar_one()
            if draw < self.failure_rate / 2:
                failure = PermanentDeliveryError("simulated permanent failure")
            elif draw < self.failure_rate and attempt == 1:
                failure = TransientDeliveryError("simulated transient failure (first attempt)")
            else:
                failure = None
                conn.execute(
                    update(table)
                    .where(table.c.idempotency_key == message.outreach_id, table.c.delivered_at.is_(None))
                    .values(deliveries=table.c.deliveries + 1, delivered_at=now)
                )
        if failure:  # raised after the commit: the failed attempt stays recorded
            raise failure

    def attempts(self, key: UUID) -> int:
        """How many sends of this idempotency key were attempted, by any process."""
        with self.engine.connect() as conn:
            query = select(simulated_deliveries.c.attempts).where(simulated_deliveries.c.idempotency_key == key)
            return conn.execute(query).scalar_one_or_none() or 0

    def report(self) -> dict[str, int]:
        """Totals over every key: messages, attempts, repeated_attempts, delivered, duplicate_deliveries."""
        table = simulated_deliveries
        query = select(
            func.count(),
            func.coalesce(func.sum(table.c.attempts), 0),
            func.count(table.c.delivered_at),
        )
        per_recipient = (
            select(func.count().label("delivered_keys"))
            .where(table.c.delivered_at.is_not(None))
            .group_by(table.c.campaign_id, table.c.customer_id)
            .subquery()
        )
        extra = select(func.coalesce(func.sum(per_recipient.c.delivered_keys - 1), 0))
        with self.engine.connect() as conn:
            messages, attempts, delivered = (int(n) for n in conn.execute(query).one())
            duplicates = int(conn.execute(extra).scalar_one())
        return {
            "messages": messages,
            "attempts": attempts,
            "repeated_attempts": attempts - messages,
            "delivered": delivered,
            "duplicate_deliveries": duplicates,
        }


def build_backend(settings: Settings, engine: Engine) -> DeliveryBackend:
    """The backend `settings.delivery_backend` names, configured from the settings."""
    if settings.delivery_backend == "smtp":
        return SmtpBackend(
            host=settings.smtp_host,
            port=settings.smtp_port,
            from_addr=settings.smtp_from,
            username=settings.smtp_username,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
        )
    if settings.delivery_backend == "simulated":
        return SimulatedBackend(
            engine, latency_ms=settings.simulated_latency_ms, failure_rate=settings.simulated_failure_rate
        )
    if settings.delivery_backend == "console":
        return ConsoleBackend()
    raise ValueError(f"unknown delivery backend: {settings.delivery_backend!r}")
